package lines

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

var errBad = errors.New("bad")

var crlf = Reader{Max: 16, Malformed: errBad, Cut: io.ErrUnexpectedEOF, Ending: `a line ended by \r\n`}

func TestRead(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // the lines read, in order
		end      error    // the error after them
		msg      string   // its message, when not io.EOF
	}{
		{"crlf and lf", "a: 1\r\nb\n\r\n", []string{"a: 1", "b", ""}, io.EOF, ""},
		{"a lone cr stays", "a\rb\n", []string{"a\rb"}, io.EOF, ""},
		{"at the bound", strings.Repeat("x", 14) + "\r\n", []string{strings.Repeat("x", 14)}, io.EOF, ""},
		{"over the bound", strings.Repeat("x", 15) + "\r\n", nil, errBad, "bad: expected a line of at most 16 bytes, got a longer one"},
		{"cut", "a\nbc", []string{"a"}, io.ErrUnexpectedEOF, `unexpected EOF: expected a line ended by \r\n, got "bc" and the end of the connection`},
		{"empty", "", nil, io.EOF, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A small buffer: lines longer than it come in pieces.
			r := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
			var got []string
			var err error
			for {
				var line string
				if line, err = crlf.Read(r); err != nil {
					break
				}
				got = append(got, line)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("lines %q, want %q", got, tc.want)
			}
			if !errors.Is(err, tc.end) || tc.msg != "" && err.Error() != tc.msg {
				t.Fatalf("error %v, want %v %q", err, tc.end, tc.msg)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{{"abc", "abc"}, {"abcd", "abc…"}, {"", ""}} {
		if got := Truncate(tc.in, 3); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRead: every line read is bounded, has no "\n" and no "\r" at its
// end, and the lines with their endings are the input read so far.
func FuzzRead(f *testing.F) {
	for _, s := range []string{"a: 1\r\n\r\n", "a\nb", strings.Repeat("y", 40) + "\n", "\r\n\n\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReaderSize(strings.NewReader(in), 16)
		rest := in
		for {
			line, err := crlf.Read(r)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, errBad) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(line) > crlf.Max || strings.Contains(line, "\n") || strings.HasSuffix(line, "\r") && !strings.HasPrefix(rest[len(line):], "\r\n") {
				t.Fatalf("line %q", line)
			}
			switch {
			case strings.HasPrefix(rest, line+"\r\n"):
				rest = rest[len(line)+2:]
			case strings.HasPrefix(rest, line+"\n"):
				rest = rest[len(line)+1:]
			default:
				t.Fatalf("line %q is not the next of %q", line, rest)
			}
		}
	})
}
