package simulator

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFaultKinds(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		check  func(t *testing.T, code int, body []byte)
	}{
		{"error rate", Faults{ErrorRate: 1}, func(t *testing.T, code int, body []byte) {
			var e ErrorJSON
			if code != 503 || json.Unmarshal(body, &e) != nil || e.Error.Code != "unavailable" {
				t.Fatalf("%d %s, want 503 unavailable", code, body)
			}
		}},
		{"malformed", Faults{MalformedRate: 1}, func(t *testing.T, code int, body []byte) {
			if code != 200 || json.Valid(body) {
				t.Fatalf("%d %s, want 200 with broken JSON", code, body)
			}
		}},
		{"error body", Faults{ErrorBodyRate: 1}, func(t *testing.T, code int, body []byte) {
			var e ErrorJSON
			if code != 200 || json.Unmarshal(body, &e) != nil || e.Error.Code != "internal" {
				t.Fatalf("%d %s, want 200 with an error body", code, body)
			}
		}},
		{"none", Faults{}, func(t *testing.T, code int, body []byte) {
			var s AgentsSnapshot
			if code != 200 || json.Unmarshal(body, &s) != nil || len(s.Agents) != 20 {
				t.Fatalf("%d %s, want the agents", code, body)
			}
		}},
	}
	env := newTestEnv(t, smallScenario())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(tc.faults)
			if code, _, body := env.do("POST", "/v1/admin/faults", "application/json", b); code != 200 {
				t.Fatalf("set faults: %d %s", code, body)
			}
			for range 5 {
				code, _, body := env.do("GET", "/v1/monitors/agents", "", nil)
				tc.check(t, code, body)
			}
			// The admin call itself is never faulted.
			if code, _, body := env.do("GET", "/v1/admin/faults", "", nil); code != 200 || !json.Valid(body) {
				t.Fatalf("admin call faulted: %d %s", code, body)
			}
		})
	}
}

func TestFaultShares(t *testing.T) {
	env := newTestEnv(t, smallScenario())
	env.do("POST", "/v1/admin/faults", "application/json", []byte(`{"error_rate":0.3}`))
	failed := 0
	for range 400 {
		if code, _, _ := env.do("GET", "/v1/monitors/queues", "", nil); code == 503 {
			failed++
		}
	}
	// 120 expected; the binomial sd is about 9.
	if failed < 80 || failed > 160 {
		t.Fatalf("%d of 400 calls failed at error_rate 0.3", failed)
	}
}

func TestFaultLatency(t *testing.T) {
	env := newTestEnv(t, smallScenario())
	env.do("POST", "/v1/admin/faults", "application/json", []byte(`{"latency_ms":150}`))
	start := time.Now()
	if code, _, _ := env.do("GET", "/v1/monitors/queues", "", nil); code != 200 {
		t.Fatal(code)
	}
	// A lower bound only: the call must have been held back.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("call answered after %s, want at least the injected 150ms", d)
	}
	// Properties left out keep their value.
	_, _, body := env.do("POST", "/v1/admin/faults", "application/json", []byte(`{"error_rate":0.5}`))
	var f Faults
	if json.Unmarshal(body, &f); f.LatencyMS != 150 || f.ErrorRate != 0.5 {
		t.Fatalf("faults after a partial change: %s", body)
	}
}

func TestScaledClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewScaledClock(start, 3600)
	time.Sleep(10 * time.Millisecond)
	// At least 10 ms of wall time passed: at least 36 simulated seconds.
	if d := c.Now().Sub(start); d < 36*time.Second {
		t.Fatalf("simulated %s after 10 ms at 3600x", d)
	}
}
