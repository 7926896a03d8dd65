package usage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Sender puts usage events on an EventBridge bus with one signed PutEvents
// request: the SDK's signer alone, without its service client and config
// loader (which would triple the wrapper's size; docs/BENCHMARKS.md).
type Sender struct {
	// Endpoint is the EventBridge URL (AWS_ENDPOINT_URL_EVENTBRIDGE,
	// AWS_ENDPOINT_URL or https://events.REGION.amazonaws.com).
	Endpoint string
	Region   string
	// Bus is the event bus name or ARN; "" is the account's default bus.
	Bus         string
	Credentials func(ctx context.Context) (aws.Credentials, error)
	Client      *http.Client
	Now         func() time.Time
}

// SenderFromEnv builds a Sender the way the AWS SDKs read the environment:
// region from AWS_REGION / AWS_DEFAULT_REGION, endpoint from
// AWS_ENDPOINT_URL_EVENTBRIDGE / AWS_ENDPOINT_URL, credentials from the
// environment or the container credentials endpoint (a Batch job role).
func SenderFromEnv(getenv func(string) string, bus string, client *http.Client, now func() time.Time) (*Sender, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return nil, errors.New("no region: set AWS_REGION")
	}
	endpoint := getenv("AWS_ENDPOINT_URL_EVENTBRIDGE")
	if endpoint == "" {
		endpoint = getenv("AWS_ENDPOINT_URL")
	}
	if endpoint == "" {
		endpoint = "https://events." + region + ".amazonaws.com"
	}
	return &Sender{
		Endpoint: endpoint, Region: region, Bus: bus, Client: client, Now: now,
		Credentials: func(ctx context.Context) (aws.Credentials, error) {
			return credentialsFromEnv(ctx, getenv, client)
		},
	}, nil
}

type putEntry struct {
	Source       string
	DetailType   string
	Detail       string
	EventBusName string `json:",omitempty"`
	Time         int64  `json:",omitempty"`
}

// Send puts one usage event. EventBridge answers 200 with a failed entry
// when it refuses the event itself: that is an error too.
func (s *Sender) Send(ctx context.Context, r Record) error {
	detail, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode detail: %w", err)
	}
	body, err := json.Marshal(map[string][]putEntry{"Entries": {{
		Source: Source, DetailType: DetailType, Detail: string(detail),
		EventBusName: s.Bus, Time: r.StoppedAt / 1000,
	}}})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	creds, err := s.Credentials(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.Endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "events", s.Region, s.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return fmt.Errorf("put events: %w", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("put events: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(out))
	}
	var res struct {
		FailedEntryCount int
		Entries          []struct{ ErrorCode, ErrorMessage string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("put events: decode answer: %w", err)
	}
	if res.FailedEntryCount > 0 {
		var e struct{ ErrorCode, ErrorMessage string }
		if len(res.Entries) > 0 {
			e = res.Entries[0]
		}
		return fmt.Errorf("put events: entry refused: %s %s", e.ErrorCode, e.ErrorMessage)
	}
	return nil
}

// credentialsFromEnv takes static keys from the environment, else asks the
// container credentials endpoint that ECS (and so Batch) gives a task with a
// role: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on 169.254.170.2, or
// AWS_CONTAINER_CREDENTIALS_FULL_URI with an authorization token.
func credentialsFromEnv(ctx context.Context, getenv func(string) string, client *http.Client) (aws.Credentials, error) {
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv("AWS_SESSION_TOKEN")}, nil
	}
	u := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if rel := getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		u = "http://169.254.170.2" + rel
	}
	if u == "" {
		return aws.Credentials{}, errors.New("none: no AWS_ACCESS_KEY_ID and no container credentials endpoint (give the job definition a jobRoleArn)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("container credentials: %w", err)
	}
	token := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if f := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("container credentials token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("container credentials: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return aws.Credentials{}, fmt.Errorf("container credentials: HTTP %d", resp.StatusCode)
	}
	var c struct{ AccessKeyId, SecretAccessKey, Token string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&c); err != nil {
		return aws.Credentials{}, fmt.Errorf("container credentials: decode: %w", err)
	}
	if c.AccessKeyId == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, errors.New("container credentials: answer without keys")
	}
	return aws.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.Token}, nil
}
