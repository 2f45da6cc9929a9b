package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// decodeAgentsWhole is the decoder the poll used before it decoded as it
// read: the whole body into the wire structs, then converted. It is kept
// here as the oracle that decodeAgentsFrom must agree with.
func decodeAgentsWhole(body []byte) (agentsSnapshot, error) {
	var w wireAgentsSnapshot
	if err := decodeBody(body, &w); err != nil {
		return agentsSnapshot{}, err
	}
	seq, asOf, err := stamp(w.Sequence, w.AsOf)
	if err != nil {
		return agentsSnapshot{}, err
	}
	agents, err := convertAgents(w.Agents)
	if err != nil {
		return agentsSnapshot{}, err
	}
	return agentsSnapshot{seq: seq, asOf: asOf, agents: agents}, nil
}

// sameAsWhole fails unless the streaming decoder and the oracle agree on
// body: both accept it with equal snapshots, or both reject it with the
// same kind. Messages may differ only for a wrong type (encoding/json
// names the field by the struct it decoded into).
func sameAsWhole(t *testing.T, body []byte) {
	t.Helper()
	got, gotErr := decodeAgentsFrom(bytes.NewReader(body))
	want, wantErr := decodeAgentsWhole(body)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("body %q:\nstream: %v\nwhole:  %v", body, gotErr, wantErr)
	}
	if wantErr != nil {
		var g, w *PayloadError
		if !errors.As(gotErr, &g) || !errors.As(wantErr, &w) {
			t.Fatalf("body %q: expected *PayloadError from both, got %T and %T", body, gotErr, wantErr)
		}
		if g.Kind != w.Kind {
			t.Fatalf("body %q: stream says %v, whole says %v", body, gotErr, wantErr)
		}
		if g.Kind != KindBadValue && g.Kind != KindMalformedJSON && g.Error() != w.Error() {
			t.Fatalf("body %q: messages differ:\nstream: %v\nwhole:  %v", body, gotErr, wantErr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %q: snapshots differ:\nstream: %+v\nwhole:  %+v", body, got, want)
	}
}

func TestDecodeAgentsFromMatchesWhole(t *testing.T) {
	good := agentsBody(5, goodAgentRows...)
	for _, body := range []string{
		good,
		agentsBody(5),
		agentsBody(5, agentJSON("", "away", 0)),
		agentsBody(5, agentJSON("a", "busy", -1)),
		agentsBody(5, agentJSON("a", "nonsense", 0)),
		agentsBody(5, agentJSON("a", "away", 0), agentJSON("a", "away", 0)),
		agentsBody(5, agentJSON("a", "away", 0), `{"id":"b","active_sessions":"x"}`, agentJSON("", "away", 0)),
		`{"sequence":1,"as_of":"2026-11-02T10:00:00+01:00","agents":[]}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00+01:00","agents":null}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00+01:00"}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00+01:00","agents":{"id":"a"}}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00+01:00","agents":5}`,
		`{"sequence":1,"as_of":"not a time","agents":[]}`,
		`{"sequence":"1","as_of":"2026-11-02T10:00:00Z","agents":[]}`,
		`{"as_of":"2026-11-02T10:00:00Z","agents":[]}`,
		`{"sequence":1,"agents":[]}`,
		`{"SEQUENCE":1,"As_Of":"2026-11-02T10:00:00Z","Agents":[{"id":"a","status":"away","queues":["q","q"]}]}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[{"id":"a","status":"away"}],"agents":[{"id":"b","status":"away"}]}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[{"id":"a","status":"bogus"}],"agents":[{"id":"b","status":"away"}]}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[{"id":"a","status":"away"}],"agents":null}`,
		`{"error":{"code":"internal","message":"x"}}`,
		`{"error":null,"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[]}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[{"id":"","status":"x"}],"error":{"code":"c","message":"m"}}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[],"extra":{"deep":[1,{"x":[]}]}}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[]} x`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[]} {}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[{"id":"a","status":"away"}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[{"id":"a","status":"away"},]}`,
		`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[{"id":"a","status":"away"}] ,`,
		`null`, `[]`, `[1,2`, `"x"`, `5`, `true`, ``, `   `, `{`, `}`, `{"a"}`, `{"agents":[}`,
		good[:len(good)/2],
	} {
		sameAsWhole(t, []byte(body))
	}
}

// A reset or poll of 100,000 agents shares each queue name among its
// agents instead of holding one copy per agent.
func TestDecodeAgentsFromInternsQueueNames(t *testing.T) {
	body := `{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[` +
		`{"id":"a","status":"away","queues":["support","sales"]},` +
		`{"id":"b","status":"away","queues":["sales","support"]}]}`
	s, err := decodeAgentsFrom(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.agents[0].Queues, s.agents[1].Queues
	if a[0] != b[1] || a[1] != b[0] {
		t.Fatalf("queues: got %q and %q", a, b)
	}
	if unsafeData(a[0]) != unsafeData(b[1]) || unsafeData(a[1]) != unsafeData(b[0]) {
		t.Fatalf("expected agents a and b to share the strings of their queue names")
	}
}

// A failure of the connection while the table is read is a transport
// failure, not a bad payload.
func TestDecodeAgentsFromReadFailure(t *testing.T) {
	cut := errors.New("connection reset by peer")
	body := agentsBody(5, goodAgentRows...)
	_, err := decodeAgentsFrom(io.MultiReader(strings.NewReader(body[:len(body)/2]), errReader{cut}))
	var pe *PayloadError
	if !errors.Is(err, cut) || errors.As(err, &pe) {
		t.Fatalf("expected the reader's error %q and no *PayloadError, got %v", cut, err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func FuzzAgentsStreamMatchesWhole(f *testing.F) {
	f.Add([]byte(agentsBody(5, goodAgentRows...)))
	f.Add([]byte(agentsBody(5, agentJSON("a", "away", 0), agentJSON("a", "away", 0))))
	f.Add([]byte(`{"Agents":[{"id":"a","status":"away"}],"agents":null,"sequence":1,"as_of":"2026-11-02T10:00:00Z"}`))
	f.Add([]byte(`{"error":{"code":"internal","message":"x"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsWhole(t, body)
	})
}

// bigAgentsBody is a 100,000-agent table as the simulator writes it.
func bigAgentsBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"sequence":1,"as_of":"2026-11-02T10:00:00Z","agents":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"agent-%06d","name":"Agent %06d","email":"agent%06d@example.com","status":"available","queues":["queue-%04d","queue-%04d"],"active_sessions":0,"max_sessions":2,"status_since":"%s"}`,
			i, i, i, i%5000, (i+1)%5000, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC).Format(time.RFC3339))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// BenchmarkDecodeAgents100k compares the memory a 100,000-agent poll
// allocates: whole (body held, wire rows, converted rows) and stream (rows
// converted as read). B/op is the figure to read; the body itself is
// counted for whole only, as the poll used to read it.
func BenchmarkDecodeAgents100k(b *testing.B) {
	body := bigAgentsBody(100_000)
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf := append([]byte(nil), body...)
			if _, err := decodeAgentsWhole(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeAgentsFrom(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }

// A poll whose body is cut off in the middle is a failed call, retried
// with backoff, and not a bad payload: nothing is counted as bad, nothing
// is passed on.
func TestPollCutMidBodyIsAFailedCall(t *testing.T) {
	body := agentsBody(5, goodAgentRows...)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(hs.Close)
	cfg := fastConfig(hs.URL)
	cfg.Stream = false
	r := start(t, cfg)
	waitFor(t, "a failed poll", func() bool {
		err := r.c.State().LastError
		return err != nil && strings.Contains(err.Error(), "GET "+pathAgents+": read the answer")
	})
	for _, k := range badKinds() {
		if v := testutil.ToFloat64(r.c.m.bad.WithLabelValues(k)); v != 0 {
			t.Errorf("bad_payloads_total{kind=%q} = %v, want 0: a cut connection is not a bad payload", k, v)
		}
	}
	if n := len(r.pic.all()); n != 0 {
		t.Errorf("%d updates from a cut body", n)
	}
}
