package sns_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/sim/sns"
)

func TestWrap(t *testing.T) {
	event := []byte(`{"version":"0","detail-type":"Batch Job State Change","source":"aws.batch","detail":{"status":"FAILED","statusReason":"Essential container in task exited","note":"line1\nline2 \"quoted\" é"}}`)
	now := time.Date(2026, 11, 21, 10, 0, 0, 123_000_000, time.FixedZone("CET", 3600))
	out := sns.Wrap("arn:aws:sns:eu-west-1:123456789012:batch-events", event, now)

	var n map[string]string
	require.NoError(t, json.Unmarshal(out, &n), "%s", out)
	assert.Equal(t, "Notification", n["Type"])
	assert.Equal(t, "arn:aws:sns:eu-west-1:123456789012:batch-events", n["TopicArn"])
	assert.Equal(t, string(event), n["Message"], "the event travels as a string")
	assert.Equal(t, "2026-11-21T09:00:00.123Z", n["Timestamp"], "UTC, millisecond precision")
	assert.Equal(t, "1", n["SignatureVersion"])
	sig, err := base64.StdEncoding.DecodeString(n["Signature"])
	require.NoError(t, err)
	assert.Len(t, sig, 256)
	_, err = uuid.Parse(n["MessageId"])
	assert.NoError(t, err)
	assert.True(t, strings.HasPrefix(n["SigningCertURL"], "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-"))
	assert.True(t, strings.HasSuffix(n["SigningCertURL"], ".pem"))
	assert.True(t, strings.HasPrefix(n["UnsubscribeURL"], "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:eu-west-1:123456789012:batch-events:"))
	_, hasSubject := n["Subject"]
	assert.False(t, hasSubject, "no Subject field when none was given")
	assert.Len(t, n, 9)

	// SNS's field order and layout.
	keys := []string{"Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL"}
	last := -1
	for _, k := range keys {
		i := strings.Index(string(out), `"`+k+`" : `)
		require.Greater(t, i, last, k)
		last = i
	}
	assert.True(t, strings.HasPrefix(string(out), "{\n  \"Type\" : \"Notification\",\n"))

	// Each notification has its own id.
	var again map[string]string
	require.NoError(t, json.Unmarshal(sns.Wrap("arn:aws:sns:eu-west-1:123456789012:batch-events", event, now), &again))
	assert.NotEqual(t, n["MessageId"], again["MessageId"])
}

func TestWrapSubject(t *testing.T) {
	out := sns.WrapSubject("arn:aws:sns:us-west-2:123456789012:t", "Job failed", []byte("plain text\x01"), time.Unix(0, 0))
	var n map[string]string
	require.NoError(t, json.Unmarshal(out, &n))
	assert.Equal(t, "Job failed", n["Subject"])
	assert.Equal(t, "plain text\x01", n["Message"])
	assert.Less(t, strings.Index(string(out), `"Subject"`), strings.Index(string(out), `"Message"`))
	assert.Contains(t, n["SigningCertURL"], "sns.us-west-2.amazonaws.com")
}

func FuzzWrap(f *testing.F) {
	f.Add([]byte(`{"a":"b"}`))
	f.Add([]byte("\xff\x00\"\\"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var n map[string]string
		if err := json.Unmarshal(sns.Wrap("arn:aws:sns:us-east-1:1:t", msg, time.Now()), &n); err != nil {
			t.Fatal(err)
		}
		if utf8.Valid(msg) && n["Message"] != string(msg) {
			t.Fatalf("message %q came back as %q", msg, n["Message"])
		}
	})
}
