package freeswitch

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// The server's frames, byte for byte as the C code prints them (the format
// strings are quoted in testcases/reference/README.md).
func TestFakeFramesAreFreeSWITCHs(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"auth/request", authRequest(), "Content-Type: auth/request\n\n"},
		{"auth accepted", commandReply("+OK accepted"), "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"},
		{"auth refused", commandReply("-ERR invalid"), "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"},
		{"exit", commandReply("+OK bye"), "Content-Type: command/reply\nReply-Text: +OK bye\n\n"},
		{"api +OK", apiResponse("+OK\n"), "Content-Type: api/response\nContent-Length: 4\n\n+OK\n"},
		{"api status", apiResponse("On Break"), "Content-Type: api/response\nContent-Length: 8\n\nOn Break"},
		{"api empty", apiResponse(""), "Content-Type: api/response\nContent-Length: 14\n\n-ERR no reply\n"},
		{"goodbye", disconnectNotice(goodbye), "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"},
		{"shutdown", disconnectNotice("The system is being shut down.\n"), "Content-Type: text/disconnect-notice\nContent-Length: 31\n\nThe system is being shut down.\n"},
		{"acl", rudeRejection(), "Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"},
	}
	for _, tc := range tests {
		if string(tc.got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// mod_callcenter's answers for every outcome of get and set status.
func TestFakeCallcenterAnswers(t *testing.T) {
	f := &FakeServer{agents: map[string]*fakeAgent{"1001@default": {status: "On Break"}}}
	tests := []struct{ cmd, want string }{
		{"callcenter_config agent get status 1001@default", "On Break"},
		{"callcenter_config agent get status 9999@default", "-ERR Agent not found!\n"},
		{"callcenter_config agent get state 1001@default", "Waiting"},
		{"callcenter_config agent get colour 1001@default", "-ERR Invalid Agent Update KEY!\n"},
		{"callcenter_config agent get status", "-ERR Invalid!\n"},
		{"callcenter_config agent set status 1001@default 'Available (On Demand)'", "+OK\n"},
		{"callcenter_config agent get status 1001@default", "Available (On Demand)"},
		{"callcenter_config agent set status 1001@default 'on break'", "+OK\n"},
		{"callcenter_config agent get status 1001@default", "on break"},
		{"callcenter_config agent set status 1001@default On Break", "-ERR Invalid Agent Status!\n"},
		{"callcenter_config agent set status 1001@default 'Lunch'", "-ERR Invalid Agent Status!\n"},
		{"callcenter_config agent set status 1001@default Unknown", "-ERR Invalid Agent Status!\n"},
		{"callcenter_config agent set status 9999@default 'On Break'", "-ERR Agent not found!\n"},
		{"callcenter_config agent set status 1001@default", "-ERR Invalid!\n"},
		{"callcenter_config agent", "-ERR Invalid!\n"},
		{"callcenter_config tier list", ""},
		{"callcenter_confi agent get status 1001@default", "-ERR callcenter_confi Command not found!\n"},
	}
	for _, tc := range tests {
		if got := f.api(tc.cmd); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
	f.noCallcenter = true
	if got := f.api("callcenter_config agent get status 1001@default"); got != "-ERR callcenter_config Command not found!\n" {
		t.Errorf("without mod_callcenter: %q", got)
	}
}

func TestSeparateString(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"agent set status 1001@default 'On Break'", []string{"agent", "set", "status", "1001@default", "On Break"}},
		{"  agent   get  status x  ", []string{"agent", "get", "status", "x"}},
		// "\ " keeps its backslash: a space is not escaped by
		// cleanup_separated_string with a space delimiter (it passes 0).
		{`a b\ c 'd e' f\'g`, []string{"a", `b\ c`, "d e", "f'g"}},
		{`a\x b\sc d\\e`, []string{`a\x`, "b c", `d\e`}},
		{"a b c d e f g h i j", []string{"a", "b", "c", "d", "e", "f", "g", "h i j"}},
		{"", nil},
	}
	for _, tc := range tests {
		got := separateString(tc.in, 8)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReadFrame(t *testing.T) {
	in := "Content-Type: auth/request\n\n" +
		"Content-Type: api/response\nContent-Length: 8\n\nOn Break" +
		"Content-Length: 45\nContent-Type: text/event-plain\n\nEvent-Name: CUSTOM\nCC-Agent: 1001%40default\n\n" +
		"\ncontent-type: command/reply\r\nReply-Text: +OK accepted\r\n\r\n" +
		"Content-Type: api/response\nContent-Length: 0\n\n"
	r := bufio.NewReader(strings.NewReader(in))
	want := []struct {
		ctype, body string
	}{
		{TypeAuthRequest, ""},
		{TypeAPIResponse, "On Break"},
		{"text/event-plain", "Event-Name: CUSTOM\nCC-Agent: 1001%40default\n\n"},
		{TypeCommandReply, ""},
		{TypeAPIResponse, ""},
	}
	for i, w := range want {
		f, err := ReadFrame(r)
		if err != nil || f.ContentType() != w.ctype || string(f.Body) != w.body {
			t.Fatalf("frame %d: %+v %v, want %s %q", i, f, err, w.ctype, w.body)
		}
	}
	if _, err := ReadFrame(r); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestReadFrameRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"cut in a line", "Content-Type: api/resp", io.ErrUnexpectedEOF},
		{"cut between lines", "Content-Type: api/response\n", io.ErrUnexpectedEOF},
		{"cut in the body", "Content-Type: api/response\nContent-Length: 8\n\nOn Br", io.ErrUnexpectedEOF},
		{"no colon", "auth ClueCon\n\n", ErrMalformed},
		{"space in key", "Content Type: x\n\n", ErrMalformed},
		{"empty key", ": x\n\n", ErrMalformed},
		{"bad length", "Content-Length: eight\n\n", ErrMalformed},
		{"negative length", "Content-Length: -1\n\n", ErrMalformed},
		{"plus length", "Content-Length: +1\n\nx", ErrMalformed},
		{"huge length", "Content-Length: 99999999999\n\n", ErrMalformed},
		{"long line", "K: " + strings.Repeat("x", maxLineBytes) + "\n\n", ErrMalformed},
		{"many lines", strings.Repeat("K: v\n", maxHeaderLines+1) + "\n", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bufio.NewReader(strings.NewReader(tc.in)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	const cmd = "callcenter_config agent get status 1001@default"
	tests := []struct {
		body, want string
		err        error
	}{
		{"Available", StatusAvailable, nil},
		{"Available (On Demand)", StatusAvailableOnDemand, nil},
		{"On Break", StatusOnBreak, nil},
		{"Logged Out", StatusLoggedOut, nil},
		{"on break", StatusOnBreak, nil},
		{"On Break\n", StatusOnBreak, nil},
		{"-ERR Agent not found!\n", "", &APIError{}},
		{"-ERR no reply\n", "", &APIError{}},
		{"-ERR callcenter_config Command not found!\n", "", &APIError{}},
		{"-USAGE: \ncallcenter_config <target> <args>\n", "", &APIError{}},
		{"", "", ErrMalformed},
		{"Unknown", "", ErrMalformed},
		{"On Break\n\n", "", ErrMalformed},
		{"+OK\n", "", ErrMalformed},
	}
	for _, tc := range tests {
		got, err := ParseStatus(cmd, []byte(tc.body))
		switch e := tc.err.(type) {
		case nil:
			if err != nil || got != tc.want {
				t.Errorf("%q: %q %v, want %q", tc.body, got, err, tc.want)
			}
		case *APIError:
			var ae *APIError
			if !errors.As(err, &ae) || ae.Command != cmd || ae.Reply != strings.TrimRight(tc.body, "\n") {
				t.Errorf("%q: %v, want an *APIError", tc.body, err)
			}
		default:
			if !errors.Is(err, e) || !strings.Contains(err.Error(), "expected the agent's status") {
				t.Errorf("%q: %v, want %v", tc.body, err, e)
			}
		}
	}
	for body, ok := range map[string]bool{"+OK\n": true, "+OK": true, "-ERR Invalid Agent Status!\n": false, "OK\n": false, "": false} {
		if err := ParseOK("x", []byte(body)); (err == nil) != ok {
			t.Errorf("ParseOK(%q): %v", body, err)
		}
	}
}

// FuzzReadFrame: any bytes give whole frames or an error, never a panic;
// a frame read writes back to bytes that read the same.
func FuzzReadFrame(f *testing.F) {
	for _, b := range [][]byte{authRequest(), commandReply("+OK accepted"), apiResponse("On Break"), apiResponse("+OK\n"),
		disconnectNotice(goodbye), rudeRejection(), eventPlain("1001@default", "On Break")} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for range 100 {
			fr, err := ReadFrame(r)
			if err != nil {
				return
			}
			if len(fr.Headers) == 0 {
				t.Fatal("a frame without headers")
			}
			back, err := ReadFrame(bufio.NewReader(bytes.NewReader(fr.Bytes())))
			if err != nil || len(back.Headers) != len(fr.Headers) || !bytes.Equal(back.Body, fr.Body) {
				t.Fatalf("%q read back as %+v, %v", fr.Bytes(), back, err)
			}
		}
	})
}

// FuzzParseStatus: any body gives a status of the chart or an error,
// never a panic.
func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{"Available", "On Break", "Available (On Demand)", "Logged Out", "-ERR Agent not found!\n", "-ERR no reply\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatus("callcenter_config agent get status x", b)
		if err == nil {
			found := false
			for _, s := range Statuses {
				found = found || s == st
			}
			if !found {
				t.Fatalf("%q gave %q, not a status of the chart", b, st)
			}
		} else if st != "" {
			t.Fatalf("%q gave %q and %v", b, st, err)
		}
		_ = ParseOK("x", b)
	})
}
