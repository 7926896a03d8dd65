// Package sns builds Amazon SNS notifications as SNS delivers them to an
// SQS queue subscribed without raw message delivery: a JSON document whose
// Message field holds the published message as a string. The simulator
// uses it for the EventBridge → SNS → SQS pipeline that teams run.
package sns

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Wrap returns the SNS "Notification" for message published to topicARN
// at now, without a subject.
func Wrap(topicARN string, message []byte, now time.Time) []byte {
	return WrapSubject(topicARN, "", message, now)
}

// WrapSubject is Wrap with a Subject (omitted when empty, as SNS does).
//
// The layout follows SNS's own (two-space indent, " : " separators, the
// documented field order). SignatureVersion is 1; the signature cannot be
// AWS's, so it is a digest-derived stand-in of the right size, and the
// certificate and unsubscribe URLs point at the topic's region.
func WrapSubject(topicARN, subject string, message []byte, now time.Time) []byte {
	id := uuid.NewString()
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	region := "us-east-1"
	if parts := strings.Split(topicARN, ":"); len(parts) >= 6 && parts[3] != "" {
		region = parts[3]
	}
	msg := string(message)

	// The string SNS signs (http-notification-json: "Verifying the
	// signatures of Amazon SNS messages").
	var toSign strings.Builder
	toSign.WriteString("Message\n" + msg + "\nMessageId\n" + id + "\n")
	if subject != "" {
		toSign.WriteString("Subject\n" + subject + "\n")
	}
	toSign.WriteString("Timestamp\n" + ts + "\nTopicArn\n" + topicARN + "\nType\nNotification\n")
	sum := sha256.Sum256([]byte(toSign.String()))
	sig := make([]byte, 0, 256)
	for len(sig) < 256 { // an RSA-2048 signature is 256 bytes
		sig = append(sig, sum[:]...)
	}
	certID := sha256.Sum256([]byte(topicARN))

	out := make([]byte, 0, len(message)+len(message)/8+768)
	field := func(k, v string, last bool) {
		out = append(out, `  "`...)
		out = append(out, k...)
		out = append(out, `" : `...)
		out = appendString(out, v)
		if !last {
			out = append(out, ',')
		}
		out = append(out, '\n')
	}
	out = append(out, "{\n"...)
	field("Type", "Notification", false)
	field("MessageId", id, false)
	field("TopicArn", topicARN, false)
	if subject != "" {
		field("Subject", subject, false)
	}
	field("Message", msg, false)
	field("Timestamp", ts, false)
	field("SignatureVersion", "1", false)
	field("Signature", base64.StdEncoding.EncodeToString(sig), false)
	field("SigningCertURL", "https://sns."+region+".amazonaws.com/SimpleNotificationService-"+hexString(certID[:16])+".pem", false)
	field("UnsubscribeURL", "https://sns."+region+".amazonaws.com/?Action=Unsubscribe&SubscriptionArn="+topicARN+":"+uuid.NewString(), true)
	return append(out, '}')
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0x0f]
	}
	return string(out)
}

// appendString appends s as a JSON string the way SNS writes them: quotes,
// backslashes and control characters escaped, "/" and non-ASCII kept;
// invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const digits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', digits[c>>4], digits[c&0x0f])
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
