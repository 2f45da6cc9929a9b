package dispatch

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// recordJSON is a whole session record as the bus carries it, every field
// set.
const recordJSON = `{"v":1,"id":"s-9b02","request_id":"r-5f1c","agent_id":"a-0001","queue":"support/printers",
"external_ref":"42","started_at":"2026-03-02T09:14:05Z","ended_at":"2026-03-02T09:31:47.25Z","duration_seconds":1062.25,
"customer":{"name":"Grace Hopper","email":"grace@example.com"},
"fields":{"problem":"blank pages","serial_number":"PRN-0042"},
"events":[{"at":"2026-03-02T09:14:09Z","type":"chat","from":"customer","text":"It prints blank pages."},
 {"at":"2026-03-02T09:15:30Z","type":"transfer","from":"a-0001","to":"a-0002","text":"driver expert",
  "file":{"name":"driver.zip","size":1048576,"direction":"to_customer"},
  "diagnostics":{"os":"Windows 11","hostname":"PC-GRACE","memory_mb":16384,"software":[{"name":"PrinterDriver","version":"4.2"},{"name":"Office","version":"16"}]}}],
"resolution":"unresolved","survey":{"rating":2,"comment":"slow"},
"recording":{"size":734003,"sha256":"` + "3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f" + `","url":"http://127.0.0.1:8089/v1/sessions/s-9b02/recording","path":"2026/03/02/s-9b02.webm"},
"replay_url":"http://127.0.0.1:8089/replay/s-9b02"}`

func utcAt(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// wantRecord is recordJSON as the adapter must get it.
func wantRecord() sdk.Session {
	return sdk.Session{
		ID: "s-9b02", RequestID: "r-5f1c", AgentID: "a-0001", Queue: "support/printers", ExternalRef: "42",
		StartedAt: utcAt("2026-03-02T09:14:05Z"), EndedAt: utcAt("2026-03-02T09:31:47.25Z"), DurationSeconds: 1062.25,
		Customer: sdk.Customer{Name: "Grace Hopper", Email: "grace@example.com"},
		Fields:   map[string]string{"problem": "blank pages", "serial_number": "PRN-0042"},
		Events: []sdk.SessionEvent{
			{At: utcAt("2026-03-02T09:14:09Z"), Type: "chat", From: "customer", Text: "It prints blank pages."},
			{At: utcAt("2026-03-02T09:15:30Z"), Type: "transfer", From: "a-0001", To: "a-0002", Text: "driver expert",
				File: &sdk.FileInfo{Name: "driver.zip", Size: 1048576, Direction: "to_customer"},
				Diagnostics: &sdk.Diagnostics{OS: "Windows 11", Hostname: "PC-GRACE", MemoryMB: 16384,
					Software: []sdk.Software{{Name: "PrinterDriver", Version: "4.2"}, {Name: "Office", Version: "16"}}}},
		},
		Resolution: "unresolved",
		Survey:     &sdk.Survey{Rating: 2, Comment: "slow"},
		Recording: &sdk.Recording{Size: 734003, SHA256: strings.Repeat("3f", 32),
			URL: "http://127.0.0.1:8089/v1/sessions/s-9b02/recording", Path: "2026/03/02/s-9b02.webm"},
		ReplayURL: "http://127.0.0.1:8089/replay/s-9b02",
	}
}

// sessionTaker is an adapter, served over gRPC in the test process, that
// keeps the sessions it gets.
type sessionTaker struct {
	mu  sync.Mutex
	got []sdk.Session
}

func (a *sessionTaker) Info() sdk.Info                                { return sdk.Info{Name: "taker", Version: "1"} }
func (a *sessionTaker) Configure(context.Context, sdk.Settings) error { return nil }
func (a *sessionTaker) Health(context.Context) sdk.Health             { return sdk.Health{Status: sdk.Up} }
func (a *sessionTaker) HandleSession(_ context.Context, s sdk.Session) sdk.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, s)
	return sdk.Result{Outcome: sdk.Applied, Reference: "ticket 42"}
}

// grpcInstance is a real sdk.Client (protobuf over gRPC) as a worker's
// instance.
type grpcInstance struct{ sdk.Client }

func (grpcInstance) Exited() bool { return false }
func (grpcInstance) Kill()        {}

// TestSessionRecordReachesTheAdapterWhole: bus JSON → bus.SessionMsg →
// sdk.Session → protobuf over gRPC → sdk.Session in the adapter, every
// field compared; a summary-only message arrives as a summary; a record
// that does not read is a dead letter.
func TestSessionRecordReachesTheAdapterWhole(t *testing.T) {
	want := wantRecord()
	if z := testutil.ZeroFields(want); !reflect.DeepEqual(z, []string{"Events[0].To", "Events[0].File", "Events[0].Diagnostics"}) {
		t.Fatalf("the fixture leaves fields unset, so a conversion dropping them would pass: %v", z)
	}
	taker := &sessionTaker{}
	conn, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.Plugin{Impl: taker}})
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	inst := grpcInstance{raw.(sdk.Client)}

	ds := &desiredState{m: map[string]availability.Desired{}}
	w := newWorker(t, "taker", ds, NewMetrics(prometheus.NewRegistry()), func(o *Options) { o.EventsOnly = true })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, func(context.Context) (Instance, error) { return inst, nil })

	full := bus.Event{Subject: bus.SessionSubject("support/printers"), Kind: bus.KindSession, Data: []byte(recordJSON)}
	eventually(t, "the adapter to run", func() bool { return w.HandleEvent(ctx, full) == nil })

	summaryJSON, err := bus.EncodeSession(monitors.SessionSummary{ID: "s-2", AgentID: "a-2", Queue: "q",
		StartedAt: utcAt("2026-03-02T09:00:00Z"), EndedAt: utcAt("2026-03-02T09:01:00Z"), DurationSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.HandleEvent(ctx, bus.Event{Subject: "acdbridge.session.q", Kind: bus.KindSession, Data: summaryJSON}); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(recordJSON, `"rating":2`, `"rating":7`, 1)
	err = w.HandleEvent(ctx, bus.Event{Subject: "acdbridge.session.q", Kind: bus.KindSession, Data: []byte(bad)})
	if !errors.Is(err, bus.ErrPermanent) || !strings.Contains(err.Error(), `"survey.rating" is 7: expected 1 to 5`) {
		t.Fatalf("a bad record: %v, want a dead letter saying what is wrong", err)
	}

	taker.mu.Lock()
	defer taker.mu.Unlock()
	if len(taker.got) != 2 {
		t.Fatalf("the adapter got %d sessions, want 2", len(taker.got))
	}
	if !reflect.DeepEqual(taker.got[0], want) {
		t.Fatalf("the adapter got\n%+v\nwant\n%+v", taker.got[0], want)
	}
	wantSummary := sdk.Session{ID: "s-2", AgentID: "a-2", Queue: "q", StartedAt: utcAt("2026-03-02T09:00:00Z"),
		EndedAt: utcAt("2026-03-02T09:01:00Z"), DurationSeconds: 60}
	if !reflect.DeepEqual(taker.got[1], wantSummary) {
		t.Fatalf("a summary arrived as\n%+v\nwant\n%+v", taker.got[1], wantSummary)
	}
}
