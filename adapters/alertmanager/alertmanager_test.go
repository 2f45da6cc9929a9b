package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

var update = flag.Bool("update", false, "rewrite testcases/*.json")

// fakeAM is an Alertmanager that keeps every POST /api/v2/alerts body and
// answers with status (200 unless told).
type fakeAM struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	bodies [][]byte
	auth   []string
	ctype  []string
}

func newFakeAM(t *testing.T, status int) *fakeAM {
	t.Helper()
	f := &fakeAM{status: status}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, b)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.ctype = append(f.ctype, r.Header.Get("Content-Type"))
		st := f.status
		f.mu.Unlock()
		if st != http.StatusOK {
			http.Error(w, `{"code":400,"message":"bad alert"}`, st)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAM) last(t *testing.T) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		t.Fatal("the Alertmanager got nothing")
	}
	return f.bodies[len(f.bodies)-1]
}

var t0 = time.Date(2026, 3, 2, 9, 14, 5, 0, time.UTC)

func configured(t *testing.T, settings string) *Adapter {
	t.Helper()
	a := New(nil)
	a.now = func() time.Time { return t0.Add(30 * time.Second) }
	if err := a.Configure(context.Background(), sdk.Settings{Instance: "am", JSON: []byte(settings)}); err != nil {
		t.Fatal(err)
	}
	return a
}

func firingAlert() sdk.Alert {
	return sdk.Alert{Rule: "support_backlog", Status: "firing", Severity: "warning",
		Labels:      map[string]string{"queue": "support/printers", "team": "support"},
		Annotations: map[string]string{"summary": "7 waiting in support/printers"}, StartsAt: t0}
}

// golden compares a request body with testcases/NAME.json: the same bytes,
// indented.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("%s: not JSON: %s", name, body)
	}
	got := append(buf.Bytes(), '\n')
	path := filepath.Join("testcases", name+".json")
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from %s (go test ./adapters/alertmanager -update):\n got:\n%s\nwant:\n%s", name, path, got, want)
	}
}

// The payloads, byte for byte as Alertmanager's v2 API takes them:
// firing, resent, resolved.
func TestPayloads(t *testing.T) {
	am := newFakeAM(t, http.StatusOK)
	a := configured(t, fmt.Sprintf(`{"urls":[%q],"generator_url":"http://127.0.0.1:8080/","resend_interval":"1m","labels":{"source":"acdbridge","team":"default"}}`, am.URL))
	ctx := context.Background()
	if r := a.HandleAlert(ctx, firingAlert()); r.Outcome != sdk.Applied {
		t.Fatalf("firing: %+v", r)
	}
	golden(t, "firing", am.last(t))
	a.now = func() time.Time { return t0.Add(90 * time.Second) }
	a.Resend(ctx)
	golden(t, "resend", am.last(t))
	resolved := firingAlert()
	resolved.Status, resolved.EndsAt = "resolved", t0.Add(5*time.Minute)
	if r := a.HandleAlert(ctx, resolved); r.Outcome != sdk.Applied {
		t.Fatalf("resolved: %+v", r)
	}
	golden(t, "resolved", am.last(t))
	// The resolution is resent, as it was, for four resend intervals
	// (from t0+90s, the clock at the resolution); then nothing is sent.
	a.now = func() time.Time { return t0.Add(90*time.Second + 4*time.Minute - time.Millisecond) }
	a.Resend(ctx)
	golden(t, "resolved", am.last(t))
	n := len(am.bodies)
	a.now = func() time.Time { return t0.Add(90*time.Second + 4*time.Minute) }
	a.Resend(ctx) // nothing fires any more, the resolution is old: nothing is sent
	if len(am.bodies) != n || a.Firing() != 0 {
		t.Errorf("a resend long after the resolution sent %d requests; %d firing", len(am.bodies)-n, a.Firing())
	}
	if am.ctype[0] != "application/json" {
		t.Errorf("Content-Type %q", am.ctype[0])
	}
	a.now = func() time.Time { return t0.Add(90 * time.Second) }
	session := sdk.Alert{Rule: "negative_rating", Status: "firing", Severity: "info", StartsAt: t0,
		Labels: map[string]string{"queue": "support", "session": "s-9b02", "agent": "a-0001"}, Annotations: map[string]string{"summary": "a-0001 got 1 on s-9b02"}}
	if r := a.HandleAlert(ctx, session); r.Outcome != sdk.Applied {
		t.Fatal(r)
	}
	golden(t, "session", am.last(t))
}

// HA: an Alertmanager that took the firing alert but failed the
// resolution (another took it, so the send succeeded) gets the resolution
// with the next resend, rather than showing the alert firing until the
// endsAt of the last resend. Alertmanagers of a cluster do not share alerts.
func TestResolutionReachesAnAlertmanagerThatMissedIt(t *testing.T) {
	am1, am2 := newFakeAM(t, http.StatusOK), newFakeAM(t, http.StatusOK)
	a := configured(t, fmt.Sprintf(`{"urls":[%q,%q],"resend_interval":"1m"}`, am1.URL, am2.URL))
	ctx := context.Background()
	if r := a.HandleAlert(ctx, firingAlert()); r.Outcome != sdk.Applied {
		t.Fatalf("firing: %+v", r)
	}
	am2.mu.Lock()
	am2.status = http.StatusServiceUnavailable
	am2.mu.Unlock()
	resolved := firingAlert()
	resolved.Status, resolved.EndsAt = "resolved", t0.Add(20*time.Second)
	if r := a.HandleAlert(ctx, resolved); r.Outcome != sdk.Applied || !strings.Contains(r.Message, "HTTP 503") {
		t.Fatalf("resolved, one Alertmanager failing: %+v", r)
	}
	am2.mu.Lock()
	am2.status = http.StatusOK
	am2.mu.Unlock()
	am2.mu.Lock()
	before := len(am2.bodies)
	am2.mu.Unlock()
	a.now = func() time.Time { return t0.Add(90 * time.Second) }
	a.Resend(ctx)
	am2.mu.Lock()
	after := len(am2.bodies)
	am2.mu.Unlock()
	if after != before+1 {
		t.Fatalf("the resend made %d requests to the Alertmanager that missed the resolution; want 1", after-before)
	}
	var got []Alert
	if err := json.Unmarshal(am2.last(t), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Labels["alertname"] != "support_backlog" || !got[0].EndsAt.Equal(resolved.EndsAt) {
		t.Fatalf("the Alertmanager that missed the resolution got %+v; want the alert with endsAt %s", got, resolved.EndsAt)
	}
	if h := a.Health(ctx); h.Status != sdk.Up {
		t.Errorf("health after the resend: %s %s", h.Status, h.Message)
	}
}

// HA: every Alertmanager gets each alert; the send succeeds when any takes
// it, and the others' errors are reported.
func TestSeveralAlertmanagers(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there any more
	tests := []struct {
		name     string
		statuses []int // per fake; 0: the closed address
		want     sdk.Outcome
		health   sdk.HealthStatus
		msg      []string
	}{
		{"all take it", []int{200, 200}, sdk.Applied, sdk.Up, []string{"alerts taken by"}},
		{"one is down", []int{200, 0}, sdk.Applied, sdk.Degraded, []string{"not by the others", "connection refused"}},
		{"one answers 500", []int{500, 200}, sdk.Applied, sdk.Degraded, []string{"HTTP 500"}},
		{"all down", []int{0, 503}, sdk.Retryable, sdk.Degraded, []string{"connection refused", "HTTP 503"}},
		{"all refuse the payload", []int{400, 400}, sdk.Permanent, sdk.Degraded, []string{"HTTP 400", "bad alert"}},
		{"refused by one, down the other", []int{400, 0}, sdk.Retryable, sdk.Degraded, []string{"HTTP 400"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var urls []string
			var fakes []*fakeAM
			for _, st := range tc.statuses {
				if st == 0 {
					urls = append(urls, fmt.Sprintf("%q", downURL))
					continue
				}
				f := newFakeAM(t, st)
				fakes = append(fakes, f)
				urls = append(urls, fmt.Sprintf("%q", f.URL))
			}
			a := configured(t, `{"urls":[`+strings.Join(urls, ",")+`]}`)
			r := a.HandleAlert(context.Background(), firingAlert())
			if r.Outcome != tc.want {
				t.Errorf("outcome %s, want %s: %s", r.Outcome, tc.want, r.Message)
			}
			for _, m := range tc.msg {
				if !strings.Contains(r.Message, m) {
					t.Errorf("message %q lacks %q", r.Message, m)
				}
			}
			for i, f := range fakes {
				if len(f.bodies) != 1 {
					t.Errorf("Alertmanager %d got %d requests, want 1", i, len(f.bodies))
				}
			}
			if h := a.Health(context.Background()); h.Status != tc.health {
				t.Errorf("health %s (%s), want %s", h.Status, h.Message, tc.health)
			}
		})
	}
}

func TestAuthHeaders(t *testing.T) {
	tests := []struct {
		settings string
		want     string
	}{
		{`"username":"bridge","password":"s3cret"`, "Basic YnJpZGdlOnMzY3JldA=="},
		{`"bearer_token":"tok-1"`, "Bearer tok-1"},
		{`"labels":{"a":"b"}`, ""},
	}
	for _, tc := range tests {
		am := newFakeAM(t, http.StatusOK)
		a := configured(t, fmt.Sprintf(`{"urls":[%q],%s}`, am.URL, tc.settings))
		a.HandleAlert(context.Background(), firingAlert())
		if am.auth[0] != tc.want {
			t.Errorf("%s: Authorization %q, want %q", tc.settings, am.auth[0], tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		settings string
		field    string
		msg      string
	}{
		{`{}`, "urls", "at least one"},
		{`{"urls":[]}`, "urls", "at least one"},
		{`{"urls":["ftp://x"]}`, "urls[0]", `the scheme "ftp"`},
		{`{"urls":["http://127.0.0.1:9093","http://127.0.0.1:9093/"]}`, "urls[1]", "each Alertmanager once"},
		{`{"urls":"http://x"}`, "urls", "expected a list of URLs"},
		{`{"urls":["http://x"],"resend_interval":"1h1s"}`, "resend_interval", "1s to 1h0m0s"},
		{`{"urls":["http://x"],"resend_interval":"often"}`, "resend_interval", "expected a duration"},
		{`{"urls":["http://x"],"timeout":"1ms"}`, "timeout", "100ms to 2m0s"},
		{`{"urls":["http://x"],"generator_url":"dashboard"}`, "generator_url", "absolute"},
		{`{"urls":["http://x"],"labels":{"1a":"x"}}`, "labels.1a", "label name"},
		{`{"urls":["http://x"],"labels":{"alertname":"x"}}`, "labels.alertname", "rule's name"},
		{`{"urls":["http://x"],"labels":{"a":""}}`, "labels.a", "empty"},
		{`{"urls":["http://x"],"username":"u"}`, "password", "together"},
		{`{"urls":["http://x"],"username":"u","password":"p","bearer_token":"t"}`, "bearer_token", "not both"},
		{`{"urls":["http://x"],"bearer_token":""}`, "bearer_token", "non-empty"},
		{`{"urls":["http://x"],"url":"http://x"}`, "url", "unknown setting"},
	}
	for _, tc := range tests {
		err := New(nil).Configure(context.Background(), sdk.Settings{Instance: "am", JSON: []byte(tc.settings)})
		var fe *sdk.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a field error", tc.settings, err)
			continue
		}
		found := false
		for _, e := range unjoin(err) {
			if errors.As(e, &fe) && fe.Field == tc.field && strings.Contains(fe.Message, tc.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %v; want field %s with %q", tc.settings, err, tc.field, tc.msg)
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Secrets never reach the log or the messages.
func TestSecretsNotShown(t *testing.T) {
	am := newFakeAM(t, http.StatusBadRequest)
	a := configured(t, fmt.Sprintf(`{"urls":[%q],"password":"pw-XYZ","username":"u"}`, strings.Replace(am.URL, "http://", "http://user:url-secret@", 1)))
	r := a.HandleAlert(context.Background(), firingAlert())
	h := a.Health(context.Background())
	for _, s := range []string{r.Message, h.Message} {
		if strings.Contains(s, "pw-XYZ") || strings.Contains(s, "url-secret") {
			t.Errorf("a secret shows: %s", s)
		}
	}
}

func TestNotConfiguredAndBadAlerts(t *testing.T) {
	if r := New(nil).HandleAlert(context.Background(), firingAlert()); r.Outcome != sdk.Retryable {
		t.Errorf("not configured: %+v", r)
	}
	am := newFakeAM(t, http.StatusOK)
	a := configured(t, fmt.Sprintf(`{"urls":[%q]}`, am.URL))
	bad := firingAlert()
	bad.Status = "pending"
	if r := a.HandleAlert(context.Background(), bad); r.Outcome != sdk.Permanent {
		t.Errorf("status pending: %+v", r)
	}
	bad = firingAlert()
	bad.StartsAt = time.Time{}
	if r := a.HandleAlert(context.Background(), bad); r.Outcome != sdk.Permanent {
		t.Errorf("no start: %+v", r)
	}
}
