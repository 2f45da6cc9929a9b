package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/icholy/digest"
	"golang.org/x/time/rate"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// publisher keeps one publication per agent and event package at a
// presence server (RFC 3903).
type publisher struct {
	a      *Adapter
	cfg    settingsOf
	ua     *sipgo.UserAgent
	client *sipgo.Client
	lim    *rate.Limiter

	mu     sync.Mutex
	agents map[string]*agentPubs // by agent id

	stop context.CancelFunc
	done chan struct{}
}

// agentPubs are an agent's publications: presence and, optionally, dialog.
type agentPubs struct {
	mu       sync.Mutex // one change of this agent at a time
	aor      string
	presence *publication // set under the publisher's mu too
	dialog   *publication
	// shown is what the publications show since the last success (nil:
	// unknown, after a failure); user and pass are the credentials used.
	shown      *availability
	user, pass string
}

// live says whether the server holds every publication (or, for an
// offline agent, none was wanted). The caller holds ap.mu.
func (ap *agentPubs) live() bool {
	if ap.shown == nil {
		return false
	}
	for _, pb := range []*publication{ap.presence, ap.dialog} {
		if pb == nil {
			continue
		}
		pb.mu.Lock()
		held := pb.etag != ""
		pb.mu.Unlock()
		if held == (ap.shown.state == "offline") {
			return false
		}
	}
	return true
}

// publication is one event state at the server: the state machine of
// RFC 3903 section 4 (initial, refresh, modify, remove).
type publication struct {
	mu        sync.Mutex // one transaction at a time
	aor       sip.Uri
	event     string
	ctype     string
	body      []byte // the last document, republished after a 412
	etag      string // newest SIP-ETag; empty: none at the server
	granted   time.Duration
	refreshAt time.Time
	minExp    time.Duration // from a 423's Min-Expires
	callID    string
	fromTag   string
	cseq      uint32
	user      string
	pass      string
	version   uint64 // dialog-info's version attribute
	// The last digest challenge answered, reused with a growing nonce
	// count until the server challenges again.
	chal    *digest.Challenge
	chalFor string // the header that answers it
	nc      int
}

// pubError is a failed publication; permanent says retrying will not help.
type pubError struct {
	permanent bool
	msg       string
}

func (e *pubError) Error() string { return e.msg }

func permanent(format string, args ...any) error {
	return &pubError{permanent: true, msg: fmt.Sprintf(format, args...)}
}

func retryable(format string, args ...any) error {
	return &pubError{msg: fmt.Sprintf(format, args...)}
}

func newPublisher(a *Adapter, cfg settingsOf) (*publisher, error) {
	l := a.slog()
	opts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent("acdbridge"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(l)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(l), sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
			a.count.unexpected.Add(1)
			a.warnf("a response that matches no PUBLISH in flight", "response", r.StartLine())
		})),
	}
	if cfg.tls != nil {
		opts = append(opts, sipgo.WithUserAgenTLSConfig(cfg.tls))
	}
	ua, err := sipgo.NewUA(opts...)
	if err != nil {
		return nil, fmt.Errorf("sip user agent: %w", err)
	}
	copts := []sipgo.ClientOption{sipgo.WithClientLogger(l), sipgo.WithClientNAT()}
	if ip := localIPFor(cfg.address); ip != "" {
		// Otherwise a UDP Via says 0.0.0.0: the unbound socket's address.
		copts = append(copts, sipgo.WithClientHostname(ip))
	}
	client, err := sipgo.NewClient(ua, copts...)
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sip client: %w", err)
	}
	burst := max(1, int(cfg.rate))
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{a: a, cfg: cfg, ua: ua, client: client, lim: rate.NewLimiter(rate.Limit(cfg.rate), burst),
		agents: map[string]*agentPubs{}, stop: cancel, done: make(chan struct{})}
	go p.refresher(ctx)
	go p.prober(ctx, a.probeEvery)
	return p, nil
}

// prober asks the server OPTIONS now and every interval: any answer (405
// included) says it is there; none makes Health degraded until one comes.
func (p *publisher) prober(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: p.cfg.addressHost, Port: atoi(p.cfg.addressPort)})
		req.SetTransport(strings.ToUpper(p.cfg.transport))
		req.SetDestination(p.cfg.address)
		req.AppendHeader(sip.NewHeader("User-Agent", userAgent))
		req.SetBody(nil)
		res, err := transact(ctx, p.client, req, p.cfg.timeout, sipgo.ClientRequestBuild)
		if ctx.Err() != nil {
			return
		}
		p.a.mu.Lock()
		switch {
		case err != nil:
			p.a.health = sdk.Health{Status: sdk.Degraded, Message: fmt.Sprintf("no answer to OPTIONS from %s over %s: %v", p.cfg.address, p.cfg.transport, err)}
		case p.a.health.Status != sdk.Up:
			p.a.health = sdk.Health{Status: sdk.Up, Message: fmt.Sprintf("publishing to %s over %s (OPTIONS answered %s)", p.cfg.address, p.cfg.transport, res.StartLine())}
		}
		p.a.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// localIPFor is the local address the system routes to addr from (a UDP
// "connection" sends nothing), or "" when it cannot tell.
func localIPFor(addr string) string {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok && !ua.IP.IsUnspecified() {
		return ua.IP.String()
	}
	return ""
}

// set brings an agent's publications to its availability.
func (p *publisher) set(ctx context.Context, it sdk.Availability) sdk.Result {
	res := sdk.Result{AgentID: it.AgentID, Version: it.Version}
	aor, skip := aorOf(p.cfg, it)
	p.mu.Lock()
	ap := p.agents[it.AgentID]
	if ap == nil {
		ap = &agentPubs{}
		p.agents[it.AgentID] = ap
	}
	p.mu.Unlock()
	ap.mu.Lock()
	defer ap.mu.Unlock()

	// A URI that changed or went away: remove what was published under it.
	var removed string
	if ap.aor != "" && ap.aor != aor {
		removed = fmt.Sprintf("removed the publication of %s; ", ap.aor)
		if err := p.removeAll(ctx, ap); err != nil {
			return p.failed(res, err)
		}
		ap.aor = ""
	}
	if skip != nil {
		skip.Message = strings.TrimSuffix(removed+skip.Message, "; ")
		return *skip
	}
	user, pass := p.cfg.username, p.cfg.password
	if u := it.Identities[p.cfg.userIdentity]; u != "" {
		// The agent's own user name, with its own password or else the
		// shared one.
		user = u
		if pw := it.Identities[p.cfg.passIdent]; pw != "" {
			pass = pw
		}
	}
	if ap.aor == "" {
		uri, err := parseURI(aor)
		if err != nil {
			res.Outcome, res.Message = sdk.Permanent, err.Error()
			return res
		}
		ap.aor = aor
		pres, dlg := p.newPublication(uri, EventPresence, TypePIDF), (*publication)(nil)
		if p.cfg.dialogInfo {
			dlg = p.newPublication(uri, EventDialog, TypeDialogInfo)
		}
		p.mu.Lock() // the refresher reads them under p.mu
		ap.presence, ap.dialog = pres, dlg
		p.mu.Unlock()
	}
	for _, pb := range []*publication{ap.presence, ap.dialog} {
		if pb != nil {
			pb.mu.Lock()
			pb.user, pb.pass = user, pass
			pb.mu.Unlock()
		}
	}
	av := availabilityOf(it)
	if ap.shown != nil && *ap.shown == av && ap.user == user && ap.pass == pass && ap.live() {
		// What the server holds already shows this (a reconcile, or a new
		// version that changes nothing visible): the refresher keeps it.
		res.Outcome, res.Message = sdk.Applied, "already published: "+describe(av)
		return res
	}
	ap.shown, ap.user, ap.pass = nil, user, pass
	if av.state == "offline" {
		// The agent went away: its publications go too (the server then
		// shows it closed, as for a phone that unregistered).
		if err := p.removeAll(ctx, ap); err != nil {
			return p.failed(res, err)
		}
		ap.shown = &av
		res.Outcome, res.Message = sdk.Applied, removed+"offline: publication removed (Expires: 0)"
		return res
	}
	msg, err := p.publish(ctx, ap.presence, BuildPIDF(presenceOf(aor, av, p.cfg.busyActivity), tupleID(aor)))
	if err != nil {
		return p.failed(res, err)
	}
	if ap.dialog != nil {
		d := ap.dialog
		d.mu.Lock()
		d.version++
		body := BuildDialogInfo(dialogInfoOf(aor, av, d.version, tupleID(aor)))
		d.mu.Unlock()
		dmsg, err := p.publish(ctx, d, body)
		if err != nil {
			return p.failed(res, fmt.Errorf("presence %s, but dialog-info: %w", msg, err))
		}
		msg += "; dialog-info " + dmsg
	}
	ap.shown = &av
	p.a.mu.Lock()
	if p.a.health.Status != sdk.Up {
		p.a.health = sdk.Health{Status: sdk.Up, Message: fmt.Sprintf("publishing to %s over %s", p.cfg.address, p.cfg.transport)}
	}
	p.a.mu.Unlock()
	res.Outcome, res.Message = sdk.Applied, removed+msg
	return res
}

func (p *publisher) failed(res sdk.Result, err error) sdk.Result {
	res.Outcome, res.Message = sdk.Retryable, err.Error()
	var pe *pubError
	if errors.As(err, &pe) && pe.permanent {
		res.Outcome = sdk.Permanent
	} else {
		p.a.setHealth(sdk.Degraded, "publishing to "+p.cfg.address+": "+err.Error())
	}
	return res
}

// tupleID is a stable XML ID for an agent's tuple and dialog.
func tupleID(aor string) string {
	h := uint32(2166136261)
	for i := 0; i < len(aor); i++ {
		h = (h ^ uint32(aor[i])) * 16777619
	}
	return fmt.Sprintf("acdb%08x", h)
}

func parseURI(s string) (sip.Uri, error) {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return u, permanent("expected a SIP URI; got %q: %v", s, err)
	}
	return u, nil
}

func (p *publisher) newPublication(aor sip.Uri, event, ctype string) *publication {
	return &publication{aor: aor, event: event, ctype: ctype, callID: uuid.NewString(), fromTag: sip.GenerateTagN(10)}
}

func (p *publisher) removeAll(ctx context.Context, ap *agentPubs) error {
	for _, pb := range []*publication{ap.presence, ap.dialog} {
		if pb == nil {
			continue
		}
		if err := p.remove(ctx, pb); err != nil {
			return err
		}
	}
	return nil
}

// publish sends body as the publication's new state: an initial PUBLISH
// without an ETag, else a modify with SIP-If-Match.
func (p *publisher) publish(ctx context.Context, pb *publication, body []byte) (string, error) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.body = body
	return p.send(ctx, pb, body)
}

// send runs the state machine for one change: body nil is a refresh.
// The caller holds pb.mu.
func (p *publisher) send(ctx context.Context, pb *publication, body []byte) (string, error) {
	what := "published"
	if body == nil {
		what = "refreshed"
	} else if pb.etag != "" {
		what = "modified"
	}
	for range 4 {
		expires := max(p.cfg.expires, pb.minExp)
		ifMatch := pb.etag
		if body == nil && ifMatch == "" {
			body, what = pb.body, "published afresh"
		}
		res, err := p.transact(ctx, pb, body, expires, ifMatch)
		if err != nil {
			return "", err
		}
		switch code := res.StatusCode; {
		case code >= 200 && code < 300:
			etag := headerValue(res, "SIP-ETag")
			if etag == "" {
				p.a.count.unexpected.Add(1)
				return "", permanent("%s for %s answered %s without a SIP-ETag (RFC 3903 requires one)", pb.event, pb.aor.String(), res.StartLine())
			}
			granted := expires
			if v := headerValue(res, "Expires"); v != "" {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					granted = time.Duration(n) * time.Second
				}
			}
			pb.etag, pb.granted = etag, granted
			// Refresh a fifth of the time before it ends, and at least two
			// refresher ticks before (half the time for short grants).
			pb.refreshAt = time.Now().Add(granted - max(granted/5, min(2*refreshTick, granted/2)))
			return fmt.Sprintf("%s (SIP-ETag %s, expires in %s)", what, etag, granted), nil
		case code == 412:
			if ifMatch == "" {
				p.a.count.unexpected.Add(1)
				return "", retryable("%s: 412 Conditional Request Failed to a PUBLISH without SIP-If-Match", pb.aor.String())
			}
			// The server lost our publication: publish afresh.
			pb.etag = ""
			if body == nil {
				body = pb.body
			}
			what = "published afresh after 412"
		case code == 423:
			min := 0
			if v := headerValue(res, "Min-Expires"); v != "" {
				min, _ = strconv.Atoi(v)
			}
			if time.Duration(min)*time.Second <= expires {
				p.a.count.unexpected.Add(1)
				return "", permanent("%s: 423 Interval Too Brief with Min-Expires %q, not above the %s asked", pb.aor.String(), headerValue(res, "Min-Expires"), expires)
			}
			pb.minExp = time.Duration(min) * time.Second
		case code == 401 || code == 407:
			return "", permanent("%s: digest credentials refused (%s) for user %q", pb.aor.String(), res.StartLine(), pb.user)
		case code == 489:
			return "", permanent("%s: the server does not take Event: %s (489 Bad Event): is its presence module (and presence_dialoginfo for dialog) loaded?", pb.aor.String(), pb.event)
		case code == 415:
			return "", permanent("%s: the server does not take %s (415 Unsupported Media Type; it accepts %q)", pb.aor.String(), pb.ctype, headerValue(res, "Accept"))
		case code == 408 || code == 480 || code == 503 || code == 500 || code == 504 || code == 486:
			return "", retryable("%s: %s", pb.aor.String(), res.StartLine())
		default:
			p.a.count.unexpected.Add(1)
			return "", permanent("%s: unexpected answer %s to PUBLISH (Event: %s)", pb.aor.String(), res.StartLine(), pb.event)
		}
	}
	return "", retryable("%s: gave up after 4 PUBLISH in a row (412 and 423 answers)", pb.aor.String())
}

// remove ends the publication with Expires: 0 (RFC 3903 4.5).
func (p *publisher) remove(ctx context.Context, pb *publication) error {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if pb.etag == "" {
		return nil
	}
	res, err := p.transact(ctx, pb, nil, 0, pb.etag)
	if err != nil {
		return err
	}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300, res.StatusCode == 412:
		// 412: the server had forgotten it already.
		pb.etag, pb.refreshAt = "", time.Time{}
		return nil
	case res.StatusCode == 401 || res.StatusCode == 407:
		return permanent("%s: digest credentials refused (%s) for user %q", pb.aor.String(), res.StartLine(), pb.user)
	case res.StatusCode >= 500 || res.StatusCode == 408:
		return retryable("%s: removing: %s", pb.aor.String(), res.StartLine())
	default:
		p.a.count.unexpected.Add(1)
		return permanent("%s: unexpected answer %s to PUBLISH Expires: 0", pb.aor.String(), res.StartLine())
	}
}

// transact sends one PUBLISH and answers a 401 or 407 challenge with
// digest credentials; it gives the final response.
func (p *publisher) transact(ctx context.Context, pb *publication, body []byte, expires time.Duration, ifMatch string) (*sip.Response, error) {
	var authName, authValue string
	preemptive := false
	if pb.chal != nil && pb.user != "" {
		// The last challenge's nonce, with the next nonce count: no
		// round trip for a new challenge while the server takes it.
		pb.nc++
		if v, err := credentials(pb.chal, "PUBLISH", pb.aor.String(), pb.user, pb.pass, pb.nc); err == nil {
			authName, authValue, preemptive = pb.chalFor, v, true
		}
	}
	answered := false // a fresh challenge was answered in this transaction
	for attempt := 0; ; attempt++ {
		req := p.request(pb, body, expires, ifMatch, authName, authValue)
		if err := p.lim.Wait(ctx); err != nil {
			return nil, retryable("%s: not sent in this call: at %v PUBLISH a second it would start after the call's deadline (%v); worth retrying", pb.aor.String(), p.cfg.rate, err)
		}
		res, err := transact(ctx, p.client, req, p.cfg.timeout)
		if err != nil {
			return nil, retryable("%s: PUBLISH to %s over %s: %v", pb.aor.String(), p.cfg.address, p.cfg.transport, err)
		}
		if res.StatusCode != 401 && res.StatusCode != 407 || answered && !staleChallenge(res) || attempt > 2 {
			return res, nil
		}
		if preemptive && attempt == 0 {
			pb.chal = nil // the nonce expired, or the server wants a new one
		}
		if pb.user == "" {
			return nil, permanent("%s: the server asks for digest credentials (%s) and none are configured (username, or the %q identity)", pb.aor.String(), res.StartLine(), p.cfg.userIdentity)
		}
		out, chal, err := parseChallenge(res)
		if err == nil {
			authValue, err = credentials(chal, "PUBLISH", pb.aor.String(), pb.user, pb.pass, 1)
		}
		if err != nil {
			p.a.count.unexpected.Add(1)
			return nil, permanent("%s: %v", pb.aor.String(), err)
		}
		authName, answered = out, true
		pb.chal, pb.chalFor, pb.nc = chal, out, 1
	}
}

// staleChallenge says whether a repeated challenge only says the nonce
// went stale (the credentials were right).
func staleChallenge(res *sip.Response) bool {
	for _, n := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		if h := res.GetHeader(n); h != nil && strings.Contains(strings.ToLower(h.Value()), "stale=true") {
			return true
		}
	}
	return false
}

// answerChallenge computes the Authorization (401) or Proxy-Authorization
// (407) header for a challenge.
func answerChallenge(res *sip.Response, method, uri, user, pass string) (string, string, error) {
	out, chal, err := parseChallenge(res)
	if err != nil {
		return "", "", err
	}
	v, err := credentials(chal, method, uri, user, pass, 1)
	return out, v, err
}

// parseChallenge reads a 401's WWW-Authenticate or a 407's
// Proxy-Authenticate, and names the header that answers it.
func parseChallenge(res *sip.Response) (string, *digest.Challenge, error) {
	in, out := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		in, out = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(in)
	if h == nil {
		return "", nil, fmt.Errorf("expected a %s header in %s; got none", in, res.StartLine())
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return "", nil, fmt.Errorf("expected a digest challenge in %s; got %q: %v", in, h.Value(), err)
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	return out, chal, nil
}

// credentials answers chal for one request, with nonce count nc.
func credentials(chal *digest.Challenge, method, uri, user, pass string, nc int) (string, error) {
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: pass, Count: nc})
	if err != nil {
		return "", fmt.Errorf("answering the challenge (realm %q, algorithm %q): %v", chal.Realm, chal.Algorithm, err)
	}
	return cred.String(), nil
}

// request builds a PUBLISH with the headers in the order Kamailio's
// captures show a UA sending them.
func (p *publisher) request(pb *publication, body []byte, expires time.Duration, ifMatch, authName, authValue string) *sip.Request {
	req := sip.NewRequest(sip.PUBLISH, *pb.aor.Clone())
	req.SetTransport(strings.ToUpper(p.cfg.transport))
	req.SetDestination(p.cfg.address)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	from := &sip.FromHeader{Address: *pb.aor.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", pb.fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: *pb.aor.Clone(), Params: sip.NewParams()})
	callID := sip.CallIDHeader(pb.callID)
	req.AppendHeader(&callID)
	pb.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: pb.cseq, MethodName: sip.PUBLISH})
	req.AppendHeader(sip.NewHeader("User-Agent", userAgent))
	req.AppendHeader(sip.NewHeader("Event", pb.event))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	if ifMatch != "" {
		req.AppendHeader(sip.NewHeader("SIP-If-Match", ifMatch))
	}
	if body != nil {
		ct := sip.ContentTypeHeader(pb.ctype)
		req.AppendHeader(&ct)
	}
	if authName != "" {
		req.AppendHeader(sip.NewHeader(authName, authValue))
	}
	req.SetBody(body)
	return req
}

// transact runs one client transaction of client to its final response,
// within timeout (opts default to adding a Via). The publisher, the
// presence server's NOTIFYs and the tests' watcher all send this way.
func transact(ctx context.Context, client *sipgo.Client, req *sip.Request, timeout time.Duration, opts ...sipgo.ClientRequestOption) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if len(opts) == 0 {
		opts = []sipgo.ClientRequestOption{sipgo.ClientRequestAddVia}
	}
	tx, err := client.TransactionRequest(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("transaction ended without a final response")
		case <-ctx.Done():
			return nil, fmt.Errorf("no final response within %s", timeout)
		}
	}
}

func headerValue(m sip.Message, name string) string {
	if hs := m.GetHeaders(name); len(hs) > 0 {
		return strings.TrimSpace(hs[0].Value())
	}
	return ""
}

// refresher refreshes each publication before it expires (RFC 3903 4.4:
// SIP-If-Match, no body).
func (p *publisher) refresher(ctx context.Context) {
	defer close(p.done)
	everyTick(ctx, refreshTick, func(now time.Time) {
		var due []*publication
		p.mu.Lock()
		for _, ap := range p.agents {
			for _, pb := range []*publication{ap.presence, ap.dialog} {
				if pb == nil {
					continue
				}
				pb.mu.Lock()
				if pb.etag != "" && !pb.refreshAt.IsZero() && now.After(pb.refreshAt) {
					due = append(due, pb)
				}
				pb.mu.Unlock()
			}
		}
		p.mu.Unlock()
		for _, pb := range due {
			pb.mu.Lock()
			if pb.etag != "" && time.Now().After(pb.refreshAt) {
				if _, err := p.send(ctx, pb, nil); err != nil && ctx.Err() == nil {
					p.a.log.Warn("refreshing a publication", "aor", pb.aor.String(), "event", pb.event, "error", err)
					// Try again soon rather than at once in a loop.
					pb.refreshAt = time.Now().Add(min(pb.granted/10+time.Second, 30*time.Second))
				}
			}
			pb.mu.Unlock()
		}
	})
}

// everyTick calls do with the time, every period, until ctx ends: the
// publisher's refresher and the presence server's sweeper.
func everyTick(ctx context.Context, period time.Duration, do func(now time.Time)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		do(time.Now())
	}
}

// refreshTick is how often the refresher looks for publications due (a
// scan of every publication: 100,000 take a few milliseconds).
const refreshTick = time.Second

// close removes every publication (bounded by the timeout for each) and
// stops.
func (p *publisher) close() {
	p.stop()
	<-p.done
	p.mu.Lock()
	agents := make([]*agentPubs, 0, len(p.agents))
	for _, ap := range p.agents {
		agents = append(agents, ap)
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.timeout+time.Second)
	defer cancel()
	sem := make(chan struct{}, publishWorkers)
	var wg sync.WaitGroup
	for _, ap := range agents {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ap.mu.Lock()
			defer ap.mu.Unlock()
			if err := p.removeAll(ctx, ap); err != nil {
				p.a.log.Warn("removing a publication on close", "aor", ap.aor, "error", err)
			}
		}()
	}
	wg.Wait()
	p.ua.Close()
}
