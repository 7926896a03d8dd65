package submitter

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// Prepared is a validated plan with its placed items.
type Prepared struct {
	Plan        *Plan
	Assignments []Assignment
	// Skipped are the invalid lines left out with skip-invalid.
	Skipped []LineError
}

// Prepare parses and validates a plan and its items. Any problem in the
// plan is an error. Any invalid item line is an error too, unless
// skipInvalid, which keeps the valid items and reports the others in
// Skipped. The error is a *ValidationError naming files and lines.
func Prepare(planName string, planData []byte, itemsName string, items io.Reader, format string, skipInvalid bool) (*Prepared, error) {
	p, err := ParsePlan(planName, planData)
	if err != nil {
		return nil, err
	}
	if format == "" {
		format = FormatOf(itemsName)
	}
	list, readErrs, err := ReadItems(itemsName, items, format)
	if err != nil {
		return nil, err
	}
	as, bad, err := Load(p, itemsName, list, readErrs, skipInvalid)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("%s: no valid items", itemsName)
	}
	return &Prepared{Plan: p, Assignments: as, Skipped: bad}, nil
}

// NewRunID returns a run id from the time and a random suffix, e.g.
// 20261122-153000-9f2c.
func NewRunID(now time.Time) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}
