// Package sip is the SIP presence adapter: phones' busy lamps and SIP-aware
// ACDs follow an agent's presence, and this adapter makes it show the
// remote-support sessions the bridge sees. Built on github.com/emiago/sipgo.
//
// It has two modes. In publish mode it PUBLISHes (RFC 3903) each agent's
// presence to a presence server such as Kamailio: a PIDF document (RFC 3863)
// with RPID activities (RFC 4480) and, optionally, dialog-info (RFC 4235)
// for BLF lamps; it keeps each publication's newest SIP-ETag, refreshes it
// before it expires, modifies it with SIP-If-Match, and removes it with
// Expires: 0 when the agent goes offline or the adapter stops. In server
// mode it is the presence server for the agents' URIs: it answers SUBSCRIBE
// for the presence and dialog events, keeps each subscription's dialog
// itself (sipgo has no SUBSCRIBE dialog helper) and sends NOTIFY on every
// change.
package sip

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Version is the adapter's version.
const Version = "0.1.0"

// userAgent is sent as User-Agent and Server.
const userAgent = "acdbridge-sip/" + Version

// Sample is the adapter's sample configuration (sample.hcl).
//
//go:embed sample.hcl
var Sample string

// availability is the part of an sdk.Availability the documents show.
type availability struct {
	available     bool
	state, reason string
}

func availabilityOf(it sdk.Availability) availability {
	return availability{available: it.Available, state: it.State, reason: it.Reason}
}

// counters count what went wrong on the wire; Health shows them.
type counters struct {
	malformed  atomic.Uint64 // SIP that did not parse, or requests missing what they need
	unexpected atomic.Uint64 // responses the state machines did not expect
}

func (c *counters) String() string {
	return fmt.Sprintf("malformed SIP %d, unexpected responses %d", c.malformed.Load(), c.unexpected.Load())
}

// Adapter shows agents' availability as SIP presence.
type Adapter struct {
	log   hclog.Logger
	count counters
	// logLimit keeps a flood of bad packets from flooding the log too.
	logLimit *rate.Limiter
	// probeEvery is how often publish mode asks the server OPTIONS, for
	// Health (changed by tests).
	probeEvery time.Duration

	mu      sync.Mutex
	cfg     *settingsOf
	health  sdk.Health
	applied map[string]uint64 // newest version applied per agent
	pub     *publisher
	srv     *presenceServer
}

var _ sdk.AvailabilityAdapter = (*Adapter)(nil)

// New makes the adapter; it logs to logger. It does no I/O until configured.
func New(logger hclog.Logger) *Adapter {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	a := &Adapter{
		log: logger, logLimit: rate.NewLimiter(1, 10), probeEvery: 30 * time.Second,
		health:  sdk.Health{Status: sdk.Down, Message: "not configured"},
		applied: map[string]uint64{},
	}
	sipgoDefaults(logger)
	return a
}

// sipgoDefaults sets sipgo's package-wide settings, once, before any
// transport runs: its logger (its connection pools log through it, outside
// any user agent) keeps errors only, to logger, else its warnings go to
// stderr through the log package; and its UDP size limit. sipgo refuses
// UDP messages over 1300 bytes (RFC 3261 18.1.1 wants TCP for them); a
// PIDF with RPID, long URIs and digest credentials passes that, and
// presence servers take such datagrams (Kamailio reads up to 64 KiB), as
// they take their own NOTIFYs.
func sipgoDefaults(logger hclog.Logger) {
	quietDefault.Do(func() {
		sip.SetDefaultLogger(slog.New(packageHandler{log: logger.Named("sipgo")}))
		sip.UDPMTUSize = maxUDPMessage + 200
	})
}

// packageHandler logs sipgo's package-wide errors.
type packageHandler struct{ log hclog.Logger }

func (h packageHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h packageHandler) Handle(_ context.Context, r slog.Record) error {
	h.log.Error(r.Message)
	return nil
}
func (h packageHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h packageHandler) WithGroup(string) slog.Handler      { return h }

// Info names the adapter and its settings.
func (a *Adapter) Info() sdk.Info {
	ids := []string{DefaultURIIdentity}
	a.mu.Lock()
	if a.cfg != nil {
		ids = []string{a.cfg.uriIdentity}
	}
	a.mu.Unlock()
	return sdk.Info{Name: "sip", Version: Version, Settings: settings, Identities: ids}
}

// Configure checks the settings and starts the publisher or the server.
func (a *Adapter) Configure(ctx context.Context, s sdk.Settings) error {
	cfg, err := parseConfig(s)
	if err != nil {
		return err
	}
	a.Close()
	a.mu.Lock()
	a.cfg = &cfg
	a.applied = map[string]uint64{}
	a.mu.Unlock()
	switch cfg.mode {
	case ModePublish:
		p, err := newPublisher(a, cfg)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.pub = p
		a.health = sdk.Health{Status: sdk.Degraded, Message: fmt.Sprintf("asking %s over %s for OPTIONS", cfg.address, cfg.transport)}
		a.mu.Unlock()
		a.log.Info("configured", "instance", s.Instance, "mode", cfg.mode, "address", cfg.address, "transport", cfg.transport,
			"username", cfg.username, "uri_identity", cfg.uriIdentity, "expires", cfg.expires.String(), "dialog_info", cfg.dialogInfo, "rate", cfg.rate)
	case ModeServer:
		srv, err := newPresenceServer(ctx, a, cfg)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.srv = srv
		a.health = sdk.Health{Status: sdk.Up, Message: fmt.Sprintf("presence server on %s (%s)", cfg.listen, strings.Join(cfg.listenTransports, ", "))}
		a.mu.Unlock()
		a.log.Info("configured", "instance", s.Instance, "mode", cfg.mode, "listen", cfg.listen, "transports", cfg.listenTransports,
			"uri_identity", cfg.uriIdentity, "watchers", len(cfg.watchers), "realm", cfg.realm)
	}
	return nil
}

// Close removes every publication (publish mode) or ends every
// subscription (server mode), and stops.
func (a *Adapter) Close() error {
	a.mu.Lock()
	p, srv := a.pub, a.srv
	a.pub, a.srv = nil, nil
	a.mu.Unlock()
	if p != nil {
		p.close()
	}
	if srv != nil {
		srv.close()
	}
	return nil
}

// Health is, in publish mode, up while the server answers (OPTIONS every
// 30 s, and every PUBLISH) and degraded while it does not or a PUBLISH
// failed in a way worth retrying; in server mode, up while listening. Its
// message carries the wire counters.
func (a *Adapter) Health(context.Context) sdk.Health {
	a.mu.Lock()
	h, srv := a.health, a.srv
	a.mu.Unlock()
	h.Message += "; " + a.count.String()
	if srv != nil {
		if n := srv.refused.Load(); n > 0 {
			h.Message += fmt.Sprintf("; refused %d subscription(s) at max_subscriptions %d", n, srv.cfg.maxSubscriptions)
		}
	}
	return h
}

func (a *Adapter) setHealth(s sdk.HealthStatus, msg string) {
	a.mu.Lock()
	a.health = sdk.Health{Status: s, Message: msg}
	a.mu.Unlock()
}

// warnf logs a problem on the wire, at most about once a second.
func (a *Adapter) warnf(msg string, args ...any) {
	if a.logLimit.Allow() {
		a.log.Warn(msg, args...)
	}
}

// aorOf is an agent's SIP URI from its identities, parsed and normalized
// (sip:user@host), or a result saying why the agent is skipped.
func aorOf(cfg settingsOf, it sdk.Availability) (string, *sdk.Result) {
	v := strings.TrimSpace(it.Identities[cfg.uriIdentity])
	if v == "" {
		return "", &sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Ignored,
			Message: fmt.Sprintf("no %q identity for this agent: no SIP URI to show its presence", cfg.uriIdentity)}
	}
	uri, err := normalizeURI(v, cfg.domain)
	if err != nil {
		return "", &sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Permanent,
			Message: fmt.Sprintf("identity %s: %v", cfg.uriIdentity, err)}
	}
	return uri, nil
}

// normalizeURI parses v as a SIP URI (or, with a domain, a user part) and
// gives it back as sip:user@host[:port] without parameters.
func normalizeURI(v, domain string) (string, error) {
	s := v
	if !strings.HasPrefix(strings.ToLower(s), "sip:") && !strings.HasPrefix(strings.ToLower(s), "sips:") {
		if domain == "" || strings.Contains(s, "@") {
			return "", fmt.Errorf("expected a SIP URI like sip:alice@example.com (or a user part with the domain setting); got %q", v)
		}
		s = "sip:" + s + "@" + domain
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return "", fmt.Errorf("expected a SIP URI like sip:alice@example.com; got %q: %v", v, err)
	}
	if u.User == "" || u.Host == "" || strings.ContainsAny(u.Host, " <>\"\r\n@;?") {
		return "", fmt.Errorf("expected a SIP URI with a user and a host, like sip:alice@example.com; got %q", v)
	}
	if u.Password != "" || !validUser(u.User) {
		return "", fmt.Errorf("expected a SIP URI whose user part has only RFC 3261's user characters (no password, no spaces); got %q", v)
	}
	scheme := strings.ToLower(u.Scheme)
	out := scheme + ":" + u.User + "@" + strings.ToLower(u.Host)
	if u.Port > 0 {
		out += fmt.Sprintf(":%d", u.Port)
	}
	return out, nil
}

// validUser says whether s is a user part of RFC 3261 (25.1: unreserved,
// escaped, and & = + $ , ; ? /).
func validUser(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.!~*'()&=+$,;?/", c) >= 0:
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return s != ""
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// take checks an item's version: nil to go on, or an Ignored result.
// Reconciles take the version already applied too.
func (a *Adapter) take(it sdk.Availability, reconcile bool) *sdk.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	last, seen := a.applied[it.AgentID]
	if seen && (it.Version < last || it.Version == last && !reconcile) {
		return &sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Ignored, Message: fmt.Sprintf("version %d already applied (newest %d)", it.Version, last)}
	}
	return nil
}

func (a *Adapter) done(it sdk.Availability) {
	a.mu.Lock()
	if it.Version > a.applied[it.AgentID] {
		a.applied[it.AgentID] = it.Version
	}
	a.mu.Unlock()
}

// SetAvailability publishes (or, in server mode, notifies) each agent's
// presence.
func (a *Adapter) SetAvailability(ctx context.Context, items []sdk.Availability) []sdk.Result {
	return a.apply(ctx, items, false)
}

// Reconcile applies the whole desired state, versions already applied
// included (a restarted presence server has forgotten them).
func (a *Adapter) Reconcile(ctx context.Context, desired []sdk.Availability) []sdk.Result {
	return a.apply(ctx, desired, true)
}

func (a *Adapter) apply(ctx context.Context, items []sdk.Availability, reconcile bool) []sdk.Result {
	out := make([]sdk.Result, len(items))
	a.mu.Lock()
	p, srv := a.pub, a.srv
	a.mu.Unlock()
	if p == nil && srv == nil {
		for i, it := range items {
			out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Retryable, Message: "not configured"}
		}
		return out
	}
	if srv != nil {
		for i, it := range items {
			if skip := a.take(it, reconcile); skip != nil {
				out[i] = *skip
				continue
			}
			out[i] = srv.set(it)
			if out[i].Outcome == sdk.Applied {
				a.done(it)
			}
		}
		return out
	}
	// Publish mode: agents in parallel, each publication one transaction
	// at a time; the rate limiter paces the whole. A batch larger than the
	// rate allows before the call's deadline (the reconcile of 100,000
	// agents) is done in part: the PUBLISH that would start too late are
	// not sent and their items are retryable, so the bridge sends them
	// again, and the call still ends before its deadline.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-(p.cfg.timeout + time.Second)))
		defer cancel()
	}
	sem := make(chan struct{}, publishWorkers)
	var wg sync.WaitGroup
	for i, it := range items {
		if skip := a.take(it, reconcile); skip != nil {
			out[i] = *skip
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = p.set(ctx, it)
			if out[i].Outcome == sdk.Applied {
				a.done(it)
			}
		}()
	}
	wg.Wait()
	return out
}

// publishWorkers bounds the PUBLISH transactions in flight.
const publishWorkers = 64

// slogHandler takes sipgo's log: a message that did not parse is counted
// as malformed SIP; warnings and errors go to the adapter's log, limited.
type slogHandler struct {
	a     *Adapter
	min   slog.Level
	attrs []slog.Attr
}

func (h slogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h slogHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "parse") {
		h.a.count.malformed.Add(1)
	}
	args := []any{}
	for _, at := range h.attrs {
		args = append(args, at.Key, at.Value.String())
	}
	r.Attrs(func(at slog.Attr) bool {
		if at.Key != "data" { // a whole packet: may be long, may carry credentials
			args = append(args, at.Key, at.Value.String())
		}
		return true
	})
	h.a.warnf("sipgo: "+r.Message, args...)
	return nil
}

func (h slogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return slogHandler{a: h.a, min: h.min, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h slogHandler) WithGroup(string) slog.Handler { return h }

func (a *Adapter) slog() *slog.Logger { return slog.New(slogHandler{a: a, min: slog.LevelWarn}) }

// maxUDPMessage is the largest SIP message sent over UDP.
const maxUDPMessage = 65000

// quietDefault makes sipgoDefaults run once in a process.
var quietDefault sync.Once
