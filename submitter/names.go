package submitter

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Job names are deterministic: the same run id, item key and attempt always
// give the same name, so a re-run can find by name (ListJobs with a JOB_NAME
// filter) a job whose submission it never saw confirmed. Every name of a
// run starts with RunNamePrefix, so one filtered listing per queue finds
// them all.

var runIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidRunID checks a run id: up to 64 letters, digits, '.', '_' and '-',
// starting with a letter or digit (it is used in tags and manifest paths).
func ValidRunID(id string) error {
	if !runIDRE.MatchString(id) {
		return fmt.Errorf("run id %q: use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", id)
	}
	return nil
}

func hexHash(n int, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:n]
}

// slug keeps the characters job names allow, at most n of them.
func slug(s string, n int) string {
	s = jobNameCharRE.ReplaceAllString(s, "-")
	s = strings.Trim(s, "-_")
	if len(s) > n {
		s = strings.TrimRight(s[:n], "-_")
	}
	return s
}

// RunNamePrefix is the start of every job name of a run:
// <prefix>-<8 hex of the run id's hash>-.
func RunNamePrefix(prefix, runID string) string {
	p := slug(prefix, 40)
	if p == "" {
		p = "bw"
	}
	return p + "-" + hexHash(8, runID) + "-"
}

// ItemJobName names the single job of one item's attempt:
// <run prefix><tier>-<key>-<12 hex>, at most 128 characters.
func ItemJobName(prefix, runID, tier, key string, attempt int) string {
	name := RunNamePrefix(prefix, runID) + slug(tier, 16) + "-"
	if k := slug(key, 40); k != "" {
		name += k + "-"
	}
	return name + hexHash(12, runID, string(KindItem), key, strconv.Itoa(attempt))
}

// ArrayJobName names an array job by its first item and size, unique within
// the run: an item is in at most one array per attempt.
func ArrayJobName(prefix, runID, tier string, attempt int, firstKey string, size int) string {
	return RunNamePrefix(prefix, runID) + slug(tier, 16) + "-array-" +
		hexHash(12, runID, "array", firstKey, strconv.Itoa(attempt), strconv.Itoa(size))
}

// AuxJobName names a fan-in or barrier job by its key.
func AuxJobName(prefix, runID string, kind Kind, label, key string) string {
	return RunNamePrefix(prefix, runID) + slug(label, 40) + "-" + hexHash(12, runID, string(kind), key)
}
