package freeswitch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/acdbridge/acdbridge/adapters/internal/lines"
)

// Content types FreeSWITCH's mod_event_socket sends (Content-Type header).
const (
	TypeAuthRequest      = "auth/request"
	TypeCommandReply     = "command/reply"
	TypeAPIResponse      = "api/response"
	TypeDisconnectNotice = "text/disconnect-notice"
	TypeRudeRejection    = "text/rude-rejection"
)

// Limits of the reader: more is an error, not a memory blow-up. Real
// headers are a few dozen bytes; an api/response to our commands is at
// most 64 bytes, an event a few kilobytes.
const (
	maxLineBytes   = 8 << 10
	maxHeaderLines = 256
	MaxBody        = 4 << 20
)

// Header is one "Key: Value" line of an ESL frame.
type Header struct {
	Key, Value string
}

// Frame is one message of the event socket: header lines, an empty line,
// and, when the headers carry Content-Length, a body of exactly that many
// bytes (which need not end with a newline: "agent get status" answers
// "On Break" and nothing more).
type Frame struct {
	Headers []Header
	Body    []byte
}

// Get is the value of the first header named key, compared
// case-insensitively; "" when absent.
func (f Frame) Get(key string) string {
	for _, h := range f.Headers {
		if strings.EqualFold(h.Key, key) {
			return h.Value
		}
	}
	return ""
}

// ContentType is the frame's Content-Type.
func (f Frame) ContentType() string { return f.Get("Content-Type") }

// Bytes is the frame on the wire as FreeSWITCH writes it: "Key: Value\n"
// lines, "\n", the body. The headers are written as they are, Content-Length
// included, so a frame read writes back byte for byte.
func (f Frame) Bytes() []byte {
	var b bytes.Buffer
	for _, h := range f.Headers {
		b.WriteString(h.Key)
		b.WriteString(": ")
		b.WriteString(h.Value)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	b.Write(f.Body)
	return b.Bytes()
}

// ErrMalformed is wrapped by every error about bytes that are not ESL.
var ErrMalformed = errors.New("malformed event socket frame")

// eslLine reads the lines of event socket messages: "\r\n" or "\n" ends each.
var eslLine = lines.Reader{Max: maxLineBytes, Malformed: ErrMalformed, Cut: io.ErrUnexpectedEOF, Ending: `a header line ended by \n`}

func readLine(r *bufio.Reader) (string, error) { return eslLine.Read(r) }

// ReadFrame reads one frame: header lines up to an empty line, then a body
// of Content-Length bytes when that header is there. Empty lines before a
// frame are skipped. It returns io.EOF when the input ends between frames,
// and an error wrapping ErrMalformed or io.ErrUnexpectedEOF for anything
// else that is not a whole frame; it never panics.
func ReadFrame(r *bufio.Reader) (Frame, error) {
	var f Frame
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) && len(f.Headers) > 0 {
				return Frame{}, fmt.Errorf("%w: the connection ended inside a frame's headers after %d lines", io.ErrUnexpectedEOF, len(f.Headers))
			}
			return Frame{}, err
		}
		if line == "" {
			if len(f.Headers) == 0 {
				continue
			}
			break
		}
		if len(f.Headers) == maxHeaderLines {
			return Frame{}, fmt.Errorf("%w: expected at most %d header lines in a frame, got more", ErrMalformed, maxHeaderLines)
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return Frame{}, fmt.Errorf("%w: expected a \"Key: Value\" line, got %q", ErrMalformed, lines.Truncate(line, 60))
		}
		f.Headers = append(f.Headers, Header{Key: key, Value: strings.TrimPrefix(value, " ")})
	}
	cl := f.Get("Content-Length")
	if cl == "" {
		return f, nil
	}
	n, err := strconv.Atoi(cl)
	if err != nil || n < 0 || n > MaxBody || strings.HasPrefix(cl, "+") {
		return Frame{}, fmt.Errorf("%w: expected Content-Length to be a number of bytes from 0 to %d, got %q", ErrMalformed, MaxBody, lines.Truncate(cl, 30))
	}
	// Read as the bytes come, not into a buffer of the size announced.
	body, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return Frame{}, err
	}
	if len(body) < n {
		return Frame{}, fmt.Errorf("%w: expected a body of %d bytes (Content-Length), got %d and the end of the connection", io.ErrUnexpectedEOF, n, len(body))
	}
	f.Body = body
	return f, nil
}

// Agent statuses of mod_callcenter (its AGENT_STATUS_CHART; "Unknown" is
// not one an agent can be set to).
const (
	StatusLoggedOut         = "Logged Out"
	StatusAvailable         = "Available"
	StatusAvailableOnDemand = "Available (On Demand)"
	StatusOnBreak           = "On Break"
)

// Statuses are the statuses an agent can have, in mod_callcenter's order.
var Statuses = []string{StatusLoggedOut, StatusAvailable, StatusAvailableOnDemand, StatusOnBreak}

// APIError is a "-ERR ..." (or "-USAGE: ...") answer to an api command:
// FreeSWITCH understood the command and refused it, so sending it again
// will not help.
type APIError struct {
	Command string // the api command, e.g. "callcenter_config agent get status 1001@default"
	Reply   string // FreeSWITCH's text, without the final newline
}

func (e *APIError) Error() string {
	return fmt.Sprintf("FreeSWITCH refused %q: %s", e.Command, e.Reply)
}

// apiError is an *APIError when body is a refusal, else nil.
func apiError(command string, body []byte) error {
	if bytes.HasPrefix(body, []byte("-ERR")) || bytes.HasPrefix(body, []byte("-USAGE")) {
		return &APIError{Command: command, Reply: strings.TrimRight(string(body), "\n")}
	}
	return nil
}

// ParseStatus reads the body of the api/response to "callcenter_config
// agent get status NAME": the agent's status as stored, without a newline
// ("On Break"), or a refusal ("-ERR Agent not found!\n"). It returns the
// status spelled as in mod_callcenter's chart (mod_callcenter stores what
// it was given, and compares case-insensitively), an *APIError for a
// refusal, or an error wrapping ErrMalformed for anything else.
func ParseStatus(command string, body []byte) (string, error) {
	if err := apiError(command, body); err != nil {
		return "", err
	}
	s := strings.TrimSuffix(string(body), "\n")
	for _, st := range Statuses {
		if strings.EqualFold(s, st) {
			return st, nil
		}
	}
	return "", fmt.Errorf("%w: expected the agent's status (%s) in the answer to %q, got %q", ErrMalformed, strings.Join(Statuses, ", "), command, lines.Truncate(string(body), 60))
}

// ParseOK reads the body of the api/response to "callcenter_config agent
// set status ...": "+OK\n", or an *APIError for a refusal ("-ERR Invalid
// Agent Status!\n"), or an error wrapping ErrMalformed.
func ParseOK(command string, body []byte) error {
	if err := apiError(command, body); err != nil {
		return err
	}
	if strings.TrimSuffix(string(body), "\n") != "+OK" {
		return fmt.Errorf("%w: expected \"+OK\" in the answer to %q, got %q", ErrMalformed, command, lines.Truncate(string(body), 60))
	}
	return nil
}
