package asterisk

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	gold "github.com/acdbridge/acdbridge/adapters/internal/golden"
)

// referenceTranscript is a capture of a real Asterisk 22.10 AMI session.
const referenceTranscript = "testcases/reference/asterisk-22.10-ami-transcript.txt"

func TestReadMessage(t *testing.T) {
	in := "Asterisk Call Manager/11.0.0\r\n" +
		"Response: Success\r\nActionID: a-1\r\nMessage: Authentication accepted\r\n\r\n" +
		"\r\nEvent: DeviceStateChange\r\nprivilege: call,all\r\nDevice: Queue:support_pause_Local/1001@agents\r\n\r\n" +
		"PausedReason: \r\nx: a: b\n\n"
	r := bufio.NewReader(strings.NewReader(in))
	v, err := ReadBanner(r)
	if err != nil || v != "11.0.0" {
		t.Fatalf("banner %q, %v", v, err)
	}
	m, err := ReadMessage(r)
	if err != nil || m.Get("response") != "Success" || m.Get("ACTIONID") != "a-1" {
		t.Fatalf("%v %v", m, err)
	}
	if string(m.Bytes()) != "Response: Success\r\nActionID: a-1\r\nMessage: Authentication accepted\r\n\r\n" {
		t.Fatalf("round trip %q", m.Bytes())
	}
	m, err = ReadMessage(r)
	if err != nil || m.Get("Privilege") != "call,all" || m.Get("device") != "Queue:support_pause_Local/1001@agents" {
		t.Fatalf("%v %v", m, err)
	}
	m, err = ReadMessage(r)
	if v, ok := m.Lookup("PausedReason"); err != nil || !ok || v != "" || m.Get("x") != "a: b" {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := ReadMessage(r); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestReadMessageRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"cut in a line", "Response: Succ", ErrMalformed},
		{"cut between lines", "Response: Success\r\n", io.ErrUnexpectedEOF},
		{"no colon", "Response Success\r\n\r\n", ErrMalformed},
		{"space in key", "Bad Key: x\r\n\r\n", ErrMalformed},
		{"empty key", ": x\r\n\r\n", ErrMalformed},
		{"long line", "K: " + strings.Repeat("x", maxLineBytes) + "\r\n\r\n", ErrMalformed},
		{"many lines", strings.Repeat("K: v\r\n", maxHeaderLines+1) + "\r\n", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadMessage(bufio.NewReader(strings.NewReader(tc.in)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := ReadBanner(bufio.NewReader(strings.NewReader("SSH-2.0-OpenSSH_9.6\r\n"))); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "SSH-2.0") {
		t.Fatalf("banner of another service: %v", err)
	}
}

// transcriptMessages is the reference transcript's messages on one side
// (">> " client, "<< " server) as wire bytes, banners aside.
func transcriptMessages(t testing.TB, side string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(referenceTranscript)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	var cur []byte
	for line := range strings.SplitSeq(string(raw), "\n") {
		body, ok := strings.CutPrefix(line, side)
		if !ok {
			continue
		}
		body = strings.TrimPrefix(body, " ")
		switch {
		case strings.HasPrefix(body, BannerPrefix):
		case body == "":
			if cur != nil {
				out = append(out, append(cur, "\r\n"...))
				cur = nil
			}
		default:
			cur = append(cur, body+"\r\n"...)
		}
	}
	return out
}

func TestReadsTheReferenceTranscript(t *testing.T) {
	for _, side := range []string{">>", "<<"} {
		msgs := transcriptMessages(t, side)
		if len(msgs) < 10 {
			t.Fatalf("%s: only %d messages", side, len(msgs))
		}
		for _, b := range msgs {
			m, err := ReadMessage(bufio.NewReader(strings.NewReader(string(b))))
			if err != nil {
				t.Fatalf("%q: %v", b, err)
			}
			if string(m.Bytes()) != string(b) {
				t.Fatalf("round trip:\n%q\n%q", m.Bytes(), b)
			}
		}
	}
}

func FuzzReadMessage(f *testing.F) {
	for _, b := range transcriptMessages(f, "<<") {
		f.Add(b)
	}
	f.Add([]byte("Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(strings.NewReader(string(b)))
		_, _ = ReadBanner(r)
		for range 100 {
			m, err := ReadMessage(r)
			if err != nil {
				return
			}
			if len(m) == 0 {
				t.Fatal("a message without headers")
			}
			// What was read writes back to what reads the same.
			m2, err := ReadMessage(bufio.NewReader(strings.NewReader(string(m.Bytes()))))
			if err != nil || len(m2) != len(m) {
				t.Fatalf("%q read back as %q, %v", m.Bytes(), m2, err)
			}
		}
	})
}

// TestFakeReplaysTheReference plays the client side of the reference
// transcript to the fake and expects the server side byte for byte. Only
// SuccessfulAuth is left out: its session id, times and port differ on
// every login.
func TestFakeReplaysTheReference(t *testing.T) {
	f := NewFakeServer(t)
	times := []int64{1795889112, 1795889114}
	f.now = func() int64 { v := times[0]; times = times[1:]; return v }
	want := transcriptMessages(t, "<<")
	want = slices.DeleteFunc(want, func(b []byte) bool { return strings.HasPrefix(string(b), "Event: SuccessfulAuth\r\n") })
	var got []byte
	var r *bufio.Reader
	var c net.Conn
	connect := func() {
		var err error
		if c, err = net.Dial("tcp", f.Addr()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r = bufio.NewReader(c)
		if v, err := ReadBanner(r); err != nil || v != "11.0.0" {
			t.Fatalf("banner %q %v", v, err)
		}
	}
	connect()
	for i, action := range transcriptMessages(t, ">>") {
		if i == 1 {
			// The wrong Login closed the first connection.
			if _, err := ReadMessage(r); !errors.Is(err, io.EOF) {
				t.Fatalf("after a failed login: %v, want the connection closed", err)
			}
			connect()
		}
		if _, err := c.Write(action); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			m, err := ReadMessage(r)
			if err != nil {
				break // a timeout: all was said
			}
			got = append(got, m.Bytes()...)
		}
	}
	if w := bytes.Join(want, nil); !bytes.Equal(got, w) {
		t.Fatalf("the fake's answers differ from the reference:\n%s", gold.LineDiff(string(w), string(got)))
	}
}
