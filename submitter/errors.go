package submitter

import (
	"fmt"
	"sort"
	"strings"
)

// LineError is one problem in an input file, located by file and line.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e LineError) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ValidationError lists every problem found in a plan or an items file.
// Nothing is submitted while a plan has errors, nor while items have errors
// unless invalid items are skipped on purpose.
type ValidationError struct {
	Errors []LineError
}

// maxListedErrors bounds the message of a ValidationError; the full list
// stays in Errors.
const maxListedErrors = 20

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invalid line(s):", len(e.Errors))
	for i, le := range e.Errors {
		if i == maxListedErrors {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Errors)-maxListedErrors)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(le.Error())
	}
	return b.String()
}

// errs collects LineErrors of one file.
type errs struct {
	file string
	list []LineError
}

func (e *errs) add(line int, format string, args ...any) {
	e.list = append(e.list, LineError{File: e.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	sort.SliceStable(e.list, func(i, j int) bool { return e.list[i].Line < e.list[j].Line })
	return &ValidationError{Errors: e.list}
}
