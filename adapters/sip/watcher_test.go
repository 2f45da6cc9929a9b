package sip

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
)

// Watcher is a SIP UA that subscribes to a presentity, as a phone's BLF
// or an ACD does, and keeps every NOTIFY it gets.
type Watcher struct {
	t          testing.TB
	ua         *sipgo.UserAgent
	client     *sipgo.Client
	Port       int
	User, Pass string
	udp        net.PacketConn
	tcp        net.Listener
	// Answer is the status the watcher answers NOTIFY with (default 200).
	Answer int
	// RecordRoute, when set, are Record-Route values put on the first
	// SUBSCRIBE, as proxies on the way would; Contact overrides the
	// watcher's own Contact URI.
	RecordRoute []string
	Contact     string
	// Accept overrides the Accept header (default the event's type).
	Accept string

	mu       sync.Mutex
	notifies []Notify
	changed  chan struct{}
	// the dialog, once established
	callID, fromTag, toTag string
	cseq                   uint32
	target                 sip.Uri // the notifier's Contact
	dest, transport        string
	aor                    sip.Uri
	event                  string
}

// Notify is one NOTIFY received.
type Notify struct {
	CSeq      uint32
	Event     string
	State     string // Subscription-State
	Type      string
	Body      string
	FromTag   string
	CallID    string
	RequestTo string
	Contact   string
	Routes    []string
}

// testUA is a user agent named name (sipgo's own name when "") whose
// logs, like those of the quiet logger it returns, go nowhere.
func testUA(tb testing.TB, name string) (*sipgo.UserAgent, *slog.Logger) {
	tb.Helper()
	sipgoDefaults(hclog.NewNullLogger()) // before any transport runs
	quiet := slog.New(slog.DiscardHandler)
	opts := []sipgo.UserAgentOption{sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet))}
	if name != "" {
		opts = append(opts, sipgo.WithUserAgent(name))
	}
	ua, err := sipgo.NewUA(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return ua, quiet
}

// testListen listens on 127.0.0.1 over UDP and TCP on one free port, as
// the presence server does.
func testListen(tb testing.TB) (net.PacketConn, net.Listener) {
	tb.Helper()
	udp, tcp, _, err := listen("127.0.0.1", 0, []string{"udp", "tcp"})
	if err != nil {
		tb.Fatal(err)
	}
	return udp, tcp
}

// NewWatcher starts a watcher listening on 127.0.0.1 (UDP and TCP).
func NewWatcher(t testing.TB, user, pass string) *Watcher {
	t.Helper()
	ua, quiet := testUA(t, user)
	w := &Watcher{t: t, ua: ua, User: user, Pass: pass, Answer: 200, changed: make(chan struct{})}
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	srv.OnNotify(w.onNotify)
	udp, tcp := testListen(t)
	w.udp, w.tcp, w.Port = udp, tcp, udp.LocalAddr().(*net.UDPAddr).Port
	go srv.ServeUDP(udp)
	go srv.ServeTCP(tcp)
	w.client, _ = sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(fmt.Sprintf("127.0.0.1:%d", w.Port)))
	t.Cleanup(func() { ua.Close() })
	return w
}

// Stop closes the watcher's sockets: it answers nothing any more.
func (w *Watcher) Stop() {
	w.udp.Close()
	w.tcp.Close()
	w.ua.Close()
}

func (w *Watcher) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	n := Notify{Event: headerValue(req, "Event"), State: headerValue(req, "Subscription-State"), Type: headerValue(req, "Content-Type"), Body: string(req.Body()), RequestTo: req.Recipient.String(), Contact: headerValue(req, "Contact")}
	if c := req.CSeq(); c != nil {
		n.CSeq = c.SeqNo
	}
	if f := req.From(); f != nil {
		n.FromTag, _ = f.Params.Get("tag")
	}
	if c := req.CallID(); c != nil {
		n.CallID = c.Value()
	}
	for _, r := range req.GetHeaders("Route") {
		n.Routes = append(n.Routes, r.Value())
	}
	w.mu.Lock()
	answer := w.Answer
	w.notifies = append(w.notifies, n)
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	reason := "OK"
	if answer != 200 {
		reason = reasons[answer]
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, answer, reason, nil))
}

// Notifies is every NOTIFY so far.
func (w *Watcher) Notifies() []Notify {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Notify(nil), w.notifies...)
}

// WaitNotify waits (at most a guard of 20 s against hanging) for a
// NOTIFY after the first skip ones that satisfies ok, and gives it.
func (w *Watcher) WaitNotify(t testing.TB, what string, skip int, ok func(Notify) bool) Notify {
	t.Helper()
	guard := time.After(20 * time.Second)
	for {
		w.mu.Lock()
		ch := w.changed
		for _, n := range w.notifies[min(skip, len(w.notifies)):] {
			if ok(n) {
				w.mu.Unlock()
				return n
			}
		}
		w.mu.Unlock()
		select {
		case <-ch:
		case <-guard:
			t.Fatalf("no NOTIFY with %s; got %+v", what, w.Notifies())
		}
	}
}

// Subscribe sends an initial SUBSCRIBE for aor's event to the notifier at
// addr over transport ("UDP" or "TCP"), answering a 401 or 407 challenge.
func (w *Watcher) Subscribe(ctx context.Context, addr, transport, aor, event string, expires int) (*sip.Response, error) {
	var u sip.Uri
	if err := sip.ParseUri(aor, &u); err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.aor, w.event, w.dest, w.transport = u, event, addr, transport
	w.callID, w.fromTag, w.toTag, w.cseq = uuid.NewString(), sip.GenerateTagN(10), "", 0
	w.mu.Unlock()
	return w.send(ctx, expires)
}

// Refresh sends a SUBSCRIBE in the dialog (Expires: 0 unsubscribes).
func (w *Watcher) Refresh(ctx context.Context, expires int) (*sip.Response, error) {
	return w.send(ctx, expires)
}

func (w *Watcher) send(ctx context.Context, expires int) (*sip.Response, error) {
	var authName, authValue string
	for attempt := 0; attempt < 2; attempt++ {
		req := w.request(expires, authName, authValue)
		res, err := w.do(ctx, req)
		if err != nil {
			return nil, err
		}
		if res.StatusCode == 401 || res.StatusCode == 407 {
			if attempt > 0 || w.User == "" {
				return res, nil
			}
			if authName, authValue, err = answerChallenge(res, "SUBSCRIBE", req.Recipient.String(), w.User, w.Pass); err != nil {
				return nil, err
			}
			continue
		}
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			w.mu.Lock()
			if w.toTag == "" {
				w.toTag, _ = res.To().Params.Get("tag")
				if c := res.Contact(); c != nil {
					w.target = *c.Address.Clone()
				}
			}
			w.mu.Unlock()
		}
		return res, nil
	}
	return nil, fmt.Errorf("unreachable")
}

func (w *Watcher) request(expires int, authName, authValue string) *sip.Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	ruri := w.aor
	if w.toTag != "" && w.target.Host != "" {
		ruri = w.target
	}
	req := sip.NewRequest(sip.SUBSCRIBE, *ruri.Clone())
	req.SetTransport(w.transport)
	req.SetDestination(w.dest)
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: w.User, Host: w.aor.Host}, Params: sip.NewParams()}
	if w.User == "" {
		from.Address.User = "watcher"
	}
	from.Params.Add("tag", w.fromTag)
	req.AppendHeader(from)
	to := &sip.ToHeader{Address: *w.aor.Clone(), Params: sip.NewParams()}
	if w.toTag != "" {
		to.Params.Add("tag", w.toTag)
	}
	req.AppendHeader(to)
	cid := sip.CallIDHeader(w.callID)
	req.AppendHeader(&cid)
	w.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: w.cseq, MethodName: sip.SUBSCRIBE})
	contact := fmt.Sprintf("<sip:%s@127.0.0.1:%d>", from.Address.User, w.Port)
	if w.transport == "TCP" {
		contact = fmt.Sprintf("<sip:%s@127.0.0.1:%d;transport=tcp>", from.Address.User, w.Port)
	}
	if w.Contact != "" {
		contact = w.Contact
	}
	req.AppendHeader(sip.NewHeader("Contact", contact))
	if w.toTag == "" {
		for _, rr := range w.RecordRoute {
			req.AppendHeader(sip.NewHeader("Record-Route", rr))
		}
	}
	req.AppendHeader(sip.NewHeader("Event", w.event))
	accept := TypePIDF
	if ev, _, _ := parseEvent(w.event); ev == EventDialog {
		accept = TypeDialogInfo
	}
	if w.Accept != "" {
		accept = w.Accept
	}
	req.AppendHeader(sip.NewHeader("Accept", accept))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	if authName != "" {
		req.AppendHeader(sip.NewHeader(authName, authValue))
	}
	req.SetBody(nil)
	return req
}

func (w *Watcher) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	res, err := transact(ctx, w.client, req, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("SUBSCRIBE: %w", err)
	}
	return res, nil
}

// presenceIn parses a NOTIFY's PIDF body; an empty body is no presence.
func presenceIn(t testing.TB, n Notify) (Presence, bool) {
	t.Helper()
	if strings.TrimSpace(n.Body) == "" {
		return Presence{}, false
	}
	p, err := ParsePIDF([]byte(n.Body))
	if err != nil {
		t.Fatalf("NOTIFY body: %v", err)
	}
	return p, true
}
