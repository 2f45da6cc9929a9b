// Package rt is the Request Tracker adapter: it writes remote-support
// requests and sessions into Request Tracker 5 over its REST2 API. A new
// customer request becomes a ticket in a mapped queue, with the request's
// fields in the body and in custom fields; when the session ends, the
// ticket gets a comment with the session's summary and chat transcript,
// and the status its resolution maps to.
//
// The ticket of a session is the one its external_ref names (phone mode: a
// connection code made for a ticket), else the one this adapter made for
// its request, found again by the tag "[acdbridge request ID]" it puts in
// the ticket's subject, so that nothing depends on the adapter's memory.
//
// Like every adapter it makes one attempt per call and says whether a
// failure is worth retrying (5xx, 408, 429, timeouts and connection errors
// are; other 4xx are not); the bridge retries.
package rt

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
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

const userAgent = "acdbridge-rt/" + Version

// Sample is the adapter's sample configuration (sample.hcl).
//
//go:embed sample.hcl
var Sample string

// Adapter writes requests and sessions into Request Tracker.
type Adapter struct {
	log hclog.Logger

	mu  sync.Mutex
	cur *instance // nil until Configure succeeds
}

// instance is one successful Configure, never changed after it is made
// (its state aside, which has its own guard).
type instance struct {
	name   string
	cfg    settingsOf
	client *http.Client
	st     *state
}

// state is what the adapter remembers of one RT: the tickets it made or
// found, by tag (a cache: RT's search finds them again after a restart),
// and the last call's outcome for Health.
type state struct {
	mu      sync.Mutex
	tickets map[string]int // tag → ticket number
	order   []string       // tags, oldest first, to bound the cache
	last    lastCall
}

type lastCall struct {
	ok      bool
	at      time.Time
	message string
}

// maxCached bounds the tag → ticket cache.
const maxCached = 10000

var (
	_ sdk.RequestAdapter = (*Adapter)(nil)
	_ sdk.SessionAdapter = (*Adapter)(nil)
)

// New makes the adapter; it logs to logger. It does no I/O.
func New(logger hclog.Logger) *Adapter {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Adapter{log: logger}
}

// Info names the adapter and its settings.
func (a *Adapter) Info() sdk.Info {
	return sdk.Info{Name: "rt", Version: Version, Settings: settings}
}

// Configure validates the settings and applies them at once; refused
// settings leave the previous ones in place.
func (a *Adapter) Configure(_ context.Context, s sdk.Settings) error {
	cfg, err := parseConfig(s)
	if err != nil {
		return err
	}
	// RT answers a request it cannot authenticate outside REST2 with a
	// redirect to its login page: that is an answer, not a place to go.
	next := &instance{name: s.Instance, cfg: cfg, client: httpout.Client(cfg.timeout)}
	a.mu.Lock()
	prev := a.cur
	if prev != nil && prev.cfg.base.String() == cfg.base.String() {
		next.st = prev.st
	} else {
		next.st = &state{tickets: map[string]int{}}
	}
	a.cur = next
	a.mu.Unlock()
	if prev != nil {
		prev.client.CloseIdleConnections()
	}
	auth := "token"
	if cfg.token == "" {
		auth = "basic as " + cfg.username
	}
	a.log.Info("configured", "instance", s.Instance, "url", cfg.shownURL, "auth", auth, "queue", cfg.queue,
		"queues", len(cfg.queues), "custom_fields", len(cfg.customFields), "timeout", cfg.timeout)
	return nil
}

func (a *Adapter) current() *instance {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

const notConfigured = "the adapter is not configured yet (Configure has not succeeded)"

// HandleRequest makes sure the request has a ticket: it finds the one made
// for it before (a redelivery, or the same request in a later status), or
// creates it. The result's Reference is the ticket's number.
func (a *Adapter) HandleRequest(ctx context.Context, r sdk.Request) sdk.Result {
	in := a.current()
	if in == nil {
		return sdk.Result{Outcome: sdk.Retryable, Message: notConfigured}
	}
	if r.ID == "" {
		return a.result(in, "request", &callError{outcome: sdk.Permanent, msg: "the request has no id: expected one to tag its ticket with"}, 0)
	}
	t := ticketOf(r)
	id, created, err := a.ensureTicket(ctx, in, t)
	if err != nil {
		return a.result(in, "request "+r.ID, err, 0)
	}
	res := a.result(in, "request "+r.ID, nil, id)
	if created {
		res.Message = fmt.Sprintf("created ticket %d in queue %q", id, in.cfg.rtQueue(r.Queue))
	} else {
		res.Message = fmt.Sprintf("ticket %d exists already", id)
	}
	return res
}

// HandleSession comments on the session's ticket with its summary and
// transcript (once: not when the ticket has that comment already), after
// setting the ticket's status from the resolution. The
// ticket is the one external_ref names when it matches ticket_ref, else
// the one made for the session's request (found, or made now). The
// result's Reference is the ticket's number.
func (a *Adapter) HandleSession(ctx context.Context, s sdk.Session) sdk.Result {
	in := a.current()
	if in == nil {
		return sdk.Result{Outcome: sdk.Retryable, Message: notConfigured}
	}
	what := "session " + s.ID
	if s.ID == "" {
		return a.result(in, what, &callError{outcome: sdk.Permanent, msg: "the session has no id"}, 0)
	}
	id, ok := in.cfg.ticketFromRef(s.ExternalRef)
	if !ok {
		var err error
		if id, _, err = a.ensureTicket(ctx, in, ticketOfSession(s)); err != nil {
			return a.result(in, what, err, 0)
		}
	}
	// The status first: setting it again is harmless, so a retry after a
	// failed comment repeats nothing visible.
	status := in.cfg.status[s.Resolution]
	if status != "" {
		if err := a.setStatus(ctx, in, id, status); err != nil {
			return a.result(in, what, err, id)
		}
	}
	subject := commentSubject(s)
	had, err := a.commented(ctx, in, id, subject)
	if err != nil {
		return a.result(in, what, err, id)
	}
	if !had {
		if err := a.comment(ctx, in, id, subject, sessionText(s)); err != nil {
			return a.result(in, what, err, id)
		}
	}
	res := a.result(in, what, nil, id)
	res.Message = fmt.Sprintf("commented on ticket %d", id)
	if had {
		res.Message = fmt.Sprintf("ticket %d has the session's comment already", id)
	}
	if status != "" {
		res.Message += fmt.Sprintf("; status %q", status)
	}
	return res
}

// ticketFromRef is the ticket number an external_ref names, when it names
// one of this RT.
func (s settingsOf) ticketFromRef(ref string) (int, bool) {
	if ref == "" {
		return 0, false
	}
	m := s.ticketRef.FindStringSubmatch(strings.TrimSpace(ref))
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// ensureTicket finds the ticket tagged t.tag (in the cache, else by a
// search in RT) or creates it.
func (a *Adapter) ensureTicket(ctx context.Context, in *instance, t newTicket) (id int, created bool, err error) {
	if id, ok := in.st.cached(t.tag); ok {
		return id, false, nil
	}
	id, err = a.findTicket(ctx, in, t.tag)
	if err != nil {
		return 0, false, err
	}
	if id == 0 {
		if id, err = a.createTicket(ctx, in, t); err != nil {
			return 0, false, err
		}
		created = true
	}
	in.st.remember(t.tag, id)
	return id, created, nil
}

func (st *state) cached(tag string) (int, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	id, ok := st.tickets[tag]
	return id, ok
}

func (st *state) remember(tag string, id int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.tickets[tag]; ok {
		return
	}
	st.tickets[tag] = id
	st.order = append(st.order, tag)
	if len(st.order) > maxCached {
		delete(st.tickets, st.order[0])
		st.order = st.order[1:]
	}
}

// result makes a call's result, records it for Health, and logs a failure.
func (a *Adapter) result(in *instance, what string, err error, ticket int) sdk.Result {
	now := time.Now()
	res := sdk.Result{Outcome: sdk.Applied}
	if ticket > 0 {
		res.Reference = strconv.Itoa(ticket)
	}
	in.st.mu.Lock()
	if err == nil {
		in.st.last = lastCall{ok: true, at: now}
	} else {
		res.Outcome, res.Message = outcomeOf(err), what+": "+err.Error()
		in.st.last = lastCall{at: now, message: res.Message}
	}
	in.st.mu.Unlock()
	if err != nil {
		a.log.Warn("call failed", "instance", in.name, "what", what, "outcome", res.Outcome.String(), "error", err.Error())
	} else {
		a.log.Debug("done", "instance", in.name, "what", what, "ticket", ticket)
	}
	return res
}

// Health is up while the last call to RT succeeded (or none was made yet),
// degraded after a failed one, with its error.
func (a *Adapter) Health(context.Context) sdk.Health {
	in := a.current()
	if in == nil {
		return sdk.Health{Status: sdk.Down, Message: notConfigured}
	}
	in.st.mu.Lock()
	last := in.st.last
	in.st.mu.Unlock()
	switch {
	case last.at.IsZero():
		return sdk.Health{Status: sdk.Up, Message: fmt.Sprintf("no call to %s yet", in.cfg.shownURL)}
	case last.ok:
		return sdk.Health{Status: sdk.Up, Message: fmt.Sprintf("last call to %s succeeded at %s", in.cfg.shownURL, last.at.UTC().Format(time.RFC3339))}
	}
	return sdk.Health{Status: sdk.Degraded, Message: fmt.Sprintf("last call failed at %s: %s", last.at.UTC().Format(time.RFC3339), last.message)}
}
