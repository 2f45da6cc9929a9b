package freeswitch

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
)

// FakeServer is an in-process FreeSWITCH event socket (mod_event_socket)
// with mod_callcenter loaded. It answers byte for byte as the C code does
// (see testcases/reference/README.md for where each string comes from):
// the auth/request greeting, auth, "api callcenter_config agent get|set
// status", exit, the disconnect notice, the rude rejection of an ACL. It
// keeps each agent's status, and records every connection's traffic:
// ">> " what the client sent, "<< " what the server sent, one header per
// line, an empty ">>" or "<<" ending the headers, a body as a Go-quoted
// string after "<< body: ".
//
// It lives in a _test.go file and is exported for the external test package
// (the conformance test).
type FakeServer struct {
	Password string

	acdtest.Fake // its Mu guards what follows too

	agents map[string]*fakeAgent
	order  []string // agent names in the order added
	auths  int
	// quiet records no transcript (benchmarks).
	quiet bool
	// acl refuses every connection as apply-inbound-acl does.
	acl bool
	// noCallcenter answers as a FreeSWITCH without mod_callcenter.
	noCallcenter bool
	// events sends an event frame before each api/response, as to a
	// connection that subscribed, to test that a client skips it.
	events bool
	// dropAfterSet carries out the next "agent set" command, then drops
	// the connection before answering it (once), as a network that fails
	// at the wrong moment does.
	dropAfterSet bool
	// deleteBeforeSet deletes an agent as its status is set, as a
	// supervisor's "callcenter_config agent del" between a read and a set
	// does.
	deleteBeforeSet bool
}

// fakeAgent is one mod_callcenter agent: its status as stored (what the
// last set gave, spelled as given), and the status callcenter.conf gives
// it when FreeSWITCH starts.
type fakeAgent struct {
	initial, status string
}

// NewFakeServer starts a fake on a loopback port with the password
// "ClueCon" (FreeSWITCH's default) and the agents 1001@default and
// 1002@default, both "Available" in callcenter.conf.
func NewFakeServer(t testing.TB) *FakeServer {
	t.Helper()
	f := &FakeServer{Password: "ClueCon", agents: map[string]*fakeAgent{}}
	f.AddAgent("1001@default", StatusAvailable)
	f.AddAgent("1002@default", StatusAvailable)
	f.Start(t, f.serve)
	return f
}

// Set changes the fake's options (quiet, acl, noCallcenter, events) under
// its lock, while connections may be served.
func (f *FakeServer) Set(change func(f *FakeServer)) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	change(f)
}

// AddAgent adds an agent whose status in callcenter.conf is status.
func (f *FakeServer) AddAgent(name, status string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if _, ok := f.agents[name]; !ok {
		f.order = append(f.order, name)
	}
	f.agents[name] = &fakeAgent{initial: status, status: status}
}

// SetStatus sets an agent's status as the agent would on the phone.
func (f *FakeServer) SetStatus(name, status string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.agents[name].status = status
}

// Status is an agent's status as stored.
func (f *FakeServer) Status(name string) string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.agents[name].status
}

// Restart shuts down as FreeSWITCH does (kill_all_listeners: a disconnect
// notice to each connection, then close), and starts again with every
// agent's status as callcenter.conf gives it.
func (f *FakeServer) Restart() {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.CloseAllLocked("closed by the server (shutdown)", func(c net.Conn) {
		f.recordLocked("<<", disconnectNotice("The system is being shut down.\n"))
		_, _ = c.Write(disconnectNotice("The system is being shut down.\n"))
	})
	for _, a := range f.agents {
		a.status = a.initial
	}
}

// Auths is the number of auth commands received.
func (f *FakeServer) Auths() int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.auths
}

func (f *FakeServer) record(side string, raw []byte) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.recordLocked(side, raw)
}

// recordLocked writes raw bytes of one side in the transcript notation:
// each frame's header lines, an empty line, and its body quoted.
func (f *FakeServer) recordLocked(side string, raw []byte) {
	if f.quiet {
		return
	}
	if side == ">>" {
		// A command: its line (and any header lines), then the empty line.
		for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
			f.NoteLocked("%s %s\n", side, line)
		}
		f.NoteLocked("%s\n", side)
		return
	}
	r := bufio.NewReader(bytes.NewReader(raw))
	for {
		fr, err := ReadFrame(r)
		if err != nil {
			return
		}
		for _, h := range fr.Headers {
			f.NoteLocked("%s %s: %s\n", side, h.Key, h.Value)
		}
		f.NoteLocked("%s\n", side)
		if len(fr.Body) > 0 {
			f.NoteLocked("%s body: %s\n", side, strconv.Quote(string(fr.Body)))
		}
	}
}

// The server's frames, as mod_event_socket.c writes them.

// authRequest is listener_run's greeting.
func authRequest() []byte { return []byte("Content-Type: auth/request\n\n") }

// commandReply is listener_run's answer to a command other than api.
func commandReply(reply string) []byte {
	return []byte("Content-Type: command/reply\nReply-Text: " + reply + "\n\n")
}

// apiResponse is api_exec's answer to an api command; an empty reply
// becomes "-ERR no reply\n".
func apiResponse(reply string) []byte {
	if reply == "" {
		reply = "-ERR no reply\n"
	}
	return []byte(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(reply), reply))
}

// disconnectNotice is send_disconnect's frame (an inbound connection
// controls no session, so no Controlled-Session-UUID).
func disconnectNotice(message string) []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s", len(message), message))
}

// goodbye is what listener_run sends when a connection ends.
const goodbye = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// rudeRejection is listener_run's answer to a host outside the ACL.
func rudeRejection() []byte {
	const message = "Access Denied, go away.\n"
	return []byte(fmt.Sprintf("Content-Type: text/rude-rejection\nContent-Length: %d\n\n%s", len(message), message))
}

// eventPlain is an event frame as sent to a subscribed connection
// (Content-Length first, then Content-Type; the body url-encoded headers).
func eventPlain(agent, status string) []byte {
	body := "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\nCC-Agent: " + strings.ReplaceAll(agent, "@", "%40") +
		"\nCC-Action: agent-status-change\nCC-Agent-Status: " + strings.ReplaceAll(status, " ", "%20") + "\n\n"
	return []byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body))
}

// readCommand reads one command as read_packet does: lines up to an empty
// line; the first is the command.
func readCommand(r *bufio.Reader) (string, []byte, error) {
	var raw []byte
	var cmd string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		raw = append(raw, line...)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if cmd == "" {
				raw = raw[:0]
				continue
			}
			return cmd, raw, nil
		}
		if cmd == "" {
			cmd = line
		}
	}
}

func (f *FakeServer) serve(c net.Conn, n int) {
	f.Note("# connection %d\n", n)
	closeBy := func(why string) { f.Ended(c, "closed by "+why) }
	w := bufio.NewWriter(c)
	send := func(b []byte) {
		f.record("<<", b)
		_, _ = w.Write(b)
	}
	f.Mu.Lock()
	acl := f.acl
	f.Mu.Unlock()
	if acl {
		send(rudeRejection())
		send(disconnectNotice(goodbye))
		closeBy("the server")
		_ = w.Flush()
		return
	}
	send(authRequest())
	_ = w.Flush()
	r := bufio.NewReader(c)
	authed := false
	for {
		cmd, raw, err := readCommand(r)
		if err != nil {
			closeBy("the client")
			return
		}
		f.record(">>", raw)
		keep := true
		switch {
		case len(cmd) >= 4 && strings.EqualFold(cmd[:4], "exit"):
			send(commandReply("+OK bye"))
			keep = false
		case !authed && len(cmd) >= 5 && strings.EqualFold(cmd[:5], "auth "):
			f.Mu.Lock()
			f.auths++
			ok := cmd[5:] == f.Password
			f.Mu.Unlock()
			if ok {
				authed = true
				send(commandReply("+OK accepted"))
			} else {
				send(commandReply("-ERR invalid"))
				keep = false
			}
		case !authed:
			// Before auth, anything else gets no answer.
		case len(cmd) >= 4 && strings.EqualFold(cmd[:4], "api "):
			reply := f.api(cmd[4:])
			f.Mu.Lock()
			events := f.events
			drop := f.dropAfterSet && strings.Contains(cmd, " agent set ")
			if drop {
				f.dropAfterSet = false
				f.EndedLocked(c, "dropped by the server before answering")
			}
			f.Mu.Unlock()
			if drop {
				_ = w.Flush()
				return
			}
			if events {
				send(eventPlain("1001@default", StatusOnBreak))
			}
			send(apiResponse(reply))
		default:
			send(commandReply("-ERR command not found"))
		}
		if !keep {
			send(disconnectNotice(goodbye))
			closeBy("the server")
			_ = w.Flush()
			return
		}
		if err := w.Flush(); err != nil {
			closeBy("the client")
			return
		}
	}
}

// api runs one api command as switch_api_execute would with
// mod_callcenter loaded: callcenter_config's agent get/set status.
func (f *FakeServer) api(line string) string {
	name, arg, _ := strings.Cut(line, " ")
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if name != "callcenter_config" || f.noCallcenter {
		return "-ERR " + name + " Command not found!\n"
	}
	argv := separateString(arg, 8)
	if len(argv) < 2 {
		return "-ERR Invalid!\n"
	}
	section, action := argv[0], argv[1]
	if !strings.EqualFold(section, "agent") {
		return "" // the fake knows only the agent section
	}
	switch strings.ToLower(action) {
	case "set":
		if len(argv)-2 < 3 {
			return "-ERR Invalid!\n"
		}
		key, agent, value := argv[2], argv[3], argv[4]
		if f.deleteBeforeSet {
			delete(f.agents, agent)
		}
		a, ok := f.agents[agent]
		switch {
		case !ok:
			return "-ERR Agent not found!\n"
		case !strings.EqualFold(key, "status"):
			return "-ERR Invalid Agent Update KEY!\n"
		case !slices.ContainsFunc(Statuses, func(s string) bool { return strings.EqualFold(s, value) }):
			return "-ERR Invalid Agent Status!\n"
		}
		a.status = value // stored as given
		return "+OK\n"
	case "get":
		if len(argv)-2 < 2 {
			return "-ERR Invalid!\n"
		}
		key, agent := argv[2], argv[3]
		a, ok := f.agents[agent]
		switch {
		case !ok:
			return "-ERR Agent not found!\n"
		case strings.EqualFold(key, "status"):
			return a.status // no newline: "%s" of the column
		case strings.EqualFold(key, "state"):
			return "Waiting"
		case strings.EqualFold(key, "uuid"):
			return ""
		}
		return "-ERR Invalid Agent Update KEY!\n"
	}
	return ""
}

// separateString splits s on spaces as switch_separate_string does with a
// space delimiter: at most n arguments (the last keeps the rest), single
// quotes group, a backslash escapes; then each argument loses its quotes
// and escapes, and spaces around it.
func separateString(s string, n int) []string {
	var args []string
	b := []byte(s)
	i := 0
	for i < len(b) && len(args) < n {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i == len(b) {
			break
		}
		start, quoted := i, false
		for i < len(b) && (len(args) == n-1 || quoted || b[i] != ' ') {
			switch b[i] {
			case '\\':
				i++
			case '\'':
				quoted = !quoted
			}
			i++
		}
		args = append(args, cleanup(string(b[start:min(i, len(b))])))
	}
	return args
}

// cleanup is cleanup_separated_string: quotes removed, escapes resolved,
// trailing spaces outside quotes dropped. A backslash escapes only a
// quote, a backslash, or n, r, t and s (unescape_char); before anything
// else it stays as it is.
func cleanup(s string) string {
	s = strings.TrimLeft(s, " ")
	var out []byte
	end, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && strings.IndexByte(`'"\nrts`, s[i+1]) >= 0 {
			e := s[i+1]
			switch e {
			case 'n':
				e = '\n'
			case 'r':
				e = '\r'
			case 't':
				e = '\t'
			case 's':
				e = ' '
			}
			i++
			out = append(out, e)
			end = len(out)
			continue
		}
		if c == '\'' && (quoted || strings.IndexByte(s[i+1:], '\'') >= 0) {
			quoted = !quoted
			if quoted {
				end = len(out)
			}
			continue
		}
		out = append(out, c)
		if c != ' ' || quoted {
			end = len(out)
		}
	}
	return string(out[:end])
}
