package sip

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// presenceServer is the server mode: the presence server (RFC 6665 notifier)
// for the agents' URIs. sipgo has no SUBSCRIBE dialog helper, so each
// subscription's dialog is kept here: Call-ID, both tags, the route set
// from Record-Route, the subscriber's Contact as remote target, and our own
// CSeq.
type presenceServer struct {
	a       *Adapter
	cfg     settingsOf
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	host    string // ours, in Contact and Via
	port    int
	nonceK  []byte // signs digest nonces
	ncMu    sync.Mutex
	ncSeen  map[string]*ncWindow // nonce → nonce counts used with it
	jobs    chan *subscription
	stop    context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup
	notifys atomic.Uint64 // NOTIFY transactions completed (benchmarks)
	refused atomic.Uint64 // new subscriptions refused at max_subscriptions

	mu     sync.Mutex
	agents map[string]*agentState // by AOR
	byID   map[string]string      // agent id → AOR
	subs   map[dialogKey]*subscription
}

type agentState struct {
	aor  string
	av   availability
	subs map[*subscription]struct{}
}

// dialogKey identifies a subscription's dialog: Call-ID, the subscriber's
// tag (From) and ours (To).
type dialogKey struct{ callID, remoteTag, localTag string }

type subscription struct {
	key       dialogKey
	aor       string
	event     string   // presence or dialog
	eventID   string   // the Event header's id parameter, echoed
	local     string   // our URI (the SUBSCRIBE's To), with our tag: NOTIFY From
	remote    string   // the subscriber's From, with its tag: NOTIFY To
	routes    []string // Record-Route values, in order
	contact   string   // ours, in the 200 and every NOTIFY
	transport string

	mu         sync.Mutex // guards what follows
	target     sip.Uri    // the remote target: the subscriber's Contact, moved by refreshes
	cseq       uint32     // ours, for NOTIFY
	remoteCSeq uint32
	expiresAt  time.Time
	version    uint64 // the next dialog-info version, per subscription
	pending    bool   // a NOTIFY with the current state is wanted
	running    bool   // a worker is sending for this subscription
	terminate  string // non-empty: the next NOTIFY is the last, with this reason
	gone       bool
}

// Server tuning.
const (
	notifyWorkers  = 64
	nonceLifetime  = 5 * time.Minute
	defaultSubExp  = 3600 // RFC 3856: presence's default Expires
	sweepEvery     = 500 * time.Millisecond
	finalFlushWait = 3 * time.Second
	retryAfter     = 60 // seconds, in a 503 at max_subscriptions
)

func newPresenceServer(_ context.Context, a *Adapter, cfg settingsOf) (*presenceServer, error) {
	host, portS, _ := net.SplitHostPort(cfg.listen)
	port, _ := strconv.Atoi(portS)
	udp, tcp, port, err := listen(host, port, cfg.listenTransports)
	if err != nil {
		return nil, &sdk.FieldError{Field: "listen", Message: err.Error()}
	}
	l := a.slog()
	s := &presenceServer{a: a, cfg: cfg, host: host, port: port, jobs: make(chan *subscription, 1<<16),
		agents: map[string]*agentState{}, byID: map[string]string{}, subs: map[dialogKey]*subscription{}, nonceK: make([]byte, 32),
		ncSeen: map[string]*ncWindow{}}
	_, _ = rand.Read(s.nonceK)
	s.ua, err = sipgo.NewUA(sipgo.WithUserAgent("acdbridge"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(l)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(l), sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
			a.count.unexpected.Add(1)
			a.warnf("a response that matches no NOTIFY in flight", "response", r.StartLine())
		})))
	if err != nil {
		return nil, err
	}
	s.srv, _ = sipgo.NewServer(s.ua, sipgo.WithServerLogger(l))
	s.client, _ = sipgo.NewClient(s.ua, sipgo.WithClientLogger(l), sipgo.WithClientHostname(host), sipgo.WithClientPort(port))
	s.srv.OnSubscribe(s.onSubscribe)
	s.srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) {
		if req.IsAck() {
			return
		}
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", "SUBSCRIBE"))
		_ = tx.Respond(res)
	})
	s.ctx, s.stop = context.WithCancel(context.Background())
	if udp != nil {
		go s.srv.ServeUDP(udp)
	}
	if tcp != nil {
		go s.srv.ServeTCP(tcp)
	}
	for range notifyWorkers {
		s.wg.Add(1)
		go s.worker()
	}
	s.wg.Add(1)
	go s.sweeper()
	return s, nil
}

// listen opens the transports on one port; port 0 takes a free one (for
// both, tried up to 50 times: a TCP port of the same number may be taken,
// by a listener or an outgoing connection).
func listen(host string, port int, transports []string) (net.PacketConn, net.Listener, int, error) {
	var lastErr error
	for range 50 {
		var udp net.PacketConn
		var tcp net.Listener
		p := port
		var err error
		for _, t := range transports {
			addr := net.JoinHostPort(host, strconv.Itoa(p))
			switch t {
			case "udp":
				if udp, err = net.ListenPacket("udp", addr); err == nil {
					p = udp.LocalAddr().(*net.UDPAddr).Port
				}
			case "tcp":
				if tcp, err = net.Listen("tcp", addr); err == nil {
					p = tcp.Addr().(*net.TCPAddr).Port
				}
			}
			if err != nil {
				err = fmt.Errorf("cannot listen on %s over %s: %v", addr, t, err)
				break
			}
		}
		if err == nil {
			return udp, tcp, p, nil
		}
		if udp != nil {
			udp.Close()
		}
		if tcp != nil {
			tcp.Close()
		}
		lastErr = err
		if port != 0 {
			break
		}
	}
	return nil, nil, 0, lastErr
}

// Addr is where the server listens, with the port it got.
func (s *presenceServer) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// set records an agent's availability and notifies its subscribers.
func (s *presenceServer) set(it sdk.Availability) sdk.Result {
	res := sdk.Result{AgentID: it.AgentID, Version: it.Version}
	aor, skip := aorOf(s.cfg, it)
	s.mu.Lock()
	var ended []*subscription
	if old := s.byID[it.AgentID]; old != "" && old != aor {
		// The agent's URI changed or went: its watchers get a last NOTIFY.
		if st := s.agents[old]; st != nil {
			for sub := range st.subs {
				ended = append(ended, sub)
			}
		}
		delete(s.agents, old)
		delete(s.byID, it.AgentID)
	}
	if skip != nil {
		s.mu.Unlock()
		s.end(ended, "noresource")
		return *skip
	}
	av := availabilityOf(it)
	st := s.agents[aor]
	if st != nil && st.av == av {
		// Nothing the documents show changed (a reconcile, a SIGHUP, a
		// new version with the same state and reason): no NOTIFY storm.
		s.byID[it.AgentID] = aor
		n := len(st.subs)
		s.mu.Unlock()
		s.end(ended, "noresource")
		res.Outcome, res.Message = sdk.Applied, fmt.Sprintf("%s; unchanged, no NOTIFY to %d subscription(s)", describe(av), n)
		return res
	}
	if st == nil {
		st = &agentState{aor: aor, subs: map[*subscription]struct{}{}}
		s.agents[aor] = st
	}
	s.byID[it.AgentID] = aor
	st.av = av
	subs := make([]*subscription, 0, len(st.subs))
	for sub := range st.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	s.end(ended, "noresource")
	for _, sub := range subs {
		s.kick(sub)
	}
	res.Outcome, res.Message = sdk.Applied, fmt.Sprintf("%s; notifying %d subscription(s)", describe(av), len(subs))
	return res
}

func describe(av availability) string {
	if av.available {
		return "available"
	}
	return fmt.Sprintf("%s (%s)", av.state, av.reason)
}

// end terminates subscriptions with reason.
func (s *presenceServer) end(subs []*subscription, reason string) {
	for _, sub := range subs {
		sub.mu.Lock()
		sub.terminate = reason
		sub.mu.Unlock()
		s.kick(sub)
	}
}

// kick asks for a NOTIFY with the current state; several kicks before the
// worker gets to it make one NOTIFY.
func (s *presenceServer) kick(sub *subscription) {
	sub.mu.Lock()
	sub.pending = true
	if sub.running || sub.gone {
		sub.mu.Unlock()
		return
	}
	sub.running = true
	sub.mu.Unlock()
	select {
	case s.jobs <- sub:
	case <-s.ctx.Done():
	}
}

func (s *presenceServer) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case sub := <-s.jobs:
			s.drain(sub)
		}
	}
}

// drain sends NOTIFYs for sub until none is pending.
func (s *presenceServer) drain(sub *subscription) {
	for {
		sub.mu.Lock()
		if !sub.pending || sub.gone {
			sub.running = false
			sub.mu.Unlock()
			return
		}
		sub.pending = false
		sub.mu.Unlock()
		s.notify(sub)
	}
}

// notify sends one NOTIFY in sub's dialog with the agent's current state,
// and drops the subscription after a final one, a 481, a 408 or no answer.
func (s *presenceServer) notify(sub *subscription) {
	s.mu.Lock()
	st := s.agents[sub.aor]
	var av availability
	known := st != nil
	if known {
		av = st.av
	}
	s.mu.Unlock()

	sub.mu.Lock()
	sub.cseq++
	cseq := sub.cseq
	state, final := "", sub.terminate != ""
	if final {
		state = "terminated;reason=" + sub.terminate
	} else {
		left := int(time.Until(sub.expiresAt).Round(time.Second) / time.Second)
		if left <= 0 {
			state, final = "terminated;reason=timeout", true
		} else {
			state = fmt.Sprintf("active;expires=%d", left)
		}
	}
	var body []byte
	ctype := TypePIDF
	if sub.event == EventDialog {
		ctype = TypeDialogInfo
		if known {
			// RFC 4235 4.1: versions start at 0 and grow by one with
			// each document sent to this subscriber.
			body = BuildDialogInfo(dialogInfoOf(sub.aor, av, sub.version, tupleID(sub.aor)))
			sub.version++
		}
	} else if known {
		body = BuildPIDF(presenceOf(sub.aor, av, s.cfg.busyActivity), tupleID(sub.aor))
	}
	if final {
		sub.gone = true
	}
	target := *sub.target.Clone() // a refresh may move it meanwhile
	sub.mu.Unlock()
	if final {
		s.forget(sub)
	}

	req := s.notifyRequest(sub, target, cseq, state, ctype, body)
	res, err := transact(s.ctx, s.client, req, s.cfg.timeout)
	switch {
	case err != nil:
		s.a.warnf("NOTIFY got no answer: subscription dropped", "aor", sub.aor, "to", target.String(), "error", err)
		s.drop(sub)
	case res.StatusCode >= 200 && res.StatusCode < 300:
		s.notifys.Add(1)
	case res.StatusCode == 481 || res.StatusCode == 408:
		s.a.log.Info("subscription ended by the subscriber", "aor", sub.aor, "answer", res.StartLine())
		s.notifys.Add(1)
		s.drop(sub)
	case res.StatusCode >= 300:
		s.a.count.unexpected.Add(1)
		s.notifys.Add(1)
		s.a.warnf("unexpected answer to NOTIFY", "aor", sub.aor, "answer", res.StartLine())
	}
}

// notifyRequest builds a NOTIFY within sub's dialog (RFC 3261 12.2.1.1):
// the remote target as Request-URI, the route set as Route, our CSeq.
func (s *presenceServer) notifyRequest(sub *subscription, target sip.Uri, cseq uint32, state, ctype string, body []byte) *sip.Request {
	req := sip.NewRequest(sip.NOTIFY, *target.Clone())
	req.SetTransport(sub.transport)
	dest := target
	if len(sub.routes) > 0 {
		var r sip.Uri
		if _, err := sip.ParseAddressValue(sub.routes[0], &r, nil); err == nil {
			dest = r
		}
	}
	port := dest.Port
	if port == 0 {
		port = int(sip.DefaultPort(sub.transport))
	}
	req.SetDestination(net.JoinHostPort(dest.Host, strconv.Itoa(port)))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, r := range sub.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.NewHeader("From", sub.local))
	req.AppendHeader(sip.NewHeader("To", sub.remote))
	cid := sip.CallIDHeader(sub.key.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.NewHeader("Contact", sub.contact))
	event := sub.event
	if sub.eventID != "" {
		event += ";id=" + sub.eventID
	}
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("User-Agent", userAgent))
	if body != nil {
		ct := sip.ContentTypeHeader(ctype)
		req.AppendHeader(&ct)
	}
	req.SetBody(body)
	return req
}

// contact is our Contact for a subscriber at source: where its refreshes
// come. Listening on every address (0.0.0.0, ::), it is the address the
// system routes to the subscriber from, never the unspecified one (a
// phone would send its refreshes to itself).
func (s *presenceServer) contact(transport, source string) string {
	host := s.host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if l := localIPFor(source); l != "" {
			host = l
		}
	}
	if strings.EqualFold(transport, "TCP") {
		return fmt.Sprintf("<sip:%s;transport=tcp>", net.JoinHostPort(host, strconv.Itoa(s.port)))
	}
	return fmt.Sprintf("<sip:%s>", net.JoinHostPort(host, strconv.Itoa(s.port)))
}

// forget removes sub from the maps (its last NOTIFY may still be on its way).
func (s *presenceServer) forget(sub *subscription) {
	s.mu.Lock()
	delete(s.subs, sub.key)
	if st := s.agents[sub.aor]; st != nil {
		delete(st.subs, sub)
	}
	s.mu.Unlock()
}

func (s *presenceServer) drop(sub *subscription) {
	sub.mu.Lock()
	sub.gone = true
	sub.mu.Unlock()
	s.forget(sub)
}

// sweeper ends subscriptions that were not refreshed in time.
func (s *presenceServer) sweeper() {
	defer s.wg.Done()
	everyTick(s.ctx, sweepEvery, func(now time.Time) {
		var dead []*subscription
		s.mu.Lock()
		for _, sub := range s.subs {
			sub.mu.Lock()
			if !sub.gone && sub.terminate == "" && now.After(sub.expiresAt) {
				dead = append(dead, sub)
			}
			sub.mu.Unlock()
		}
		s.mu.Unlock()
		s.end(dead, "timeout")
		s.forgetCounts(now)
	})
}

// close sends every subscriber a final NOTIFY (reason noresource: the
// presentity is no longer served), waits a little for them, and stops.
func (s *presenceServer) close() {
	s.mu.Lock()
	all := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		all = append(all, sub)
	}
	s.mu.Unlock()
	s.end(all, "noresource")
	deadline := time.Now().Add(finalFlushWait)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.subs)
		s.mu.Unlock()
		busy := false
		for _, sub := range all {
			sub.mu.Lock()
			busy = busy || sub.running
			sub.mu.Unlock()
		}
		if n == 0 && !busy {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop()
	s.wg.Wait()
	s.ua.Close()
}

// respond answers req with the headers in Kamailio's order: Via, From, To
// (with tag), Call-ID, CSeq, extra, Server, Content-Length.
func (s *presenceServer) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason, tag string, extra ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.RemoveHeader("Content-Length")
	if to := res.To(); to != nil && tag != "" {
		to.Params.Add("tag", tag)
	}
	for _, h := range extra {
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Server", userAgent))
	res.SetBody(nil)
	if err := tx.Respond(res); err != nil {
		s.a.warnf("answering SUBSCRIBE", "error", err)
	}
}

// bad answers 400 to a request missing what a SUBSCRIBE needs, and counts it.
func (s *presenceServer) bad(req *sip.Request, tx sip.ServerTransaction, why string) {
	s.a.count.malformed.Add(1)
	s.a.warnf("malformed SUBSCRIBE", "source", req.Source(), "problem", why)
	s.respond(req, tx, 400, "Bad Request - "+why, "")
}

func (s *presenceServer) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	from, to, callID, cseq := req.From(), req.To(), req.CallID(), req.CSeq()
	switch {
	case from == nil || to == nil || callID == nil || cseq == nil:
		s.bad(req, tx, "expected From, To, Call-ID and CSeq")
		return
	case !from.Params.Has("tag"):
		s.bad(req, tx, "expected a tag in From")
		return
	}
	remoteTag, _ := from.Params.Get("tag")
	localTag, _ := to.Params.Get("tag")

	if len(s.cfg.watchers) > 0 && !s.authorized(req, tx) {
		return
	}
	event, eventID, ok := parseEvent(headerValue(req, "Event"))
	if !ok || event != EventPresence && event != EventDialog {
		s.respond(req, tx, 489, "Bad Event", "", sip.NewHeader("Allow-Events", "presence, dialog"))
		return
	}
	ctype := TypePIDF
	if event == EventDialog {
		ctype = TypeDialogInfo
	}
	if !accepts(req, ctype) {
		// A phone that reads only another format (application/xpidf+xml,
		// the pre-PIDF one) would misread ours: say so (RFC 3261 21.4.7).
		s.respond(req, tx, 406, "Not Acceptable", "", sip.NewHeader("Accept", ctype))
		return
	}
	expires := defaultSubExp
	if v := headerValue(req, "Expires"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.bad(req, tx, "expected Expires to be seconds")
			return
		}
		expires = n
	}
	if expires > 0 && time.Duration(expires)*time.Second < s.cfg.minExpires {
		s.respond(req, tx, 423, "Interval Too Brief", "", sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.minExpires/time.Second))))
		return
	}
	expires = min(expires, int(s.cfg.maxExpires/time.Second))

	var sub *subscription
	if localTag != "" {
		// A refresh or an unsubscribe, in an existing dialog.
		s.mu.Lock()
		sub = s.subs[dialogKey{callID.Value(), remoteTag, localTag}]
		s.mu.Unlock()
		if sub == nil || sub.event != event || sub.eventID != eventID {
			// RFC 6665: a subscription is its dialog, its event
			// package and the Event header's id.
			s.respond(req, tx, 481, "Subscription does not exist", "")
			return
		}
		sub.mu.Lock()
		if sub.gone || sub.terminate != "" {
			// Ended, or ending (expired, the agent gone, Close): its final
			// NOTIFY is on its way; a 200 here would be contradicted by it.
			sub.mu.Unlock()
			s.respond(req, tx, 481, "Subscription does not exist", "")
			return
		}
		if cseq.SeqNo <= sub.remoteCSeq {
			sub.mu.Unlock()
			s.respond(req, tx, 500, "Server Internal Error - CSeq out of order", "")
			return
		}
		sub.remoteCSeq = cseq.SeqNo
		if c := req.Contact(); c != nil {
			sub.target = *c.Address.Clone() // a target refresh
		}
		sub.expiresAt = time.Now().Add(time.Duration(expires) * time.Second)
		if expires == 0 {
			sub.terminate = "timeout"
		}
		sub.mu.Unlock()
	} else {
		aor := s.lookup(req)
		if aor == "" {
			s.respond(req, tx, 404, "Not Found", "")
			return
		}
		c := req.Contact()
		if c == nil {
			s.bad(req, tx, "expected a Contact")
			return
		}
		localTag = sip.GenerateTagN(16)
		toHdr := to.Value() + ";tag=" + localTag
		sub = &subscription{
			key: dialogKey{callID.Value(), remoteTag, localTag}, aor: aor, event: event, eventID: eventID,
			local: toHdr, remote: from.Value(), target: *c.Address.Clone(), transport: req.Transport(), contact: s.contact(req.Transport(), req.Source()),
			remoteCSeq: cseq.SeqNo, expiresAt: time.Now().Add(time.Duration(expires) * time.Second),
		}
		for _, rr := range req.GetHeaders("Record-Route") {
			sub.routes = append(sub.routes, rr.Value())
		}
		if expires == 0 {
			sub.terminate = "timeout" // a fetch: one NOTIFY, then done
		}
		s.mu.Lock()
		if len(s.subs) >= s.cfg.maxSubscriptions {
			// Bounded memory whoever subscribes: a new subscription waits
			// for a place (RFC 3261 21.5.4; phones retry after Retry-After).
			s.mu.Unlock()
			s.refused.Add(1)
			s.a.warnf("subscription refused: max_subscriptions reached", "max_subscriptions", s.cfg.maxSubscriptions, "source", req.Source(), "aor", aor)
			s.respond(req, tx, 503, "Service Unavailable - too many subscriptions", "", sip.NewHeader("Retry-After", strconv.Itoa(retryAfter)))
			return
		}
		s.subs[sub.key] = sub
		if st := s.agents[aor]; st != nil {
			st.subs[sub] = struct{}{}
		}
		s.mu.Unlock()
	}
	s.respond(req, tx, 200, "OK", localTag, sip.NewHeader("Expires", strconv.Itoa(expires)), sip.NewHeader("Contact", sub.contact))
	s.kick(sub)
}

// lookup finds the agent a new SUBSCRIBE is for: by its Request-URI
// (sip:user@host), else, for a Request-URI at our own address, by user.
func (s *presenceServer) lookup(req *sip.Request) string {
	u := req.Recipient
	if u.User == "" {
		return ""
	}
	aor := "sip:" + u.User + "@" + strings.ToLower(u.Host)
	if u.Port > 0 && u.Host != s.host {
		aor += ":" + strconv.Itoa(u.Port)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agents[aor] != nil {
		return aor
	}
	if u.Host != s.host {
		return ""
	}
	found := ""
	for a := range s.agents {
		if strings.HasPrefix(a, "sip:"+u.User+"@") {
			if found != "" {
				return "" // ambiguous
			}
			found = a
		}
	}
	return found
}

// sameURI says whether a digest uri names the Request-URI u: the same
// scheme, user, host and port (RFC 3261 19.1.4, parameters aside).
func sameURI(v string, u sip.Uri) bool {
	var d sip.Uri
	if err := sip.ParseUri(v, &d); err != nil {
		return false
	}
	port := func(x sip.Uri) int {
		if x.Port == 0 {
			return 5060
		}
		return x.Port
	}
	return strings.EqualFold(d.Scheme, u.Scheme) && d.User == u.User && strings.EqualFold(d.Host, u.Host) && port(d) == port(u)
}

// ourAddress says whether a digest uri names this server rather than an
// agent: no user part, our port (and our host, unless we listen on every
// address).
func (s *presenceServer) ourAddress(v string) bool {
	var d sip.Uri
	if err := sip.ParseUri(v, &d); err != nil || d.User != "" {
		return false
	}
	port := d.Port
	if port == 0 {
		port = 5060
	}
	ip := net.ParseIP(s.host)
	return port == s.port && (strings.EqualFold(d.Host, s.host) || ip != nil && ip.IsUnspecified())
}

// accepts says whether the request's Accept headers take ctype; without
// any, each package's default (PIDF, dialog-info) is taken (RFC 3856,
// RFC 4235).
func accepts(req *sip.Request, ctype string) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		for _, r := range strings.Split(h.Value(), ",") {
			mt, _, _ := strings.Cut(r, ";")
			switch mt = strings.ToLower(strings.TrimSpace(mt)); mt {
			case ctype, "*/*", "application/*":
				return true
			}
		}
	}
	return false
}

// parseEvent reads an Event header: the package and its id parameter.
func parseEvent(v string) (event, id string, ok bool) {
	parts := strings.Split(v, ";")
	event = strings.ToLower(strings.TrimSpace(parts[0]))
	if event == "" {
		return "", "", false
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "id") {
			id = strings.Trim(val, `"`)
		}
	}
	return event, id, true
}

// newNonce is a nonce the server can check without keeping it: a time and
// its HMAC.
// Each challenge gets its own (8 random bytes after the time): nonce
// counts are tracked per nonce, and two challenges in one second must not
// share them.
func (s *presenceServer) newNonce(now time.Time) string {
	b := make([]byte, 16, 16+16)
	binary.BigEndian.PutUint64(b, uint64(now.Unix()))
	_, _ = rand.Read(b[8:16])
	m := hmac.New(sha256.New, s.nonceK)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:32])
}

// ncWindow is the nonce counts used with one nonce: the highest, and a
// bitmap of the 64 below it (requests sent in parallel may come out of
// order).
type ncWindow struct {
	max  int
	seen uint64 // bit i: max-1-i was used
	at   time.Time
}

// freshCount records a nonce count used with nonce and says whether it is
// new (RFC 2617 3.2.2: the server detects replays by the nonce count).
func (s *presenceServer) freshCount(nonce string, nc int, now time.Time) bool {
	s.ncMu.Lock()
	defer s.ncMu.Unlock()
	w := s.ncSeen[nonce]
	if w == nil {
		w = &ncWindow{at: now}
		s.ncSeen[nonce] = w
	}
	switch d := w.max - nc; {
	case nc > w.max:
		// The old highest moves to bit shift-1 (Go's shifts past 63 give
		// 0: a jump of more than 64 forgets the window).
		shift := nc - w.max
		w.seen = w.seen<<shift | 1<<(shift-1)
		w.max = nc
		return true
	case d == 0 || d > 64:
		return false
	default:
		bit := uint64(1) << (d - 1)
		if w.seen&bit != 0 {
			return false
		}
		w.seen |= bit
		return true
	}
}

// forgetCounts drops the nonce counts of nonces past their lifetime.
func (s *presenceServer) forgetCounts(now time.Time) {
	s.ncMu.Lock()
	defer s.ncMu.Unlock()
	for n, w := range s.ncSeen {
		if now.Sub(w.at) > nonceLifetime+time.Minute {
			delete(s.ncSeen, n)
		}
	}
}

// checkNonce says whether the nonce is ours, and whether it went stale.
func (s *presenceServer) checkNonce(n string, now time.Time) (ours, stale bool) {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 32 {
		return false, false
	}
	m := hmac.New(sha256.New, s.nonceK)
	m.Write(b[:16])
	if !hmac.Equal(m.Sum(nil)[:16], b[16:]) {
		return false, false
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	return true, now.Sub(at) > nonceLifetime
}

// authorized checks the subscriber's digest credentials (RFC 3261 22.4),
// or answers 401 with a challenge.
func (s *presenceServer) authorized(req *sip.Request, tx sip.ServerTransaction) bool {
	now := time.Now()
	stale := false
	if h := req.GetHeader("Authorization"); h != nil {
		cred, err := digest.ParseCredentials(h.Value())
		switch {
		case err != nil:
			s.a.count.malformed.Add(1)
			s.a.warnf("malformed Authorization", "source", req.Source(), "error", err)
		case cred.Realm != s.cfg.realm:
		case !sameURI(cred.URI, req.Recipient) && !s.ourAddress(cred.URI):
			// RFC 2617 3.2.2.5: credentials for another resource (a
			// SUBSCRIBE for one agent replayed at another) are refused.
			// A uri naming this server (sip:host:port, as sipp and UAs
			// that see us as their proxy send) is taken, as Kamailio does.
			s.a.count.malformed.Add(1)
			s.a.warnf("digest uri is not the Request-URI", "user", cred.Username, "uri", cred.URI, "request_uri", req.Recipient.String(), "source", req.Source())
			s.respond(req, tx, 400, "Bad Request - digest uri is not the Request-URI", "")
			return false
		case !strings.EqualFold(cred.QOP, "auth") || cred.Cnonce == "" || cred.Nc < 1:
			// We asked qop="auth": an answer without it (RFC 2069: no
			// cnonce, no nonce count) is challenged again.
			s.a.warnf("subscriber refused: digest without the qop=auth asked", "user", cred.Username, "source", req.Source())
		default:
			ours, st := s.checkNonce(cred.Nonce, now)
			pass, known := s.cfg.watchers[cred.Username]
			if ours && known {
				chal := &digest.Challenge{Realm: s.cfg.realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: []string{"auth"}}
				want, err := digest.Digest(chal, digest.Options{Method: req.Method.String(), URI: cred.URI, Username: cred.Username, Password: pass, Cnonce: cred.Cnonce, Count: cred.Nc})
				if err == nil && subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) == 1 {
					if !st && s.freshCount(cred.Nonce, cred.Nc, now) {
						return true
					}
					// An expired nonce, or a nonce count already used (a
					// replay): a new challenge, which only the password
					// answers.
					stale = true
				}
			}
			if !stale {
				s.a.warnf("subscriber refused: wrong digest credentials", "user", cred.Username, "source", req.Source())
			}
		}
	}
	chal := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, s.cfg.realm, s.newNonce(now))
	if stale {
		chal += ", stale=true"
	}
	s.respond(req, tx, 401, "Unauthorized", "", sip.NewHeader("WWW-Authenticate", chal))
	return false
}
