// Package acdtest is the test scaffolding the adapters (asterisk,
// freeswitch, sip, rt, webhook) share: the TCP side of the ACD adapters'
// in-process fake servers, the test binary that serves the adapter as a
// plugin process, the checks of README, configuration errors and results
// that each adapter's tests make, and, for integration tests, a built
// binary started with a line of its output awaited. Only tests import it;
// it imports only plugins/sdk, internal/testutil and the standard library.
package acdtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Fake is the TCP side of a fake server: a listener on a loopback port,
// each accepted connection numbered and served on its own goroutine, and
// the transcript in which the fake records the traffic and notes how each
// connection ended.
type Fake struct {
	// Mu guards the transcript and the connections; the fake that embeds
	// Fake guards its own state with it too.
	Mu sync.Mutex

	ln         net.Listener
	wg         sync.WaitGroup
	conns      map[net.Conn]int // connection number
	connN      int
	transcript strings.Builder
}

// Start listens on a loopback port and accepts connections until Close
// (at t's cleanup at the latest), serving each with serve: c and its
// number n, from 1. It closes c once serve returns. A Fake not started
// keeps a transcript only.
func (f *Fake) Start(t testing.TB, serve func(c net.Conn, n int)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.Mu.Lock()
	f.ln, f.conns = ln, map[net.Conn]int{}
	f.Mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := f.ln.Accept()
			if err != nil {
				return
			}
			f.Mu.Lock()
			f.connN++
			n := f.connN
			f.conns[c] = n
			f.Mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				serve(c, n)
				c.Close()
			}()
		}
	}()
	t.Cleanup(f.Close)
}

// Addr is the host:port it listens on.
func (f *Fake) Addr() string { return f.ln.Addr().String() }

// Close stops listening and drops every connection.
func (f *Fake) Close() {
	f.ln.Close()
	f.Drop()
	f.wg.Wait()
}

// Drop closes every connection without a word, as a crashed server or a
// broken network does.
func (f *Fake) Drop() {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.CloseAllLocked("dropped by the server", nil)
}

// CloseAllLocked closes every connection, noting "# connection N how";
// before (when not nil) runs first for each, to say goodbye. The caller
// holds Mu.
func (f *Fake) CloseAllLocked(how string, before func(c net.Conn)) {
	for c, n := range f.conns {
		if before != nil {
			before(c)
		}
		// Noted here, not by serve: the client may reconnect first.
		fmt.Fprintf(&f.transcript, "# connection %d %s\n", n, how)
		delete(f.conns, c)
		c.Close()
	}
}

// Ended notes "# connection N how" unless c's end was noted already.
func (f *Fake) Ended(c net.Conn, how string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.EndedLocked(c, how)
}

// EndedLocked is Ended for a caller that holds Mu.
func (f *Fake) EndedLocked(c net.Conn, how string) {
	if n, open := f.conns[c]; open {
		delete(f.conns, c)
		fmt.Fprintf(&f.transcript, "# connection %d %s\n", n, how)
	}
}

// Transcript is every connection's traffic so far.
func (f *Fake) Transcript() string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.transcript.String()
}

// Note adds to the transcript.
func (f *Fake) Note(format string, args ...any) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.NoteLocked(format, args...)
}

// NoteLocked is Note for a caller that holds Mu.
func (f *Fake) NoteLocked(format string, args ...any) {
	fmt.Fprintf(&f.transcript, format, args...)
}

// Main is an adapter's TestMain: under go test, os.Args[0] is the test
// binary, and asked through the environment variable env it serves the
// adapter that adapter makes as a real plugin process; otherwise it runs
// the tests.
func Main(m *testing.M, env string, adapter func() sdk.Adapter) {
	if os.Getenv(env) != "" {
		sdk.Serve(adapter())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Closer is an adapter that Close stops.
type Closer interface {
	sdk.Adapter
	Close() error
}

// Accepts fails t unless a fresh adapter accepts settings (closing it
// after, when it has a Close).
func Accepts(t *testing.T, a sdk.Adapter, settings map[string]any) {
	t.Helper()
	js, _ := json.Marshal(settings)
	if c, ok := a.(Closer); ok {
		defer c.Close()
	}
	if err := a.Configure(context.Background(), sdk.Settings{Instance: "pbx", JSON: js}); err != nil {
		t.Fatalf("sample.hcl's settings %s: %v", js, err)
	}
}

// READMEShowsSample fails t unless README.md in the test's folder shows
// sample word for word in an hcl block.
func READMEShowsSample(t *testing.T, sample string) {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```hcl\n"+sample+"```") {
		t.Fatal("README.md does not show sample.hcl word for word")
	}
}

// ConfigErrors runs a subtest: parse's errors for the settings in js are
// each a *sdk.FieldError, and they name exactly fields, in order (none:
// accepted).
func ConfigErrors(t *testing.T, parse func(sdk.Settings) error, js string, fields []string) {
	t.Helper()
	t.Run(js, func(t *testing.T) {
		err := parse(sdk.Settings{JSON: []byte(js)})
		var got []string
		for _, e := range flatten(err) {
			var fe *sdk.FieldError
			if !errors.As(e, &fe) {
				t.Fatalf("%v is not a *sdk.FieldError", e)
			}
			got = append(got, fe.Field)
		}
		if strings.Join(got, ",") != strings.Join(fields, ",") {
			t.Fatalf("errors %v name %v, want %v", err, got, fields)
		}
	})
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Agent is an availability item for the agent id whose identity named
// identity is value: available, or in a session with the reason
// "remote-support".
func Agent(id, identity, value string, available bool, version uint64) sdk.Availability {
	a := sdk.Availability{AgentID: id, Available: available, State: "available", Version: version, Identities: map[string]string{identity: value}}
	if !available {
		a.State, a.Reason = "in_session", "remote-support"
	}
	return a
}

// ExpectOutcome fails t unless rs is one result with the outcome want and
// a message containing msg.
func ExpectOutcome(t *testing.T, rs []sdk.Result, want sdk.Outcome, msg string) {
	t.Helper()
	if len(rs) != 1 || rs[0].Outcome != want || !strings.Contains(rs[0].Message, msg) {
		t.Fatalf("results %+v, want one %s with a message containing %q", rs, want, msg)
	}
}

// BenchReconcile runs one Reconcile of n agents a round, all busy, then
// all available, in turn; the identity named identity of agent i is
// value(i). Every result must be applied. It reports s/reconcile.
func BenchReconcile(b *testing.B, a sdk.AvailabilityAdapter, n int, identity string, value func(i int) string) {
	items := make([]sdk.Availability, n)
	for v := uint64(1); b.Loop(); v++ {
		for i := range items {
			items[i] = Agent(fmt.Sprintf("a-%d", i), identity, value(i), v%2 == 0, v)
		}
		for _, r := range a.Reconcile(context.Background(), items) {
			if r.Outcome != sdk.Applied {
				b.Fatalf("%+v", r)
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/reconcile")
}

// Start configures a with settings and extra (extra's win) for the
// instance "pbx", closes it at t's end, and, unless wait is "", waits
// until its health is up (wait names that state in a failure).
func Start(t *testing.T, a Closer, settings, extra map[string]any, wait string) {
	t.Helper()
	for k, v := range extra {
		settings[k] = v
	}
	js, _ := json.Marshal(settings)
	if err := a.Configure(context.Background(), sdk.Settings{Instance: "pbx", JSON: js}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if wait != "" {
		testutil.WaitFor(t, wait, 5*time.Second, 2*time.Millisecond, func() bool { return a.Health(context.Background()).Status == sdk.Up })
	}
}

// At is the RFC 3339 time s, for the examples of tests; it panics on a
// malformed s, a mistake in the test itself.
func At(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Refused fails t unless err's first *sdk.FieldError is on field and its
// message says what was expected and contains says; field "" wants err
// nil (the settings accepted).
func Refused(t *testing.T, err error, field, says string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var fe *sdk.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("got %v, want a *sdk.FieldError for %s", err, field)
	}
	if !strings.Contains(fe.Message, says) || !strings.Contains(fe.Message, "expected") {
		t.Fatalf("message %q: want what was expected and %q", fe.Message, says)
	}
}
