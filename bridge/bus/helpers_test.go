package bus

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/monitors"
)

// The samples are what docs/events.md shows; change one and run
// go test ./bridge/bus -run TestEventsDoc -update.

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func sampleAgent() monitors.Agent {
	return monitors.Agent{
		ID: "a-0001", Name: "Ada Lovelace", Email: "ada@example.com", Status: monitors.InSession,
		Queues: []string{"support", "support/printers"}, ActiveSessions: 1, MaxSessions: 2,
		StatusSince: at("2026-03-02T09:14:05Z"),
	}
}

func sampleQueue() monitors.Queue {
	return monitors.Queue{
		ID: "support/printers", Name: "Printers", Parent: "support", Waiting: 3,
		OldestRequestAt: at("2026-03-02T09:13:22.5Z"), AgentsLoggedIn: 5, AgentsAvailable: 1,
		LongestWait: 42500 * time.Millisecond, AsOf: at("2026-03-02T09:14:05Z"),
	}
}

func sampleAvailability() availability.Desired {
	return availability.Desired{
		AgentID: "a-0001", Available: false, State: monitors.InSession,
		Reason: availability.DefaultReason, Version: 7, Since: at("2026-03-02T09:14:05Z"),
	}
}

func sampleRequest() monitors.Request {
	return monitors.Request{
		ID: "r-5f1c", Queue: "support/printers", Status: "waiting", CreatedAt: at("2026-03-02T09:13:22.5Z"),
		Name: "Grace Hopper", Email: "grace@example.com", Problem: "The printer prints blank pages",
		Fields: map[string]string{"account": "ACME-42", "serial_number": "PRN-0042"},
	}
}

func sampleSession() monitors.SessionSummary {
	return monitors.SessionSummary{
		ID: "s-9b02", RequestID: "r-5f1c", AgentID: "a-0001", Queue: "support/printers",
		ExternalRef: "TICKET-1234", StartedAt: at("2026-03-02T09:14:05Z"), EndedAt: at("2026-03-02T09:31:47Z"),
		DurationSeconds: 1062,
	}
}

// embedded is a config for an embedded server on a free port with a fresh
// store.
func embedded(t testing.TB) Config {
	t.Helper()
	return Config{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"}
}

// open opens a bus that the test closes at its end.
func open(t testing.TB, cfg Config) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// testLogger logs at debug level into a buffer that the test prints when
// it fails (logging straight to t would race with server goroutines that
// outlive a test).
func testLogger(t testing.TB) hclog.Logger {
	t.Helper()
	buf := &testutil.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf.String())
		}
	})
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: buf})
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
