package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/monitors"
)

// trickyIDs are ids that are not subject tokens as they stand.
var trickyIDs = []string{"a-0001", "support/printers", "jo.doe@example.com", "a b", "*", ">", "x=y", "Zoë 東京", "..."}

// getKV reads one key back and decodes it.
func getKV[T any](t *testing.T, kv jetstream.KeyValue, id string, decode func([]byte) (T, error)) T {
	t.Helper()
	e, err := kv.Get(ctxT(t), Token(id))
	if err != nil {
		t.Fatalf("get %q from %s: %v", id, kv.Bucket(), err)
	}
	v, err := decode(e.Value())
	if err != nil {
		t.Fatalf("decode %q from %s: %v", id, kv.Bucket(), err)
	}
	return v
}

func TestKVRoundTrip(t *testing.T) {
	b := open(t, embedded(t))
	ctx := ctxT(t)
	for _, id := range trickyIDs {
		t.Run(id, func(t *testing.T) {
			a := sampleAgent()
			a.ID = id
			if err := b.PutAgent(ctx, a); err != nil {
				t.Fatal(err)
			}
			if got := getKV(t, b.agents, id, DecodeAgent); !reflect.DeepEqual(got, a) {
				t.Errorf("agent:\n got %+v\nwant %+v", got, a)
			}

			q := sampleQueue()
			q.ID = id
			if err := b.PutQueue(ctx, q); err != nil {
				t.Fatal(err)
			}
			if got := getKV(t, b.queues, id, DecodeQueue); !reflect.DeepEqual(got, q) {
				t.Errorf("queue:\n got %+v\nwant %+v", got, q)
			}

			d := sampleAvailability()
			d.AgentID = id
			if err := b.PutAvailability(ctx, d); err != nil {
				t.Fatal(err)
			}
			if got := getKV(t, b.availability, id, DecodeAvailability); !reflect.DeepEqual(got, d) {
				t.Errorf("availability:\n got %+v\nwant %+v", got, d)
			}

			if err := b.DeleteAgent(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := b.agents.Get(ctx, Token(id)); !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Errorf("agent after DeleteAgent: got %v, want ErrKeyNotFound", err)
			}
			if err := b.DeleteQueue(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := b.queues.Get(ctx, Token(id)); !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Errorf("queue after DeleteQueue: got %v, want ErrKeyNotFound", err)
			}
		})
	}
}

func TestPutRefusesInvalid(t *testing.T) {
	b := open(t, Config{DataDir: t.TempDir(), Listen: NoListener})
	ctx := ctxT(t)
	noID := sampleAgent()
	noID.ID = ""
	badStatus := sampleAgent()
	badStatus.Status = "busy"
	noVersion := sampleAvailability()
	noVersion.Version = 0
	noQueue := sampleSession()
	noQueue.Queue = ""
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"agent without id", func() error { return b.PutAgent(ctx, noID) }, `"id" is missing`},
		{"agent with unknown status", func() error { return b.PutAgent(ctx, badStatus) }, `unknown agent status "busy"`},
		{"availability version 0", func() error { return b.PutAvailability(ctx, noVersion) }, "version is 0"},
		{"session without queue", func() error { return b.PublishSession(ctx, noQueue) }, `"queue" is missing`},
		{"delete empty id", func() error { return b.DeleteAgent(ctx, "") }, "empty id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestRepublish subscribes as a third party would, with a plain core
// subscription on acdbridge.> over TCP, and checks what every call
// publishes.
func TestRepublish(t *testing.T) {
	b := open(t, embedded(t))
	ctx := ctxT(t)
	nc, err := nats.Connect(b.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msgs := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("acdbridge.>", msgs); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	must := func(data []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	agent := sampleAgent()
	agent.ID = "jo.doe@example.com"
	tests := []struct {
		name        string
		do          func() error
		wantSubject string
		wantData    []byte
		wantOp      string // KV-Operation header
	}{
		{"agent", func() error { return b.PutAgent(ctx, agent) },
			"acdbridge.agent.jo=2Edoe=40example=2Ecom", must(EncodeAgent(agent)), ""},
		{"queue", func() error { return b.PutQueue(ctx, sampleQueue()) },
			"acdbridge.queue.support=2Fprinters", must(EncodeQueue(sampleQueue())), ""},
		{"availability", func() error { return b.PutAvailability(ctx, sampleAvailability()) },
			"acdbridge.availability.a-0001", must(EncodeAvailability(sampleAvailability())), ""},
		{"agent deleted", func() error { return b.DeleteAgent(ctx, agent.ID) },
			"acdbridge.agent.jo=2Edoe=40example=2Ecom", nil, "DEL"},
		{"queue deleted", func() error { return b.DeleteQueue(ctx, "support/printers") },
			"acdbridge.queue.support=2Fprinters", nil, "DEL"},
		{"request", func() error { return b.PublishRequest(ctx, sampleRequest()) },
			"acdbridge.request.support=2Fprinters", must(EncodeRequest(sampleRequest())), ""},
		{"session", func() error { return b.PublishSession(ctx, sampleSession()) },
			"acdbridge.session.support=2Fprinters", must(EncodeSession(sampleSession())), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-msgs:
				if m.Subject != tc.wantSubject {
					t.Errorf("subject %q, want %q", m.Subject, tc.wantSubject)
				}
				if string(m.Data) != string(tc.wantData) {
					t.Errorf("payload\n got %s\nwant %s", m.Data, tc.wantData)
				}
				if op := m.Header.Get("KV-Operation"); op != tc.wantOp {
					t.Errorf("KV-Operation %q, want %q", op, tc.wantOp)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("nothing on acdbridge.> after 5s; want %s", tc.wantSubject)
			}
		})
	}
	select {
	case m := <-msgs:
		t.Errorf("unexpected message on %s: %s", m.Subject, m.Data)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestAvailabilityPersists closes the bus and opens it again on the same
// data folder: every key comes back.
func TestAvailabilityPersists(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), Listen: NoListener}
	ctx := ctxT(t)

	b, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Availability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("fresh store: %d availabilities, want 0", len(got))
	}
	want := map[string]availability.Desired{}
	for i, id := range trickyIDs {
		d := sampleAvailability()
		d.AgentID = id
		d.Version = uint64(i + 1)
		d.Available = i%2 == 0
		if d.Available {
			d.State, d.Reason = monitors.Available, ""
		}
		for v := uint64(1); v <= d.Version; v++ { // older versions are overwritten
			d := d
			d.Version = v
			if err := b.PutAvailability(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		want[id] = d
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = open(t, cfg)
	got, err = b.Availability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after re-Open:\n got %+v\nwant %+v", got, want)
	}
}

// TestAvailabilityRejectsForeignValue: a value the bridge did not write is
// an error that names the key, not a silent gap in the versions.
func TestAvailabilityRejectsForeignValue(t *testing.T) {
	b := open(t, Config{DataDir: t.TempDir(), Listen: NoListener})
	ctx := ctxT(t)
	if err := b.PutAvailability(ctx, sampleAvailability()); err != nil {
		t.Fatal(err)
	}
	other := sampleAvailability()
	other.AgentID = "a-0002"
	wrongKey, _ := EncodeAvailability(other)
	tests := []struct {
		name, key, value, want string
	}{
		{"not JSON", "a-0003", "paused", `key "a-0003"`},
		{"version 2", "a-0003", `{"v":2}`, "expected 1"},
		{"key of another agent", "a-0003", string(wrongKey), `holds agent "a-0002": expected key "a-0002"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := b.availability.Put(ctx, tc.key, []byte(tc.value)); err != nil {
				t.Fatal(err)
			}
			_, err := b.Availability(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestEventsDedup(t *testing.T) {
	b := open(t, Config{DataDir: t.TempDir(), Listen: NoListener})
	ctx := ctxT(t)
	taken := sampleRequest()
	taken.Status, taken.AgentID, taken.SessionID = "in_session", "a-0001", "s-9b02"
	other := sampleSession()
	other.ID = "s-9b03"
	tests := []struct {
		name     string
		do       func() error
		wantMsgs uint64
	}{
		{"first session", func() error { return b.PublishSession(ctx, sampleSession()) }, 1},
		{"same session again", func() error { return b.PublishSession(ctx, sampleSession()) }, 1},
		{"another session", func() error { return b.PublishSession(ctx, other) }, 2},
		{"request waiting", func() error { return b.PublishRequest(ctx, sampleRequest()) }, 3},
		{"request waiting again", func() error { return b.PublishRequest(ctx, sampleRequest()) }, 3},
		{"request taken", func() error { return b.PublishRequest(ctx, taken) }, 4},
	}
	stream, err := b.js.Stream(ctx, StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			info, err := stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != tc.wantMsgs {
				t.Errorf("stream %s holds %d messages, want %d", StreamEvents, info.State.Msgs, tc.wantMsgs)
			}
		})
	}
	msg, err := stream.GetLastMsgForSubject(ctx, SessionSubject("support/printers"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeSession(msg.Data); err != nil || !reflect.DeepEqual(got, other) {
		t.Errorf("last session in the stream: %+v, %v; want %+v", got, err, other)
	}
}

func TestStreamAndBucketConfig(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), Listen: NoListener, MaxAge: 48 * time.Hour}
	b := open(t, cfg)
	ctx := ctxT(t)
	stream, err := b.js.Stream(ctx, StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	sc := stream.CachedInfo().Config
	if sc.MaxAge != 48*time.Hour || sc.Storage != jetstream.FileStorage || sc.Duplicates != time.Hour {
		t.Errorf("EVENTS: max age %s, storage %s, duplicates %s; want 48h, file, 1h", sc.MaxAge, sc.Storage, sc.Duplicates)
	}
	wantSubjects := []string{"acdbridge.request.>", "acdbridge.session.>", "acdbridge.alert.>"}
	if !reflect.DeepEqual(sc.Subjects, wantSubjects) {
		t.Errorf("EVENTS subjects %q, want %q", sc.Subjects, wantSubjects)
	}
	for _, k := range b.buckets() {
		st, err := (*k.kv).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rp := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.RePublish
		want := &jetstream.RePublish{Source: "$KV." + k.name + ".>", Destination: "acdbridge." + k.kind + ".>"}
		if !reflect.DeepEqual(rp, want) {
			t.Errorf("bucket %s republish %+v, want %+v", k.name, rp, want)
		}
	}

	// Open again with another max age: the stream is updated, not refused.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.MaxAge = 0
	b = open(t, cfg)
	stream, err = b.js.Stream(ctx, StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if got := stream.CachedInfo().Config.MaxAge; got != DefaultMaxAge {
		t.Errorf("EVENTS max age after re-Open: %s, want %s", got, DefaultMaxAge)
	}
}

func TestTail(t *testing.T) {
	b := open(t, embedded(t))
	tests := []struct {
		name, subject, wantSubject string
		publish                    func(ctx context.Context) error
	}{
		{"default subject", "", "acdbridge.availability.a-0001",
			func(ctx context.Context) error { return b.PutAvailability(ctx, sampleAvailability()) }},
		{"one queue's sessions", "acdbridge.session.support=2Fprinters", "acdbridge.session.support=2Fprinters",
			func(ctx context.Context) error {
				// Unrelated traffic first: Tail must not pass it on.
				if err := b.PutAgent(ctx, sampleAgent()); err != nil {
					return err
				}
				s := sampleSession()
				s.ID = fmt.Sprint("s-", time.Now().UnixNano()) // not a duplicate
				return b.PublishSession(ctx, s)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			type msg struct{ subject, data string }
			got := make(chan msg, 100)
			done := make(chan error, 1)
			go func() {
				done <- Tail(ctx, b.ClientURL(), nil, tc.subject, func(s string, d []byte) { got <- msg{s, string(d)} })
			}()
			// Tail subscribes "from now on": publish until it has seen one.
			var first msg
		wait:
			for {
				if err := tc.publish(ctx); err != nil {
					t.Fatal(err)
				}
				select {
				case first = <-got:
					break wait
				case err := <-done:
					t.Fatalf("Tail returned early: %v", err)
				case <-time.After(50 * time.Millisecond):
				}
			}
			if first.subject != tc.wantSubject {
				t.Errorf("subject %q, want %q", first.subject, tc.wantSubject)
			}
			if !strings.HasPrefix(first.data, `{"v":1,`) {
				t.Errorf("payload %s, want a v1 message", first.data)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Tail after cancel: %v, want nil", err)
			}
		})
	}
}

func TestTailErrors(t *testing.T) {
	tests := []struct {
		name, url, subject string
		fn                 func(string, []byte)
		want               string
	}{
		{"no server", "nats://127.0.0.1:1", "", func(string, []byte) {}, "is the server running"},
		{"invalid subject", "", "acdbridge..x", func(string, []byte) {}, "invalid subject"},
		{"nil fn", "nats://127.0.0.1:1", "", nil, "fn is nil"},
	}
	b := open(t, embedded(t))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				url = b.ClientURL()
			}
			err := Tail(ctxT(t), url, nil, tc.subject, tc.fn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestOpenUnreachable: no server at the URL fails fast and says what to do,
// without the password in the URL.
func TestOpenUnreachable(t *testing.T) {
	tests := []struct{ name, url, want string }{
		{"refused", "nats://127.0.0.1:1", "connect to nats://127.0.0.1:1: "},
		{"cluster", "nats://127.0.0.1:1,nats://127.0.0.1:2", "connect to nats://127.0.0.1:1,nats://127.0.0.1:2: "},
		{"password redacted", "nats://bridge:s3cret@127.0.0.1:1", "connect to nats://REDACTED@127.0.0.1:1: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := time.Now()
			b, err := Open(ctx, Config{URL: tc.url}, testLogger(t))
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded without a server")
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Open took %s to fail; want fast", took)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "is the server running? set bus.url") {
				t.Errorf("error %q; want it to contain %q and the hint", msg, tc.want)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
	t.Run("blackhole respects ctx", func(t *testing.T) {
		// 192.0.2.0/24 is TEST-NET-1: packets go nowhere, so only the
		// deadline ends the attempt.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Open(ctx, Config{URL: "nats://192.0.2.1:4222"}, testLogger(t))
		if err == nil {
			t.Fatal("Open succeeded")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Open took %s with a 300ms deadline", took)
		}
	})
}

// runServer starts a NATS server in the test process, standing in for an
// external one.
func runServer(t testing.TB, jetStream bool) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: jetStream, StoreDir: t.TempDir(), DisableJetStreamBanner: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("test NATS server not ready")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

func TestExternalServer(t *testing.T) {
	srv := runServer(t, true)
	cfg := Config{URL: srv.ClientURL(), DataDir: t.TempDir()}
	b := open(t, cfg)
	ctx := ctxT(t)
	if b.srv != nil {
		t.Fatal("an embedded server runs although bus.url is set")
	}
	if got := b.ClientURL(); got != cfg.URL {
		t.Errorf("ClientURL %q, want %q", got, cfg.URL)
	}
	if err := b.PutAvailability(ctx, sampleAvailability()); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishSession(ctx, sampleSession()); err != nil {
		t.Fatal(err)
	}
	got, err := b.Availability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]availability.Desired{"a-0001": sampleAvailability()}; !reflect.DeepEqual(got, want) {
		t.Errorf("Availability %+v, want %+v", got, want)
	}
	// The buckets and the stream live on the external server.
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	names := js.StreamNames(ctx)
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	want := []string{"EVENTS", "KV_agents", "KV_availability", "KV_queues"}
	if !sameSet(streams, want) {
		t.Errorf("streams on the external server: %q, want %q", streams, want)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "nats")); err == nil {
		t.Errorf("a store folder was made in data_dir although bus.url is set")
	}
}

func TestExternalServerWithoutJetStream(t *testing.T) {
	srv := runServer(t, false)
	_, err := Open(ctxT(t), Config{URL: srv.ClientURL()}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "expected it enabled") {
		t.Errorf("got %v, want an error saying JetStream must be enabled", err)
	}
}

func TestEmbeddedPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	_, err = Open(ctxT(t), Config{DataDir: t.TempDir(), Listen: l.Addr().String()}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "set bus.listen") {
		t.Errorf("got %v, want an error saying the address is in use and what to set", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s to fail", took)
	}
}

// TestEmbeddedListener: the embedded server listens where it was told, on
// loopback, and its log is relayed through hclog under bus.server.
func TestEmbeddedListener(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Name: "acdbridge", Level: hclog.Debug, Output: logs})
	b, err := Open(ctxT(t), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	url := b.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":-1") || strings.HasSuffix(url, ":0") {
		t.Errorf("ClientURL %q, want nats://127.0.0.1:<port>", url)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := nats.Connect(url, nats.Timeout(time.Second)); err == nil {
		t.Errorf("connected to %s after Close", url)
	}
	out := logs.String()
	for _, want := range []string{
		"[INFO]  acdbridge.bus: embedded NATS server ready: client_url=" + url,
		"[DEBUG] acdbridge.bus.server: Server is ready",
		"[DEBUG] acdbridge.bus.server: Server Exiting..",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}

	// No listener: in-process only.
	b = open(t, Config{DataDir: t.TempDir(), Listen: NoListener})
	if got := b.ClientURL(); got != "" {
		t.Errorf("ClientURL with no listener: %q, want empty", got)
	}
}

func TestCloseTwice(t *testing.T) {
	b, err := Open(ctxT(t), Config{DataDir: t.TempDir(), Listen: NoListener}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.PutAgent(ctxT(t), sampleAgent()); err == nil {
		t.Error("PutAgent after Close succeeded")
	}
}

// TestConcurrentPuts is for the race detector.
func TestConcurrentPuts(t *testing.T) {
	b := open(t, Config{DataDir: t.TempDir(), Listen: NoListener})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				d := sampleAvailability()
				d.AgentID = fmt.Sprintf("a-%d", w)
				d.Version = uint64(i + 1)
				if err := b.PutAvailability(ctx, d); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := b.Availability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for w := range 8 {
		if d := got[fmt.Sprintf("a-%d", w)]; d.Version != 50 {
			t.Errorf("a-%d at version %d, want 50", w, d.Version)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}
