package asterisk

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
)

// FakeServer is an in-process Asterisk Manager Interface that answers as
// Asterisk 22.10 with app_queue does, byte for byte (see
// testcases/reference/asterisk-22.10-ami-transcript.txt (a copy of the team's capture, byte for byte) and
// TestFakeReplaysTheReference): banner, Login, Ping, QueuePause,
// QueueStatus, Logoff and their error texts. It keeps each queue member's
// pause state and records every connection's traffic in the reference's
// ">>"/"<<" notation.
//
// It lives in a _test.go file and is exported for the external test package
// (the conformance test).
type FakeServer struct {
	Username, Secret string

	acdtest.Fake // its Mu guards what follows too

	queues []*fakeQueue
	logins int
	// now is the Unix time recorded as a member's LastPause.
	now func() int64
	// quiet records no transcript (benchmarks).
	quiet bool
	// eventsAlways sends events even to sessions that logged in with
	// Events: off, to test that a client tolerates them.
	eventsAlways bool
}

type fakeQueue struct {
	name    string
	params  Message // QueueParams after Queue, before ActionID
	members []*fakeMember
}

type fakeMember struct {
	name, iface                            string
	callsTaken, lastCall, lastPause, login int64
	paused                                 bool
	reason                                 string
}

// NewFakeServer starts a fake on a loopback port with the reference's
// queues, support and sales, each with the static members agent1001
// (Local/1001@agents) and agent1002 (Local/1002@agents); the user "bridge"
// with the secret "s3cret".
func NewFakeServer(t testing.TB) *FakeServer {
	t.Helper()
	f := &FakeServer{Username: "bridge", Secret: "s3cret", now: func() int64 { return 1795889112 }}
	f.queues = []*fakeQueue{
		{name: "support", params: queueParams("4", "1", "100.0")},
		{name: "sales", params: queueParams("0", "0", "0.0")},
	}
	for _, q := range f.queues {
		q.members = []*fakeMember{
			{name: "agent1001", iface: "Local/1001@agents", callsTaken: 1, lastCall: 1795889106, login: 1795889100},
			{name: "agent1002", iface: "Local/1002@agents", login: 1795889100},
		}
	}
	f.Start(t, f.serve)
	return f
}

func queueParams(talk, completed, perf string) Message {
	return Message{{"Max", "0"}, {"Strategy", "ringall"}, {"Calls", "0"}, {"Holdtime", "0"}, {"TalkTime", talk},
		{"Completed", completed}, {"Abandoned", "0"}, {"ServiceLevel", "0"}, {"ServicelevelPerf", perf},
		{"ServicelevelPerf2", perf}, {"Weight", "0"}}
}

// AddMember adds a static member to queue (made if new).
func (f *FakeServer) AddMember(queue, name, iface string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	i := slices.IndexFunc(f.queues, func(q *fakeQueue) bool { return q.name == queue })
	if i < 0 {
		f.queues = append(f.queues, &fakeQueue{name: queue, params: queueParams("0", "0", "0.0")})
		i = len(f.queues) - 1
	}
	f.queues[i].members = append(f.queues[i].members, &fakeMember{name: name, iface: iface, login: 1795889100})
}

// Restart drops every connection and forgets every pause, as an Asterisk
// restart does.
func (f *FakeServer) Restart() {
	f.Drop()
	f.Mu.Lock()
	defer f.Mu.Unlock()
	for _, q := range f.queues {
		for _, m := range q.members {
			m.paused, m.reason = false, ""
		}
	}
}

// Pause sets a member's pause in one queue as the agent would on the phone.
func (f *FakeServer) Pause(queue, iface string, paused bool, reason string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	for _, q := range f.queues {
		for _, m := range q.members {
			if q.name == queue && m.iface == iface {
				m.paused, m.reason = paused, reason
			}
		}
	}
}

// State is a member's pause state per queue: "support=remote-support
// sales=-" ("-": not paused).
func (f *FakeServer) State(iface string) string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var parts []string
	for _, q := range f.queues {
		for _, m := range q.members {
			if m.iface == iface {
				r := "-"
				if m.paused {
					r = m.reason
				}
				parts = append(parts, q.name+"="+r)
			}
		}
	}
	return strings.Join(parts, " ")
}

// Logins is the number of Login actions received.
func (f *FakeServer) Logins() int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.logins
}

func (f *FakeServer) record(side string, m Message) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if f.quiet {
		return
	}
	for _, h := range m {
		f.NoteLocked("%s %s: %s\n", side, h.Key, h.Value)
	}
	f.NoteLocked("%s\n", side)
}

type fakeSession struct {
	f         *FakeServer
	w         *bufio.Writer
	loggedIn  bool
	events    bool
	challenge string
}

func (s *fakeSession) send(m Message) {
	s.f.record("<<", m)
	_, _ = s.w.Write(m.Bytes())
}

func (f *FakeServer) serve(c net.Conn, n int) {
	f.Note("# connection %d\n<< %s11.0.0\n", n, BannerPrefix)
	s := &fakeSession{f: f, w: bufio.NewWriter(c)}
	fmt.Fprintf(s.w, "%s11.0.0\r\n", BannerPrefix)
	_ = s.w.Flush()
	r := bufio.NewReader(c)
	for {
		m, err := ReadMessage(r)
		if err != nil {
			f.Ended(c, "closed by the client")
			return
		}
		f.record(">>", m)
		keep := s.handle(m)
		if !keep {
			// Noted before the answer leaves, which the client may
			// follow with anything.
			f.Ended(c, "closed by the server")
		}
		if err := s.w.Flush(); err != nil || !keep {
			return
		}
	}
}

// reply is a response: Response, ActionID when the action had one, then the
// rest.
func reply(action Message, response string, rest ...Header) Message {
	m := Message{{"Response", response}}
	if id, ok := action.Lookup("ActionID"); ok {
		m = append(m, Header{"ActionID", id})
	}
	return append(m, rest...)
}

func withID(action, m Message) Message {
	if id, ok := action.Lookup("ActionID"); ok {
		m = append(m, Header{"ActionID", id})
	}
	return m
}

// handle answers one action; false closes the connection.
func (s *fakeSession) handle(a Message) bool {
	f := s.f
	action := strings.ToLower(a.Get("Action"))
	if !s.loggedIn && action != "login" && action != "challenge" {
		s.send(reply(a, "Error", Header{"Message", "Authentication Required"}))
		return true
	}
	switch action {
	case "challenge":
		if !strings.EqualFold(a.Get("AuthType"), "md5") {
			s.send(reply(a, "Error", Header{"Message", "Must specify AuthType"}))
			break
		}
		s.challenge = "840415273"
		s.send(reply(a, "Success", Header{"Challenge", s.challenge}))
	case "login":
		f.Mu.Lock()
		f.logins++
		ok := strings.EqualFold(a.Get("Username"), f.Username) && a.Get("Secret") == f.Secret
		if strings.EqualFold(a.Get("AuthType"), "md5") {
			sum := md5.Sum([]byte(s.challenge + f.Secret))
			ok = strings.EqualFold(a.Get("Username"), f.Username) && s.challenge != "" && a.Get("Key") == hex.EncodeToString(sum[:])
		}
		f.Mu.Unlock()
		if !ok {
			// Asterisk closes the connection after a failed login.
			s.send(reply(a, "Error", Header{"Message", "Authentication failed"}))
			return false
		}
		s.loggedIn = true
		s.events = !strings.EqualFold(a.Get("Events"), "off")
		s.send(reply(a, "Success", Header{"Message", "Authentication accepted"}))
		if s.events || f.eventsAlways {
			s.send(Message{{"Event", "FullyBooted"}, {"Privilege", "system,all"}, {"Uptime", "10"}, {"LastReload", "10"}, {"Status", "Fully Booted"}})
		}
	case "ping":
		s.send(reply(a, "Success", Header{"Ping", "Pong"}, Header{"Timestamp", "1795889112.000000"}))
	case "logoff":
		s.send(reply(a, "Goodbye", Header{"Message", "Thanks for all the fish."}))
		return false
	case "queuepause":
		s.queuePause(a)
	case "queuestatus":
		s.queueStatus(a)
	default:
		s.send(reply(a, "Error", Header{"Message", "Invalid/unknown command: " + a.Get("Action") + ". Use Action: ListCommands to show available commands."}))
	}
	return true
}

// astTrue is Asterisk's ast_true.
func astTrue(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}

func (s *fakeSession) queuePause(a Message) {
	f := s.f
	iface, okI := a.Lookup("Interface")
	pausedS, okP := a.Lookup("Paused")
	if !okI || !okP || iface == "" || pausedS == "" {
		s.send(reply(a, "Error", Header{"Message", "Need 'Interface' and 'Paused' parameters."}))
		return
	}
	paused, queue, reason := astTrue(pausedS), a.Get("Queue"), a.Get("Reason")
	type change struct {
		q *fakeQueue
		m fakeMember
	}
	var changed []change
	f.Mu.Lock()
	var now int64
	for _, q := range f.queues {
		if queue != "" && !strings.EqualFold(q.name, queue) {
			continue
		}
		for _, m := range q.members {
			if m.iface != iface {
				continue
			}
			if len(changed) == 0 && paused {
				now = f.now()
			}
			m.paused = paused
			m.reason = ""
			if paused {
				m.reason = reason
				m.lastPause = now
			}
			changed = append(changed, change{q, *m})
		}
	}
	f.Mu.Unlock()
	if len(changed) == 0 {
		s.send(reply(a, "Error", Header{"Message", "Interface not found"}))
		return
	}
	msg := "Interface unpaused successfully"
	state := "NOT_INUSE"
	if paused {
		msg, state = "Interface paused successfully", "INUSE"
	}
	s.send(reply(a, "Success", Header{"Message", msg}))
	if !s.events && !f.eventsAlways {
		return
	}
	for _, c := range changed {
		s.send(Message{{"Event", "DeviceStateChange"}, {"Privilege", "call,all"}, {"SystemName", "pbx"},
			{"Device", "Queue:" + c.q.name + "_pause_" + c.m.iface}, {"State", state}})
		ev := Message{{"Event", "QueueMemberPause"}, {"Privilege", "agent,all"}, {"SystemName", "pbx"}, {"Queue", c.q.name},
			{"MemberName", c.m.name}, {"Interface", c.m.iface}}
		ev = append(ev, c.m.fields()...)
		// Ringinuse comes before Wrapuptime in the change events.
		ev = slices.Insert(ev, len(ev)-1, Header{"Ringinuse", "1"})
		s.send(ev)
	}
}

// fields are a member's fields after its name and interface, as
// QueueMember and QueueMemberPause list them.
func (m fakeMember) fields() Message {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	p := "0"
	if m.paused {
		p = "1"
	}
	return Message{{"StateInterface", m.iface}, {"Membership", "static"}, {"Penalty", "0"}, {"CallsTaken", i(m.callsTaken)},
		{"LastCall", i(m.lastCall)}, {"LastPause", i(m.lastPause)}, {"LoginTime", i(m.login)}, {"InCall", "0"},
		{"Status", "1"}, {"Paused", p}, {"PausedReason", m.reason}, {"Wrapuptime", "0"}}
}

func (s *fakeSession) queueStatus(a Message) {
	f := s.f
	queue, member := a.Get("Queue"), a.Get("Member")
	var list []Message
	f.Mu.Lock()
	for _, q := range f.queues {
		if queue != "" && !strings.EqualFold(q.name, queue) {
			continue
		}
		list = append(list, withID(a, append(Message{{"Event", "QueueParams"}, {"Queue", q.name}}, q.params...)))
		for _, m := range q.members {
			if member != "" && m.iface != member && m.name != member {
				continue
			}
			ev := Message{{"Event", "QueueMember"}, {"Queue", q.name}, {"Name", m.name}, {"Location", m.iface}}
			list = append(list, withID(a, append(ev, m.fields()...)))
		}
	}
	f.Mu.Unlock()
	s.send(reply(a, "Success", Header{"EventList", "start"}, Header{"Message", "Queue status will follow"}))
	for _, m := range list {
		s.send(m)
	}
	done := Message{{"Event", "QueueStatusComplete"}}
	done = withID(a, done)
	done = append(done, Header{"EventList", "Complete"}, Header{"ListItems", strconv.Itoa(len(list))})
	s.send(done)
}
