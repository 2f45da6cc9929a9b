// Package alertmanager is the Alertmanager adapter: it sends the bridge's
// threshold alerts to Prometheus Alertmanager's v2 API (POST
// /api/v2/alerts), to every Alertmanager of an HA cluster.
//
// An alert's labels are alertname (the rule), severity, the alert's own
// (queue; session and agent for a session alert; the rule's labels) and the
// configured ones; its annotations are the rule's, filled in. A firing alert
// is sent with startsAt and an endsAt four resend intervals ahead, and sent
// again every resend_interval while it fires, as Prometheus does: should the
// bridge stop, Alertmanager resolves it by itself. A resolved alert is sent
// with its endsAt, and sent again with each resend for four resend intervals
// (as Prometheus resends resolved alerts): an Alertmanager of an HA cluster
// that missed the resolution (members share no alerts, only silences and
// what they notified) learns it then, rather than showing the alert firing
// until the endsAt of its last resend. A send succeeds when any
// Alertmanager takes it; the others' errors are in the message and in
// Health. A failure where every Alertmanager answered 4xx is permanent;
// any other failure is retryable, and the bridge retries.
package alertmanager

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Version is the adapter's version; it is in the User-Agent header.
const Version = "1.0.0"

const userAgent = "acdbridge-alertmanager/" + Version

// Sample is the adapter's sample configuration (sample.hcl).
//
//go:embed sample.hcl
var Sample string

// Alert is one alert as Alertmanager's v2 API takes it (postableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Adapter sends alerts to the configured Alertmanagers.
type Adapter struct {
	log hclog.Logger
	now func() time.Time

	mu     sync.Mutex
	cur    *instance
	firing map[string]Alert // by fingerprint: what is resent while it fires
	// resolved is by fingerprint too: what is resent after its resolution,
	// until then (four resend intervals after it).
	resolved map[string]resolvedAlert
	stop     context.CancelFunc
	health   map[string]string // per shown URL: "" after a success, else the last error
}

type resolvedAlert struct {
	alert Alert
	until time.Time
}

type instance struct {
	name   string
	cfg    settingsOf
	client *http.Client
}

var _ sdk.AlertAdapter = (*Adapter)(nil)

// New makes the adapter; it does no I/O until Configure.
func New(logger hclog.Logger) *Adapter {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Adapter{log: logger, now: time.Now, firing: map[string]Alert{}, resolved: map[string]resolvedAlert{}, health: map[string]string{}}
}

// Info names the adapter and its settings.
func (a *Adapter) Info() sdk.Info {
	return sdk.Info{Name: "alertmanager", Version: Version, Settings: settings}
}

// Configure validates and applies the settings, and (re)starts the resend
// loop. Refused settings leave the previous ones in place.
func (a *Adapter) Configure(_ context.Context, s sdk.Settings) error {
	cfg, err := parseConfig(s)
	if err != nil {
		return err
	}
	next := &instance{name: s.Instance, cfg: cfg, client: &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:   cfg.timeout,
		// A redirected POST would become a GET: the answer is the redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	ctx, cancel := context.WithCancel(context.Background())
	a.mu.Lock()
	prev, stop := a.cur, a.stop
	a.cur, a.stop = next, cancel
	a.health = map[string]string{}
	a.mu.Unlock()
	if stop != nil {
		stop()
	}
	if prev != nil {
		prev.client.CloseIdleConnections()
	}
	go a.resendLoop(ctx, next)
	a.log.Info("configured", "instance", s.Instance, "alertmanagers", strings.Join(cfg.shown, ","), "resend_interval", cfg.resend,
		"timeout", cfg.timeout, "basic_auth", cfg.user != "", "bearer", cfg.bearer != "")
	return nil
}

// HandleAlert sends one alert firing or resolved.
func (a *Adapter) HandleAlert(ctx context.Context, al sdk.Alert) sdk.Result {
	a.mu.Lock()
	in := a.cur
	a.mu.Unlock()
	if in == nil {
		return sdk.Result{Outcome: sdk.Retryable, Message: "the adapter is not configured yet (Configure has not succeeded)"}
	}
	if al.Rule == "" || al.StartsAt.IsZero() {
		return sdk.Result{Outcome: sdk.Permanent, Message: "expected an alert with a rule and a start time"}
	}
	am := a.toAlertmanager(in, al)
	fp := fingerprint(am.Labels)
	switch al.Status {
	case "firing":
		a.mu.Lock()
		a.firing[fp] = am // resent from now on, whether or not this send succeeds
		delete(a.resolved, fp)
		a.mu.Unlock()
	case "resolved":
		a.mu.Lock()
		delete(a.firing, fp)
		a.resolved[fp] = resolvedAlert{alert: am, until: a.now().Add(4 * in.cfg.resend)}
		a.mu.Unlock()
	default:
		return sdk.Result{Outcome: sdk.Permanent, Message: fmt.Sprintf("expected the status firing or resolved, got %q", al.Status)}
	}
	outcome, msg := a.send(ctx, in, []Alert{am})
	return sdk.Result{Outcome: outcome, Message: msg}
}

// toAlertmanager is the alert as Alertmanager takes it.
func (a *Adapter) toAlertmanager(in *instance, al sdk.Alert) Alert {
	labels := maps.Clone(in.cfg.labels)
	maps.Copy(labels, al.Labels)
	labels["alertname"] = al.Rule
	if al.Severity != "" {
		labels["severity"] = al.Severity
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k) // Alertmanager refuses empty label values
		}
	}
	am := Alert{Labels: labels, Annotations: al.Annotations, StartsAt: al.StartsAt.UTC(), GeneratorURL: in.cfg.generator}
	if al.Status == "resolved" {
		am.EndsAt = al.EndsAt.UTC()
		if al.EndsAt.IsZero() {
			am.EndsAt = a.now().UTC()
		}
	} else {
		am.EndsAt = a.firingEnd(in)
	}
	return am
}

// firingEnd is a firing alert's endsAt: four resend intervals ahead, so
// that Alertmanager resolves it if the bridge stops resending.
func (a *Adapter) firingEnd(in *instance) time.Time {
	return a.now().UTC().Add(4 * in.cfg.resend).Truncate(time.Millisecond)
}

// fingerprint identifies an alert by its labels, as Alertmanager does.
func fingerprint(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// resendLoop sends every firing alert again each resend_interval.
func (a *Adapter) resendLoop(ctx context.Context, in *instance) {
	t := time.NewTicker(in.cfg.resend)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.Resend(ctx)
		}
	}
}

// Resend sends every firing alert again, with a new endsAt, and the
// alerts resolved within the last four resend intervals, with their
// endsAt. The resend loop calls it each resend_interval.
func (a *Adapter) Resend(ctx context.Context) {
	a.mu.Lock()
	in := a.cur
	if in == nil {
		a.mu.Unlock()
		return
	}
	end := a.firingEnd(in)
	now := a.now()
	var batch []Alert
	for _, fp := range slices.Sorted(maps.Keys(a.firing)) {
		am := a.firing[fp]
		am.EndsAt = end
		batch = append(batch, am)
	}
	for _, fp := range slices.Sorted(maps.Keys(a.resolved)) {
		r := a.resolved[fp]
		if !now.Before(r.until) {
			delete(a.resolved, fp)
			continue
		}
		batch = append(batch, r.alert)
	}
	a.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if o, msg := a.send(ctx, in, batch); o != sdk.Applied {
		a.log.Warn("resending firing alerts failed; trying again in resend_interval", "alerts", len(batch), "error", msg)
	}
}

// send POSTs alerts to every Alertmanager at once: applied when any took
// them.
func (a *Adapter) send(ctx context.Context, in *instance, alerts []Alert) (sdk.Outcome, string) {
	body, err := json.Marshal(alerts)
	if err != nil {
		return sdk.Permanent, "encode the alerts: " + err.Error()
	}
	type result struct {
		retryable bool
		err       error
	}
	results := make([]result, len(in.cfg.urls))
	var wg sync.WaitGroup
	for i, u := range in.cfg.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			retry, err := a.post(ctx, in, u, body)
			results[i] = result{retry, err}
		}()
	}
	wg.Wait()
	var ok []string
	var failures []string
	retry := false
	a.mu.Lock()
	for i, r := range results {
		shown := in.cfg.shown[i]
		if r.err == nil {
			ok = append(ok, shown)
			a.health[shown] = ""
			continue
		}
		failures = append(failures, r.err.Error())
		a.health[shown] = r.err.Error()
		retry = retry || r.retryable
	}
	a.mu.Unlock()
	switch {
	case len(ok) > 0 && len(failures) == 0:
		return sdk.Applied, fmt.Sprintf("%d alerts taken by %s", len(alerts), strings.Join(ok, ", "))
	case len(ok) > 0:
		a.log.Warn("an Alertmanager did not take the alerts; another did", "errors", strings.Join(failures, "; "))
		return sdk.Applied, fmt.Sprintf("%d alerts taken by %s; not by the others: %s", len(alerts), strings.Join(ok, ", "), strings.Join(failures, "; "))
	case retry:
		return sdk.Retryable, strings.Join(failures, "; ")
	default:
		return sdk.Permanent, strings.Join(failures, "; ")
	}
}

// post sends one request; retryable says whether its failure may pass.
func (a *Adapter) post(ctx context.Context, in *instance, u *url.URL, body []byte) (retryable bool, err error) {
	shown := showURL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("POST %s: %v", shown, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	switch {
	case in.cfg.user != "":
		req.SetBasicAuth(in.cfg.user, in.cfg.password)
	case in.cfg.bearer != "":
		req.Header.Set("Authorization", "Bearer "+in.cfg.bearer)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return true, fmt.Errorf("POST %s: no answer within %s", shown, in.cfg.timeout)
		}
		return true, fmt.Errorf("POST %s: %v", shown, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return false, nil
	}
	msg := fmt.Sprintf("POST %s: HTTP %d", shown, code)
	if s := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "?")); s != "" {
		msg += ": " + strings.Join(strings.Fields(s), " ")
	}
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 || (code >= 300 && code <= 399), errors.New(msg)
}

// Health is up when every Alertmanager took the last send (or none was
// made), degraded when some did not, with their errors.
func (a *Adapter) Health(context.Context) sdk.Health {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur == nil {
		return sdk.Health{Status: sdk.Down, Message: "the adapter is not configured yet (Configure has not succeeded)"}
	}
	var bad []string
	for _, shown := range a.cur.cfg.shown {
		if e := a.health[shown]; e != "" {
			bad = append(bad, e)
		}
	}
	if len(bad) > 0 {
		return sdk.Health{Status: sdk.Degraded, Message: fmt.Sprintf("%d of %d Alertmanagers failed the last send: %s", len(bad), len(a.cur.cfg.shown), strings.Join(bad, "; "))}
	}
	return sdk.Health{Status: sdk.Up, Message: fmt.Sprintf("%d Alertmanagers; %d alerts firing", len(a.cur.cfg.shown), len(a.firing))}
}

// Firing is how many alerts are firing (resent every resend_interval).
func (a *Adapter) Firing() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.firing)
}
