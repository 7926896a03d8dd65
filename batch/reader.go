package batch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Message is one raw event document read from a file or stream, with where
// it came from ("events.jsonl:42", "dump.json[3]").
type Message struct {
	Body []byte
	Pos  string
}

// Reader reads event documents in any of the forms people keep them: one
// JSON object (pretty or not), a JSON array of objects, JSON lines, or
// several objects one after another.
type Reader struct {
	name string
	br   *bufio.Reader
	mode int
	n    int // documents returned (array index or document number)
	line int // JSON lines: current line number
	dec  *json.Decoder
	err  error
	slab []byte // bodies of JSON lines are cut from here
}

// readSlab is how much room for message bodies a Reader allocates at once:
// one allocation per few hundred events instead of one per event. A slab
// lives as long as any body cut from it.
const readSlab = 1 << 20

const (
	modeUnknown = iota
	modeLines
	modeArray
	modeStream
)

// NewReader reads documents from r; name prefixes positions.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, br: bufio.NewReaderSize(r, 1<<20)}
}

// Next returns the next document. It returns io.EOF at the end. A document
// that is not valid JSON in JSON-lines mode is returned with a nil error so
// the caller can report or quarantine it; structural errors that make the
// rest unreadable are returned as errors naming the position.
func (r *Reader) Next() (Message, error) {
	if r.err != nil {
		return Message{}, r.err
	}
	if r.mode == modeUnknown {
		if err := r.detect(); err != nil {
			r.err = err
			return Message{}, err
		}
	}
	switch r.mode {
	case modeLines:
		return r.nextLine()
	case modeArray:
		return r.nextArray()
	default:
		return r.nextStream()
	}
}

func (r *Reader) detect() error {
	for {
		b, err := r.br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return fmt.Errorf("%s: %w", r.name, err)
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = r.br.ReadByte()
			continue
		case '[':
			r.mode = modeArray
			r.dec = json.NewDecoder(r.br)
			if _, err := r.dec.Token(); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			return nil
		}
		// JSON lines when the first line holds one whole document.
		peek := r.peekLine()
		if i := bytes.IndexByte(peek, '\n'); i >= 0 {
			if json.Valid(bytes.TrimSpace(peek[:i])) {
				r.mode = modeLines
				return nil
			}
		} else if json.Valid(bytes.TrimSpace(peek)) {
			r.mode = modeLines
			return nil
		}
		r.mode = modeStream
		r.dec = json.NewDecoder(r.br)
		return nil
	}
}

// copyBody copies b out of the read buffer (which is reused) into the
// current slab; the result's capacity is its length, so appending to one
// body cannot overwrite the next.
func (r *Reader) copyBody(b []byte) []byte {
	if len(b) > readSlab/8 {
		return append([]byte(nil), b...)
	}
	if cap(r.slab)-len(r.slab) < len(b) {
		r.slab = make([]byte, 0, readSlab)
	}
	start := len(r.slab)
	r.slab = append(r.slab, b...)
	return r.slab[start:len(r.slab):len(r.slab)]
}

// peekLine returns the buffered input up to and including the first
// newline, without consuming it; less at the end of the input or when the
// line does not fit the buffer. It waits only for the bytes it needs, so a
// slow pipe (events trickling into stdin) is read as they come.
func (r *Reader) peekLine() []byte {
	n := 1
	for {
		// What is buffered can be looked at without waiting; one byte
		// more waits for the next read.
		peek, err := r.br.Peek(min(max(n, r.br.Buffered()), r.br.Size()))
		if i := bytes.IndexByte(peek, '\n'); i >= 0 {
			return peek[:i+1]
		}
		if err != nil || len(peek) >= r.br.Size() {
			return peek
		}
		n = len(peek) + 1
	}
}

func (r *Reader) nextLine() (Message, error) {
	for {
		line, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Overlong line: read it whole, it will be reported as is.
			rest := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.br.ReadSlice('\n')
				rest = append(rest, line...)
			}
			line = rest
		}
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				r.err = io.EOF
				return Message{}, io.EOF
			}
			r.err = fmt.Errorf("%s:%d: %w", r.name, r.line+1, err)
			return Message{}, r.err
		}
		r.line++
		body := bytes.TrimSpace(line)
		if len(body) == 0 {
			if err != nil {
				r.err = io.EOF
				return Message{}, io.EOF
			}
			continue
		}
		r.n++
		// ReadSlice's buffer is reused: hand out a copy.
		return Message{Body: r.copyBody(body), Pos: r.name + ":" + strconv.Itoa(r.line)}, nil
	}
}

func (r *Reader) nextArray() (Message, error) {
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil {
			r.err = fmt.Errorf("%s: after element %d: %w", r.name, r.n, err)
			return Message{}, r.err
		}
		r.err = io.EOF
		return Message{}, io.EOF
	}
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		r.err = fmt.Errorf("%s[%d]: %w", r.name, r.n, err)
		return Message{}, r.err
	}
	pos := fmt.Sprintf("%s[%d]", r.name, r.n)
	r.n++
	return Message{Body: raw, Pos: pos}, nil
}

func (r *Reader) nextStream() (Message, error) {
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
			return Message{}, io.EOF
		}
		r.err = fmt.Errorf("%s: document %d: %w", r.name, r.n+1, err)
		return Message{}, r.err
	}
	r.n++
	return Message{Body: raw, Pos: fmt.Sprintf("%s#%d", r.name, r.n)}, nil
}
