package simulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// testStart is the simulated time every test starts at.
var testStart = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const testToken = "test-token"

// testEnv is a simulator behind an httptest server, on a manual clock.
type testEnv struct {
	t      *testing.T
	clock  *ManualClock
	engine *Engine
	server *Server
	url    string
}

// newTestEnv starts sc's simulator at testStart. The clock moves only when the
// test moves it.
func newTestEnv(t *testing.T, sc Scenario) *testEnv {
	t.Helper()
	clock := NewManualClock(testStart)
	eng, err := NewEngine(sc, clock, 4096)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	srv, err := NewServer(eng, Options{Token: testToken, Heartbeat: time.Hour})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return &testEnv{t: t, clock: clock, engine: eng, server: srv, url: hs.URL}
}

// smallScenario is DefaultScenario(20, 6) with 2 days of history.
func smallScenario() Scenario {
	sc := DefaultScenario(20, 6)
	sc.Seed = 7
	sc.History = 48 * time.Hour
	return sc
}

// do sends a call with the test token and returns the status and body.
func (e *testEnv) do(method, path, contentType string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// getJSON GETs path, expects 200, and decodes the body into v.
func (e *testEnv) getJSON(path string, v any) {
	e.t.Helper()
	code, _, b := e.do("GET", path, "", nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: status %d, body %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("GET %s: decode: %v; body %s", path, err, b)
	}
}
