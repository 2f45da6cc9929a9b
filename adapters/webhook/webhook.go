// Package webhook is the webhook adapter: it POSTs a signed JSON payload to
// one URL for every call it gets from the bridge: availability changes and
// reconciles, customer requests, ended sessions and alerts. It is the way to
// feed a system that has no adapter of its own: a CRM's inbound hook, a
// serverless function, a chat bot.
//
// Like every adapter it applies what it is given and says per item whether a
// failure is worth retrying (5xx, 408, 429, timeouts and connection errors
// are; other 4xx are not); the bridge retries. Receivers in Go check the
// signature with Verify.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/httpout"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Version is the adapter's version; it is in the User-Agent header.
const Version = "1.0.0"

const userAgent = "acdbridge-webhook/" + Version

// Sample is the adapter's sample configuration (sample.hcl).
//
//go:embed sample.hcl
var Sample string

// drainBytes is how much more of a response is read so that its connection
// can be reused.
const drainBytes = 64 << 10

// Adapter POSTs each call to the configured URL.
type Adapter struct {
	log hclog.Logger

	mu  sync.Mutex
	cur *instance // nil until Configure succeeds
}

// instance is one successful Configure: never changed after it is made
// (target aside, which has its own guard), so a call holds on to the one it
// started with while Configure swaps in the next.
type instance struct {
	name   string
	cfg    settingsOf
	client *http.Client
	target *target
}

// target is what the adapter knows of one receiving URL: it survives a
// Configure that keeps the URL and starts afresh with a new one.
type target struct {
	mu        sync.Mutex
	delivered map[string]uint64 // per agent, the newest version a receiver accepted
	last      lastDelivery
}

type lastDelivery struct {
	state   deliveryState
	at      time.Time
	message string
}

type deliveryState int

const (
	noDelivery deliveryState = iota
	delivered
	failed
)

var (
	_ sdk.AvailabilityAdapter = (*Adapter)(nil)
	_ sdk.RequestAdapter      = (*Adapter)(nil)
	_ sdk.SessionAdapter      = (*Adapter)(nil)
	_ sdk.AlertAdapter        = (*Adapter)(nil)
)

// New makes the adapter; it logs to logger. It does no I/O: Configure sets
// the URL and the calls send.
func New(logger hclog.Logger) *Adapter {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Adapter{log: logger}
}

// Info names the adapter and its settings.
func (a *Adapter) Info() sdk.Info {
	return sdk.Info{Name: "webhook", Version: Version, Settings: settings}
}

// Configure validates the settings and applies them at once: calls already
// under way finish with the settings they started with. Refused settings
// leave the previous ones in place.
func (a *Adapter) Configure(_ context.Context, s sdk.Settings) error {
	cfg, err := parseConfig(s)
	if err != nil {
		return err
	}
	// A redirected POST becomes a GET (301, 302, 303) and would pass for a
	// delivery; and extra headers would follow to another host. The
	// redirect is the answer: the url setting should say where to go.
	next := &instance{name: s.Instance, cfg: cfg, client: httpout.Client(cfg.timeout)}

	a.mu.Lock()
	prev := a.cur
	if prev != nil && prev.cfg.url.String() == cfg.url.String() {
		next.target = prev.target
	} else {
		next.target = &target{delivered: map[string]uint64{}}
	}
	a.cur = next
	a.mu.Unlock()
	if prev != nil {
		prev.client.CloseIdleConnections()
	}

	sent := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if cfg.send[k] {
			sent = append(sent, string(k))
		}
	}
	headers := make([]string, 0, len(cfg.headers))
	for h := range cfg.headers {
		headers = append(headers, h)
	}
	slices.Sort(headers)
	// Header names only: values are often credentials.
	a.log.Info("configured", "instance", s.Instance, "url", cfg.shownURL, "signed", cfg.secret != nil,
		"headers", strings.Join(headers, ","), "timeout", cfg.timeout, "send", strings.Join(sent, ","))
	return nil
}

func (a *Adapter) current() *instance {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

const notConfigured = "the adapter is not configured yet (Configure has not succeeded)"

// startAvailability makes a result per item and checks that availability
// can be sent; done says out is already the whole answer.
func (a *Adapter) startAvailability(items []sdk.Availability) (out []sdk.Result, in *instance, done bool) {
	out = make([]sdk.Result, len(items))
	for i, it := range items {
		out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version}
	}
	if in = a.current(); in == nil {
		return fill(out, nil, sdk.Retryable, notConfigured), nil, true
	}
	if !in.cfg.send[sdk.CapAvailability] {
		return fill(out, nil, sdk.Ignored, `"availability" is not in the send setting`), nil, true
	}
	return out, in, false
}

// SetAvailability sends one availability payload with the items newer than
// what the receiver already accepted for their agents; the others are
// Ignored. When none is newer, nothing is sent.
func (a *Adapter) SetAvailability(ctx context.Context, items []sdk.Availability) []sdk.Result {
	out, in, done := a.startAvailability(items)
	if done {
		return out
	}
	var send []sdk.Availability
	var sent []int
	in.target.mu.Lock()
	newest := map[string]uint64{} // per agent, in the receiver or earlier in this batch
	for i, it := range items {
		last, ok := newest[it.AgentID]
		if !ok {
			last = in.target.delivered[it.AgentID]
		}
		if it.Version <= last {
			out[i].Outcome = sdk.Ignored
			out[i].Message = fmt.Sprintf("version %d already delivered (newest: %d)", it.Version, last)
			continue
		}
		newest[it.AgentID] = it.Version
		send = append(send, it)
		sent = append(sent, i)
	}
	in.target.mu.Unlock()
	if len(send) == 0 {
		return out
	}
	outcome, msg := a.post(ctx, in, EventAvailability, func(h header) any {
		return availabilityPayload{header: h, Changes: availabilityItems(send)}
	})
	if outcome == sdk.Applied {
		in.target.record(send)
	}
	return fill(out, sent, outcome, msg)
}

// Reconcile sends the whole desired state, every agent whatever was
// delivered before, in one reconcile payload.
func (a *Adapter) Reconcile(ctx context.Context, desired []sdk.Availability) []sdk.Result {
	out, in, done := a.startAvailability(desired)
	if done {
		return out
	}
	outcome, msg := a.post(ctx, in, EventReconcile, func(h header) any {
		return reconcilePayload{header: h, Desired: availabilityItems(desired)}
	})
	if outcome == sdk.Applied {
		in.target.record(desired)
	}
	return fill(out, nil, outcome, msg)
}

// fill sets the outcome of the results at idx, or of all when idx is nil.
func fill(out []sdk.Result, idx []int, o sdk.Outcome, msg string) []sdk.Result {
	if idx == nil {
		for i := range out {
			out[i].Outcome, out[i].Message = o, msg
		}
		return out
	}
	for _, i := range idx {
		out[i].Outcome, out[i].Message = o, msg
	}
	return out
}

func (t *target) record(items []sdk.Availability) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, it := range items {
		if it.Version > t.delivered[it.AgentID] {
			t.delivered[it.AgentID] = it.Version
		}
	}
}

// HandleRequest sends a request payload.
func (a *Adapter) HandleRequest(ctx context.Context, r sdk.Request) sdk.Result {
	return a.handle(ctx, sdk.CapRequests, EventRequest, func(h header) any { return requestPayload{header: h, Request: requestOf(r)} })
}

// HandleSession sends a session payload.
func (a *Adapter) HandleSession(ctx context.Context, s sdk.Session) sdk.Result {
	return a.handle(ctx, sdk.CapSessions, EventSession, func(h header) any { return sessionPayload{header: h, Session: sessionOf(s)} })
}

// HandleAlert sends an alert payload.
func (a *Adapter) HandleAlert(ctx context.Context, al sdk.Alert) sdk.Result {
	return a.handle(ctx, sdk.CapAlerts, EventAlert, func(h header) any { return alertPayload{header: h, Alert: alertOf(al)} })
}

func (a *Adapter) handle(ctx context.Context, kind sdk.Capability, event string, build func(header) any) sdk.Result {
	in := a.current()
	if in == nil {
		return sdk.Result{Outcome: sdk.Retryable, Message: notConfigured}
	}
	if !in.cfg.send[kind] {
		return sdk.Result{Outcome: sdk.Ignored, Message: fmt.Sprintf("%q is not in the send setting", kind)}
	}
	outcome, msg := a.post(ctx, in, event, build)
	return sdk.Result{Outcome: outcome, Message: msg}
}

// post sends one payload and says what became of it. It makes one attempt:
// retrying is the bridge's job.
func (a *Adapter) post(ctx context.Context, in *instance, event string, build func(header) any) (sdk.Outcome, string) {
	now := time.Now()
	body, err := encode(build(header{V: 1, Type: event, Instance: in.name, SentAt: now.UTC().Truncate(time.Millisecond)}))
	if err != nil {
		return a.done(in, event, "", sdk.Permanent, fmt.Sprintf("POST %s: encode the %s payload: %v", in.cfg.shownURL, event, err))
	}
	id := deliveryID()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.url.String(), bytes.NewReader(body))
	if err != nil {
		return a.done(in, event, id, sdk.Permanent, fmt.Sprintf("POST %s: %v", in.cfg.shownURL, err))
	}
	for k, vs := range in.cfg.headers {
		req.Header[k] = slices.Clone(vs)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(headerEvent, event)
	req.Header.Set(headerDelivery, id)
	if in.cfg.secret != nil {
		ts := strconv.FormatInt(now.Unix(), 10)
		req.Header.Set(headerTimestamp, ts)
		req.Header.Set(headerSignature, Sign(string(in.cfg.secret), ts, body))
	}

	resp, err := in.client.Do(req)
	if err != nil {
		return a.done(in, event, id, sdk.Retryable, httpout.TransportError(ctx, "POST "+in.cfg.shownURL, in.cfg.timeout, err))
	}
	defer resp.Body.Close()
	start, _ := io.ReadAll(io.LimitReader(resp.Body, httpout.SnippetBytes+1))
	snippet := httpout.Snippet(start)
	_, _ = io.CopyN(io.Discard, resp.Body, drainBytes) // so the connection can be reused

	code := resp.StatusCode
	status := "HTTP " + resp.Status
	if !strings.HasPrefix(resp.Status, strconv.Itoa(code)) {
		status = fmt.Sprintf("HTTP %d %s", code, resp.Status)
	}
	switch {
	case code >= 200 && code <= 299:
		return a.done(in, event, id, sdk.Applied, fmt.Sprintf("delivered: %s", status))
	case httpout.Retryable(code):
		msg := fmt.Sprintf("POST %s: %s", in.cfg.shownURL, status)
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			msg += fmt.Sprintf(" (Retry-After: %s)", truncate(httpout.Clean(ra), 40))
		}
		return a.done(in, event, id, sdk.Retryable, withSnippet(msg, snippet))
	case code >= 300 && code <= 399:
		msg := fmt.Sprintf("POST %s: %s; redirects are not followed", in.cfg.shownURL, status)
		if loc, err := resp.Location(); err == nil {
			msg += fmt.Sprintf(": set url to the new address (%s)", httpout.ShowURL(loc))
		}
		return a.done(in, event, id, sdk.Permanent, msg)
	default:
		return a.done(in, event, id, sdk.Permanent, withSnippet(fmt.Sprintf("POST %s: %s", in.cfg.shownURL, status), snippet))
	}
}

// done records the outcome for Health and the log.
func (a *Adapter) done(in *instance, event, id string, o sdk.Outcome, msg string) (sdk.Outcome, string) {
	if id != "" {
		msg += " (delivery " + id + ")"
	}
	now := time.Now()
	in.target.mu.Lock()
	if o == sdk.Applied {
		in.target.last = lastDelivery{state: delivered, at: now}
	} else {
		in.target.last = lastDelivery{state: failed, at: now, message: msg}
	}
	in.target.mu.Unlock()
	if o == sdk.Applied {
		a.log.Debug("delivered", "instance", in.name, "event", event, "delivery", id)
	} else {
		a.log.Warn("delivery failed", "instance", in.name, "event", event, "delivery", id, "outcome", o.String(), "error", msg)
	}
	return o, msg
}

// deliveryID is a new random id for one request.
func deliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// withSnippet is msg with the start of the body, if any.
func withSnippet(msg, snippet string) string {
	if snippet == "" {
		return msg
	}
	return msg + ": " + snippet
}

// Health is up while the last delivery succeeded (or none was made yet), and
// degraded after a failed one, with its error.
func (a *Adapter) Health(context.Context) sdk.Health {
	in := a.current()
	if in == nil {
		return sdk.Health{Status: sdk.Down, Message: notConfigured}
	}
	in.target.mu.Lock()
	last := in.target.last
	in.target.mu.Unlock()
	switch last.state {
	case delivered:
		return sdk.Health{Status: sdk.Up, Message: fmt.Sprintf("last delivery to %s succeeded at %s", in.cfg.shownURL, last.at.UTC().Format(time.RFC3339))}
	case failed:
		// The message starts with "POST URL:", the URL without userinfo.
		return sdk.Health{Status: sdk.Degraded, Message: fmt.Sprintf("last delivery failed at %s: %s", last.at.UTC().Format(time.RFC3339), last.message)}
	}
	return sdk.Health{Status: sdk.Up, Message: fmt.Sprintf("no delivery to %s yet", in.cfg.shownURL)}
}

// Delivered is the newest version a receiver accepted for each agent (for
// tests and the conformance kit).
func (a *Adapter) Delivered() map[string]uint64 {
	in := a.current()
	if in == nil {
		return map[string]uint64{}
	}
	in.target.mu.Lock()
	defer in.target.mu.Unlock()
	out := make(map[string]uint64, len(in.target.delivered))
	for k, v := range in.target.delivered {
		out[k] = v
	}
	return out
}
