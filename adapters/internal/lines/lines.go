// Package lines reads the lines of a text protocol, each ended by "\n" or
// "\r\n", of a bounded length, with errors that say what was expected and
// what came. AMI (asterisk) and the event socket (freeswitch) frame their
// messages with such lines; each adapter says how a line should end and
// which errors to wrap. It imports only the standard library.
package lines

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Reader reads one protocol's lines.
type Reader struct {
	// Max is the longest line, in bytes, its ending included.
	Max int
	// Malformed is wrapped by the error about a longer line.
	Malformed error
	// Cut is wrapped by the error about a line the end of input cut.
	Cut error
	// Ending says what a line should be, in the error about a cut line:
	// `a line ended by \r\n`.
	Ending string
}

// Read reads one line without its "\n" or "\r\n", refusing one longer than
// Max. At the end of input it returns io.EOF when nothing was read, and an
// error wrapping Cut when a line was cut.
func (l Reader) Read(r *bufio.Reader) (string, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > l.Max {
			return "", fmt.Errorf("%w: expected a line of at most %d bytes, got a longer one", l.Malformed, l.Max)
		}
		switch {
		case err == nil:
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
			return string(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return "", fmt.Errorf("%w: expected %s, got %q and the end of the connection", l.Cut, l.Ending, Truncate(string(line), 60))
		default:
			return "", err
		}
	}
}

// Truncate cuts s to n bytes and an ellipsis, for an error message.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
