package asterisk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/acdbridge/acdbridge/adapters/internal/lines"
)

// BannerPrefix starts the line Asterisk sends first on every AMI
// connection. The version after it is the AMI protocol's (11.0.0 in
// Asterisk 22), not Asterisk's own.
const BannerPrefix = "Asterisk Call Manager/"

// Limits of the reader: a message longer than these is an error, not a
// memory blow-up (real messages are a few hundred bytes).
const (
	maxLineBytes   = 8 << 10
	maxHeaderLines = 512
)

// Header is one "Key: Value" line of an AMI message.
type Header struct {
	Key, Value string
}

// Message is one AMI message: an action, a response or an event. Headers
// keep their order and spelling, so a message writes back byte for byte.
type Message []Header

// Get is the value of the first header named key, compared
// case-insensitively as Asterisk does; "" when absent.
func (m Message) Get(key string) string {
	v, _ := m.Lookup(key)
	return v
}

// Lookup is Get, and whether the header is present.
func (m Message) Lookup(key string) (string, bool) {
	for _, h := range m {
		if strings.EqualFold(h.Key, key) {
			return h.Value, true
		}
	}
	return "", false
}

// Bytes is the message on the wire: "Key: Value\r\n" lines and an empty line.
func (m Message) Bytes() []byte {
	var b bytes.Buffer
	for _, h := range m {
		b.WriteString(h.Key)
		b.WriteString(": ")
		b.WriteString(h.Value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// ErrMalformed is wrapped by every error about bytes that are not AMI.
var ErrMalformed = errors.New("malformed AMI message")

// amiLine reads the lines of AMI messages: "\r\n" or "\n" ends each.
var amiLine = lines.Reader{Max: maxLineBytes, Malformed: ErrMalformed, Cut: ErrMalformed, Ending: `a line ended by \r\n`}

func readLine(r *bufio.Reader) (string, error) { return amiLine.Read(r) }

// ReadBanner reads the line Asterisk greets with and returns the AMI
// protocol version in it ("11.0.0").
func ReadBanner(r *bufio.Reader) (string, error) {
	line, err := readLine(r)
	if err != nil {
		return "", fmt.Errorf("reading the AMI banner: %w", err)
	}
	v, ok := strings.CutPrefix(line, BannerPrefix)
	if !ok || v == "" {
		return "", fmt.Errorf("%w: expected the banner %q followed by a version, got %q: is this an Asterisk Manager Interface port?", ErrMalformed, BannerPrefix, lines.Truncate(line, 60))
	}
	return v, nil
}

// ReadMessage reads one message: header lines up to an empty line. Empty
// lines before a message are skipped. It returns io.EOF when the input ends
// between messages, and an error wrapping ErrMalformed or
// io.ErrUnexpectedEOF for anything else that is not a whole message; it
// never panics.
func ReadMessage(r *bufio.Reader) (Message, error) {
	var m Message
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) && len(m) > 0 {
				return nil, fmt.Errorf("%w: the connection ended inside a message after %d lines", io.ErrUnexpectedEOF, len(m))
			}
			return nil, err
		}
		if line == "" {
			if len(m) == 0 {
				continue
			}
			return m, nil
		}
		if len(m) == maxHeaderLines {
			return nil, fmt.Errorf("%w: expected at most %d header lines in a message, got more", ErrMalformed, maxHeaderLines)
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("%w: expected a \"Key: Value\" line, got %q", ErrMalformed, lines.Truncate(line, 60))
		}
		// One space follows the colon; the value keeps any other
		// (and any colon: "Device: Queue:support_pause_...").
		value = strings.TrimPrefix(value, " ")
		m = append(m, Header{Key: key, Value: value})
	}
}
