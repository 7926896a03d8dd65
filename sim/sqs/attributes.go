package sqs

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Limits and defaults from the SQS API reference (CreateQueue, SendMessage).
const (
	defaultVisibility   = 30
	maxVisibility       = 43200
	defaultRetention    = 345600
	minRetention        = 60
	maxRetention        = 1209600
	defaultMaxSize      = 1 << 20
	minMaxSize          = 1024
	maxDelay            = 900
	maxWait             = 20
	defaultMaxReceive   = 10
	maxMaxReceive       = 1000
	maxBatchEntries     = 10
	maxMessageAttrs     = 10
	defaultKMSReuse     = 300
	maxQueueNameLen     = 80
	maxBatchEntryIDLen  = 80
	purgeIntervalSecond = 60
)

var (
	queueNameRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	batchEntryIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	attrNameRE     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
)

// queueConfig holds a queue's settable attributes.
type queueConfig struct {
	visibility int
	delay      int
	retention  int
	maxSize    int
	wait       int
	redrive    *redrivePolicy
	// Stored verbatim: accepted for compatibility, no behaviour.
	policy       string
	redriveAllow string
	kmsKey       string
	kmsReuse     int
	sseEnabled   string
}

type redrivePolicy struct {
	dlqARN     string
	dlqName    string
	maxReceive int
}

func (p *redrivePolicy) String() string {
	return fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, p.dlqARN, p.maxReceive)
}

func defaultConfig() queueConfig {
	return queueConfig{
		visibility: defaultVisibility,
		retention:  defaultRetention,
		maxSize:    defaultMaxSize,
		kmsReuse:   defaultKMSReuse,
		sseEnabled: "true",
	}
}

// settable reports the attributes CreateQueue and SetQueueAttributes accept.
func settable(name string) bool {
	switch name {
	case "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "Policy",
		"ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "RedrivePolicy", "RedriveAllowPolicy",
		"KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "FifoQueue":
		return true
	}
	return false
}

// readable reports the names GetQueueAttributes knows, besides All.
func readable(name string) bool {
	switch name {
	case "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
		"ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
		"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit":
		return true
	}
	return settable(name)
}

// dlqLookup resolves a dead-letter target ARN to a queue name in this server.
type dlqLookup func(arn string) (name string, ok bool)

// applyAttributes validates attrs and applies them to cfg.
func applyAttributes(cfg *queueConfig, attrs map[string]string, lookup dlqLookup) error {
	// Sorted so that the first invalid attribute reported is deterministic.
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		v := attrs[name]
		if !settable(name) {
			return errInvalidAttributeName(name)
		}
		var err error
		switch name {
		case "DelaySeconds":
			cfg.delay, err = intAttr(name, v, 0, maxDelay)
		case "MaximumMessageSize":
			cfg.maxSize, err = intAttr(name, v, minMaxSize, defaultMaxSize)
		case "MessageRetentionPeriod":
			cfg.retention, err = intAttr(name, v, minRetention, maxRetention)
		case "ReceiveMessageWaitTimeSeconds":
			cfg.wait, err = intAttr(name, v, 0, maxWait)
		case "VisibilityTimeout":
			cfg.visibility, err = intAttr(name, v, 0, maxVisibility)
		case "KmsDataKeyReusePeriodSeconds":
			cfg.kmsReuse, err = intAttr(name, v, 60, 86400)
		case "Policy":
			if v != "" && !json.Valid([]byte(v)) {
				err = errInvalidAttributeValue("Invalid value for the parameter Policy.")
			}
			cfg.policy = v
		case "RedriveAllowPolicy":
			if v != "" && !json.Valid([]byte(v)) {
				err = errInvalidAttributeValue("Invalid value for the parameter RedriveAllowPolicy.")
			}
			cfg.redriveAllow = v
		case "KmsMasterKeyId":
			cfg.kmsKey = v
		case "SqsManagedSseEnabled":
			if v != "true" && v != "false" {
				err = errInvalidAttributeValue("Invalid value for the parameter SqsManagedSseEnabled.")
			}
			cfg.sseEnabled = v
		case "FifoQueue":
			// FIFO queues are not simulated: batchwatch's pipeline uses
			// standard queues, and a half-done FIFO would mislead.
			if v != "false" {
				err = errInvalidAttributeValue("Invalid value for the parameter FifoQueue. Reason: FIFO queues are not supported by the simulator.")
			}
		case "RedrivePolicy":
			cfg.redrive, err = parseRedrivePolicy(v, lookup)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func intAttr(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, errInvalidAttributeValue("Invalid value for the parameter %s.", name)
	}
	return n, nil
}

func parseRedrivePolicy(v string, lookup dlqLookup) (*redrivePolicy, error) {
	if v == "" || v == "{}" {
		return nil, nil
	}
	var raw struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.", v)
	}
	if raw.DeadLetterTargetArn == "" {
		return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: deadLetterTargetArn.", v)
	}
	p := &redrivePolicy{dlqARN: raw.DeadLetterTargetArn, maxReceive: defaultMaxReceive}
	if len(raw.MaxReceiveCount) > 0 {
		// The console sends a number, the CLI docs a string: accept both.
		s := strings.Trim(string(raw.MaxReceiveCount), `"`)
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxMaxReceive {
			return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: %s, valid values are from 1 to 1000 both inclusive.", v, s)
		}
		p.maxReceive = n
	}
	name, ok := lookup(p.dlqARN)
	if !ok {
		return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.", v)
	}
	p.dlqName = name
	return p, nil
}

// configDiff names the first attribute in attrs whose value differs from
// cfg, for CreateQueue's idempotency check ("" when all match).
func configDiff(cfg queueConfig, attrs map[string]string, lookup dlqLookup) (string, error) {
	want := cfg
	if err := applyAttributes(&want, attrs, lookup); err != nil {
		return "", err
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if attributeValue(cfg, name) != attributeValue(want, name) {
			return name, nil
		}
	}
	return "", nil
}

// attributeValue returns a settable attribute's value as GetQueueAttributes shows it.
func attributeValue(cfg queueConfig, name string) string {
	switch name {
	case "DelaySeconds":
		return strconv.Itoa(cfg.delay)
	case "MaximumMessageSize":
		return strconv.Itoa(cfg.maxSize)
	case "MessageRetentionPeriod":
		return strconv.Itoa(cfg.retention)
	case "ReceiveMessageWaitTimeSeconds":
		return strconv.Itoa(cfg.wait)
	case "VisibilityTimeout":
		return strconv.Itoa(cfg.visibility)
	case "KmsDataKeyReusePeriodSeconds":
		return strconv.Itoa(cfg.kmsReuse)
	case "Policy":
		return cfg.policy
	case "RedriveAllowPolicy":
		return cfg.redriveAllow
	case "KmsMasterKeyId":
		return cfg.kmsKey
	case "SqsManagedSseEnabled":
		return cfg.sseEnabled
	case "FifoQueue":
		return "false"
	case "RedrivePolicy":
		if cfg.redrive == nil {
			return ""
		}
		return cfg.redrive.String()
	}
	return ""
}

// msgAttr is one message attribute (user metadata).
type msgAttr struct {
	name     string
	dataType string
	str      string
	bin      []byte
	binary   bool
}

// attrValueJSON is MessageAttributeValue on the wire.
type attrValueJSON struct {
	DataType         string   `json:"DataType"`
	StringValue      *string  `json:"StringValue,omitempty"`
	BinaryValue      []byte   `json:"BinaryValue,omitempty"`
	StringListValues []string `json:"StringListValues,omitempty"`
	BinaryListValues [][]byte `json:"BinaryListValues,omitempty"`
}

// parseMessageAttributes validates attributes as SendMessage does and
// returns them sorted by name, with their size counted toward the message size.
func parseMessageAttributes(in map[string]attrValueJSON) ([]msgAttr, int, error) {
	if len(in) == 0 {
		return nil, 0, nil
	}
	if len(in) > maxMessageAttrs {
		return nil, 0, errInvalidParameterValue("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(in), maxMessageAttrs)
	}
	out := make([]msgAttr, 0, len(in))
	size := 0
	for name, v := range in {
		lower := strings.ToLower(name)
		if !attrNameRE.MatchString(name) || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return nil, 0, errInvalidParameterValue("Message (user) attribute name '%s' is invalid.", name)
		}
		if v.DataType == "" {
			return nil, 0, errInvalidParameterValue("The message attribute '%s' must contain non-empty message attribute type.", name)
		}
		base, _, _ := strings.Cut(v.DataType, ".")
		a := msgAttr{name: name, dataType: v.DataType}
		switch base {
		case "String", "Number":
			if v.StringValue == nil || *v.StringValue == "" {
				return nil, 0, errInvalidParameterValue("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, base)
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(*v.StringValue, 64); err != nil {
					return nil, 0, errInvalidParameterValue("Can't cast the value of message (user) attribute '%s' to a number.", name)
				}
			}
			if _, bad := invalidRune(*v.StringValue); bad {
				return nil, 0, errInvalidParameterValue("Message (user) attribute '%s' value contains invalid characters.", name)
			}
			a.str = *v.StringValue
			size += len(a.str)
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return nil, 0, errInvalidParameterValue("The message attribute '%s' must contain non-empty message attribute value for message attribute type 'Binary'.", name)
			}
			a.bin, a.binary = v.BinaryValue, true
			size += len(a.bin)
		default:
			return nil, 0, errInvalidParameterValue("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		size += len(name) + len(v.DataType)
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, size, nil
}

// attributesMD5 is SQS's MD5OfMessageAttributes: for each attribute in name
// order, length-prefixed name and type, a transport byte (1 string, 2
// binary) and the length-prefixed value.
func attributesMD5(attrs []msgAttr) string {
	if len(attrs) == 0 {
		return ""
	}
	h := md5.New()
	var n [4]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, a := range attrs {
		put([]byte(a.name))
		put([]byte(a.dataType))
		if a.binary {
			h.Write([]byte{2})
			put(a.bin)
		} else {
			h.Write([]byte{1})
			put([]byte(a.str))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// bodyMD5 is MD5OfMessageBody.
func bodyMD5(body string) string {
	// Hash the string's bytes in place: converting a 1-2 KB event to a
	// []byte would copy it for nothing, hundreds of thousands of times.
	sum := md5.Sum(unsafe.Slice(unsafe.StringData(body), len(body)))
	return hex.EncodeToString(sum[:])
}

// invalidRune reports the first character SQS refuses in a message: only
// #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF are allowed.
func invalidRune(s string) (rune, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return rune(c), true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return rune(c), true
		}
		if (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF {
			return r, true
		}
		i += size
	}
	return 0, false
}

// attrFilter selects message attributes by ReceiveMessage's
// MessageAttributeNames: "All", ".*", "prefix.*" or exact names.
type attrFilter struct {
	all      bool
	names    map[string]bool
	prefixes []string
}

func newAttrFilter(names []string) attrFilter {
	f := attrFilter{}
	for _, n := range names {
		switch {
		case n == "All" || n == ".*":
			f.all = true
		case strings.HasSuffix(n, ".*"):
			f.prefixes = append(f.prefixes, strings.TrimSuffix(n, "*"))
		default:
			if f.names == nil {
				f.names = map[string]bool{}
			}
			f.names[n] = true
		}
	}
	return f
}

func (f attrFilter) empty() bool { return !f.all && len(f.names) == 0 && len(f.prefixes) == 0 }

func (f attrFilter) apply(attrs []msgAttr) []msgAttr {
	if f.all || len(attrs) == 0 {
		return attrs
	}
	var out []msgAttr
	for _, a := range attrs {
		keep := f.names[a.name]
		for _, p := range f.prefixes {
			keep = keep || strings.HasPrefix(a.name, p)
		}
		if keep {
			out = append(out, a)
		}
	}
	return out
}
