package source

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/monitors"
)

func TestDecodeSnapshots(t *testing.T) {
	agents, err := decodeAgents([]byte(`{"sequence":7,"as_of":"2026-11-02T10:00:00+01:00","future_field":{"x":1},
		"agents":[{"id":"a-1","name":"Ann","email":"ann@example.com","status":"in_session","queues":["support/printers","support"],
		"active_sessions":1,"max_sessions":2,"status_since":"2026-11-02T08:59:30Z","badge":"new"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	wantA := agentsSnapshot{seq: 7, asOf: testStart, agents: []monitors.Agent{{ID: "a-1", Name: "Ann", Email: "ann@example.com",
		Status: monitors.InSession, Queues: []string{"support/printers", "support"}, ActiveSessions: 1, MaxSessions: 2,
		StatusSince: testStart.Add(-30 * time.Second)}}}
	if !reflect.DeepEqual(agents, wantA) {
		t.Errorf("agents\n%+v\nwant\n%+v", agents, wantA)
	}

	queues, err := decodeQueues([]byte(`{"sequence":8,"as_of":"2026-11-02T09:00:00Z","queues":[
		{"id":"support","name":"Support","parent":null,"waiting":0,"longest_wait_seconds":0,"oldest_request_at":null,"agents_logged_in":3,"agents_available":1},
		{"id":"support/printers","name":"Printers","parent":"support","waiting":2,"longest_wait_seconds":42.5,"oldest_request_at":"2026-11-02T08:59:17.5Z","agents_logged_in":1,"agents_available":0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	wantQ := queuesSnapshot{seq: 8, asOf: testStart, queues: []monitors.Queue{
		{ID: "support", Name: "Support", AgentsLoggedIn: 3, AgentsAvailable: 1, AsOf: testStart},
		{ID: "support/printers", Name: "Printers", Parent: "support", Waiting: 2, LongestWait: 42500 * time.Millisecond,
			OldestRequestAt: testStart.Add(-42500 * time.Millisecond), AgentsLoggedIn: 1, AsOf: testStart},
	}}
	if !reflect.DeepEqual(queues, wantQ) {
		t.Errorf("queues\n%+v\nwant\n%+v", queues, wantQ)
	}
	if got := queues.queues[1].LongestWaitAt(testStart.Add(time.Minute)); got != time.Minute+42500*time.Millisecond {
		t.Errorf("LongestWaitAt a minute later: %s", got)
	}
}

func TestDecodeEvents(t *testing.T) {
	for _, tc := range []struct {
		name, event, data string
		want              event
		kind              string // the PayloadError's kind; "": no error
	}{
		{"agent", "agent", agentJSON("a-1", "away", 0), event{name: evAgent, agent: monitors.Agent{ID: "a-1", Name: "Agent a-1",
			Email: "a-1@example.com", Status: monitors.Away, Queues: []string{"support"}, MaxSessions: 2, StatusSince: testStart.Add(-time.Hour)}}, ""},
		{"queue without as_of", "queue", queueJSON("support", 1), event{name: evQueue, queue: monitors.Queue{ID: "support", Name: "Queue support",
			Waiting: 1, LongestWait: 10 * time.Second, AgentsLoggedIn: 1, AgentsAvailable: 1}}, ""},
		{"heartbeat", "heartbeat", `{"sequence":41,"as_of":"2026-11-02T09:00:00Z"}`, event{name: evHeartbeat, seq: 41, asOf: testStart}, ""},
		{"dropped", "dropped", `{"reason":"too slow"}`, event{name: evDropped, reason: "too slow"}, ""},
		{"dropped without a readable reason", "dropped", `{`, event{name: evDropped, reason: "(no reason given)"}, ""},
		{"reset", "reset", `{"sequence":9,"as_of":"2026-11-02T09:00:00Z","reason":"gone","agents":[],"queues":[]}`,
			event{name: evReset, seq: 9, asOf: testStart, reason: "gone", agents: []monitors.Agent{}, queues: []monitors.Queue{}}, ""},
		{"a name the contract does not know", "typing", `not even JSON`, event{name: evUnknown}, ""},
		{"no name", "", `{}`, event{name: evUnknown}, ""},
		{"reset without queues", "reset", `{"sequence":9,"as_of":"2026-11-02T09:00:00Z","agents":[]}`, event{}, KindBadValue},
		{"reset with an unknown status", "reset", `{"sequence":9,"as_of":"2026-11-02T09:00:00Z","agents":[` + agentJSON("a", "gone", 0) + `],"queues":[]}`, event{}, KindUnknownStatus},
		{"reset as an error", "reset", `{"error":{"code":"internal","message":"x"}}`, event{}, KindErrorBody},
		{"heartbeat without sequence", "heartbeat", `{"as_of":"2026-11-02T09:00:00Z"}`, event{}, KindBadValue},
		{"queue waiting too long", "queue", `{"id":"q","longest_wait_seconds":1e300}`, event{}, KindBadValue},
		{"queue waiting negative", "queue", `{"id":"q","longest_wait_seconds":-0.5}`, event{}, KindBadValue},
		{"request without queue", "request", `{"id":"r","status":"waiting"}`, event{}, KindMissingID},
		{"session with negative duration", "session_ended", `{"id":"s","agent_id":"a","queue":"q","duration_seconds":-1}`, event{}, KindBadValue},
		{"session without agent", "session_ended", `{"id":"s","queue":"q"}`, event{}, KindMissingID},
		{"trailing garbage", "agent", agentJSON("a-1", "away", 0) + "}", event{}, KindMalformedJSON},
		{"null", "agent", `null`, event{}, KindMissingID},
		{"a number too big", "agent", `{"id":"a","status":"away","active_sessions":1e99}`, event{}, KindBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeEvent(tc.event, tc.data)
			if tc.kind != "" {
				var pe *PayloadError
				if !errors.As(err, &pe) || pe.Kind != tc.kind {
					t.Fatalf("error %v, want a %s PayloadError", err, tc.kind)
				}
				if !strings.Contains(err.Error(), "expected") {
					t.Errorf("error %q does not say what was expected", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("event\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestBackoffFullJitter(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	for i, want := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		d := b.next()
		want *= time.Millisecond
		if b.ceiling() != want {
			t.Errorf("failure %d: ceiling %s, want %s", i+1, b.ceiling(), want)
		}
		if d < 0 || d > want {
			t.Errorf("failure %d: wait %s outside [0, %s]", i+1, d, want)
		}
	}
	// Full jitter spreads: many draws are not all the same.
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[jitter(time.Second)] = true
	}
	if len(seen) < 10 {
		t.Errorf("%d distinct waits out of 50 draws: no jitter", len(seen))
	}
	b.reset()
	if b.ceiling() != 100*time.Millisecond {
		t.Errorf("after reset the ceiling is %s, want the minimum", b.ceiling())
	}
	big := backoff{min: time.Second, max: time.Hour, failures: 1000}
	if big.ceiling() != time.Hour {
		t.Errorf("after many failures the ceiling is %s, want the maximum", big.ceiling())
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"99999999999", maxRetryAfter},
		{"Mon, 02 Nov 2026 09:01:30 GMT", 90 * time.Second},
		{"Mon, 02 Nov 2026 08:00:00 GMT", 0},
		{"Mon, 02 Nov 2027 08:00:00 GMT", maxRetryAfter},
		{"soon", 0},
	} {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		if got := retryAfter(h, now); got != tc.want {
			t.Errorf("Retry-After %q: %s, want %s", tc.value, got, tc.want)
		}
	}
}

func TestLimitedLoggerHoldsBackRepeats(t *testing.T) {
	buf := &testutil.SyncBuffer{}
	l := newLimitedLogger(hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Trace}))
	now := testStart
	l.now = func() time.Time { return now }
	for _, tc := range []struct {
		after  time.Duration
		kind   string
		logged bool
	}{
		{0, "a", true},
		{time.Second, "a", false},
		{time.Second, "b", true}, // another kind is not held back
		{5 * time.Second, "a", false},
		{4 * time.Second, "a", true}, // 10 s after the first: logged, with 2 held back
		{time.Second, "a", false},
	} {
		now = now.Add(tc.after)
		if got := l.Log(hclog.Warn, tc.kind, "trouble "+tc.kind); got != tc.logged {
			t.Errorf("at %s kind %s: logged %v, want %v", now.Sub(testStart), tc.kind, got, tc.logged)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "suppressed=2") {
		t.Errorf("log lines %q; want 3, the last saying 2 were suppressed", lines)
	}
}

func TestTruncateKeepsCharactersWhole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"aé", 2, "a…"}, // é is two bytes: not cut in half
		{"ééé", 3, "é…"},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
