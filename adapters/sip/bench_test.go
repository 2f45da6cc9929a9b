package sip

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// benchAgents are n agents at version v, busy on odd versions.
func benchAgents(n int, v uint64) []sdk.Availability {
	items := make([]sdk.Availability, n)
	for i := range items {
		state := "available"
		if v%2 == 1 {
			state = "in_session"
		}
		items[i] = item(fmt.Sprintf("a-%05d", i), fmt.Sprintf("sip:agent%05d@example.test", i), state, v)
	}
	return items
}

// BenchmarkPublish: PUBLISH transactions per second over UDP loopback
// against the in-process peer, 500 agents a batch, changes (modify with
// SIP-If-Match) after the first batch. The rate limit is set out of the way.
func BenchmarkPublish(b *testing.B) {
	p := NewPeer(b)
	a := New(hclog.NewNullLogger())
	js, _ := json.Marshal(map[string]any{"address": p.Addr(), "rate": 100000, "timeout": "5s"})
	if err := a.Configure(context.Background(), sdk.Settings{Instance: "bench", JSON: js}); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	const batch = 500
	ctx := context.Background()
	b.ResetTimer()
	done := 0
	for v := uint64(1); done < b.N; v++ {
		n := min(batch, b.N-done)
		for _, r := range a.SetAvailability(ctx, benchAgents(n, v)) {
			if r.Outcome != sdk.Applied {
				b.Fatalf("%+v", r)
			}
		}
		done += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publish/s")
}

// bulkWatcher holds many subscriptions from one UA and answers every
// NOTIFY 200, counting them.
type bulkWatcher struct {
	ua       *sipgo.UserAgent
	client   *sipgo.Client
	port     int
	notifies atomic.Int64
}

func newBulkWatcher(tb testing.TB) *bulkWatcher {
	ua, quiet := testUA(tb, "")
	w := &bulkWatcher{ua: ua}
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		w.notifies.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	w.port = udp.LocalAddr().(*net.UDPAddr).Port
	go srv.ServeUDP(udp)
	w.client, _ = sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(udp.LocalAddr().String()))
	tb.Cleanup(func() { udp.Close(); ua.Close() })
	return w
}

func (w *bulkWatcher) subscribe(ctx context.Context, addr, aor string) error {
	var u sip.Uri
	if err := sip.ParseUri(aor, &u); err != nil {
		return err
	}
	req := sip.NewRequest(sip.SUBSCRIBE, u)
	req.SetTransport("UDP")
	req.SetDestination(addr)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "bench", Host: "example.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: u, Params: sip.NewParams()})
	cid := sip.CallIDHeader(uuid.NewString())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:bench@127.0.0.1:%d>", w.port)))
	req.AppendHeader(sip.NewHeader("Event", EventPresence))
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	req.SetBody(nil)
	res, err := w.client.Do(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("SUBSCRIBE %s: %s", aor, res.StartLine())
	}
	return nil
}

// BenchmarkNotify10k: server mode with 10,000 subscriptions (1,000 agents,
// 10 watchers each over UDP loopback); each iteration changes every agent,
// which is 10,000 NOTIFY transactions. Reports NOTIFYs per second.
func BenchmarkNotify10k(b *testing.B) {
	const agents, perAgent = 1000, 10
	ctx := context.Background()
	a := New(hclog.NewNullLogger())
	js, _ := json.Marshal(map[string]any{"mode": "server", "listen": "127.0.0.1:0", "timeout": "10s"})
	if err := a.Configure(ctx, sdk.Settings{Instance: "bench", JSON: js}); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	addr := a.srv.Addr()
	a.SetAvailability(ctx, benchAgents(agents, 0))
	w := newBulkWatcher(b)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := range agents * perAgent {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := w.subscribe(ctx, addr, fmt.Sprintf("sip:agent%05d@example.test", i%agents)); err != nil {
				failed.Store(err)
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	want := int64(agents * perAgent) // the initial NOTIFYs
	waitNotifies := func() {
		for deadline := time.Now().Add(2 * time.Minute); w.notifies.Load() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d NOTIFYs of %d after 2 minutes", w.notifies.Load(), want)
			}
		}
	}
	waitNotifies()
	b.ResetTimer()
	for i := range b.N {
		a.SetAvailability(ctx, benchAgents(agents, uint64(i+1)))
		want += agents * perAgent
		waitNotifies()
	}
	b.ReportMetric(float64(b.N*agents*perAgent)/b.Elapsed().Seconds(), "notify/s")
}
