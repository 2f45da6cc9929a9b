package webhook

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

var update = flag.Bool("update", false, "rewrite testcases/*.json from what the adapter sends")

// hook is a receiver that records every request and answers with the
// statuses given in turn (the last one repeats; none: 204).
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
	reply    string
}

type received struct {
	header http.Header
	body   []byte
}

func newHook(t *testing.T, statuses ...int) *hook {
	t.Helper()
	h := &hook{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		h.mu.Lock()
		h.got = append(h.got, received{header: r.Header.Clone(), body: body.Bytes()})
		status, reply := http.StatusNoContent, h.reply
		if len(h.statuses) > 0 {
			status = h.statuses[0]
			if len(h.statuses) > 1 {
				h.statuses = h.statuses[1:]
			}
		}
		h.mu.Unlock()
		if r.Method != http.MethodPost {
			status = http.StatusMethodNotAllowed
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(reply))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) requests() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

func (h *hook) answer(reply string, statuses ...int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reply, h.statuses = reply, statuses
}

// configured is an adapter named "crm" configured with settings.
func configured(t *testing.T, settings string) *Adapter {
	t.Helper()
	a := New(hclog.NewNullLogger())
	if err := a.Configure(context.Background(), sdk.Settings{Instance: "crm", JSON: []byte(settings)}); err != nil {
		t.Fatalf("configure %s: %v", settings, err)
	}
	return a
}

var at = acdtest.At

// The examples: those of docs/events.md where they overlap.
var (
	ada = sdk.Availability{AgentID: "a-0001", AgentName: "Ada Lovelace", Available: false, State: "in_session", Reason: "remote-support",
		Version: 7, Since: at("2026-03-02T09:14:05Z"), Identities: map[string]string{"interface": "PJSIP/1001", "email": "ada@example.com"}}
	bruno = sdk.Availability{AgentID: "a-0002", AgentName: "Bruno Haddad", Available: false, State: "offline", Reason: "remote-support",
		Version: 3, Since: at("2026-03-02T08:02:41Z"), Identities: map[string]string{"interface": "PJSIP/1002"}}
	chen = sdk.Availability{AgentID: "a-0003", AgentName: "Chen Okafor", Available: true, State: "available",
		Version: 4, Since: at("2026-03-02T09:13:58Z")}
	request = sdk.Request{ID: "r-5f1c", Queue: "support/printers", Status: "waiting", CreatedAt: at("2026-03-02T09:13:22.5Z"),
		Name: "Grace Hopper", Email: "grace@example.com", Problem: "The printer prints blank pages & beeps",
		Fields: map[string]string{"account": "ACME-42", "serial_number": "PRN-0042"}}
	session = sdk.Session{ID: "s-9b02", RequestID: "r-5f1c", AgentID: "a-0001", Queue: "support/printers", ExternalRef: "TICKET-1234",
		StartedAt: at("2026-03-02T09:14:05Z"), EndedAt: at("2026-03-02T09:31:47Z"), DurationSeconds: 1062}
	alert = sdk.Alert{Rule: "support_backlog", Status: "firing", Severity: "warning",
		Labels:      map[string]string{"rule": "support_backlog", "queue": "support/printers"},
		Annotations: map[string]string{"summary": "5 customers waiting in support/printers, the longest for 2m10s"},
		StartsAt:    at("2026-03-02T09:15:00Z")}
)

// calls sends one payload of each kind; each returns the outcomes.
var calls = []struct {
	kind  string // the payload's type and its golden file
	send  sdk.Capability
	call  func(*Adapter) []sdk.Outcome
	items int // results the call returns
}{
	{EventAvailability, sdk.CapAvailability, func(a *Adapter) []sdk.Outcome {
		return outcomes(a.SetAvailability(context.Background(), []sdk.Availability{ada, chen}))
	}, 2},
	{EventReconcile, sdk.CapAvailability, func(a *Adapter) []sdk.Outcome {
		return outcomes(a.Reconcile(context.Background(), []sdk.Availability{ada, bruno, chen}))
	}, 3},
	{EventRequest, sdk.CapRequests, func(a *Adapter) []sdk.Outcome {
		return outcomes([]sdk.Result{a.HandleRequest(context.Background(), request)})
	}, 1},
	{EventSession, sdk.CapSessions, func(a *Adapter) []sdk.Outcome {
		return outcomes([]sdk.Result{a.HandleSession(context.Background(), session)})
	}, 1},
	{EventAlert, sdk.CapAlerts, func(a *Adapter) []sdk.Outcome {
		return outcomes([]sdk.Result{a.HandleAlert(context.Background(), alert)})
	}, 1},
}

func outcomes(rs []sdk.Result) []sdk.Outcome {
	out := make([]sdk.Outcome, len(rs))
	for i, r := range rs {
		out[i] = r.Outcome
	}
	return out
}

func all(o sdk.Outcome, n int) []sdk.Outcome {
	out := make([]sdk.Outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

var sentAt = regexp.MustCompile(`"sent_at":"([^"]*)"`)

// goldenSentAt replaces the time of sending in the golden files.
const goldenSentAt = "2026-03-02T09:15:04.318Z"

// TestPayloads checks each kind's exact JSON: the body sent, its sent_at
// replaced, indented, equals testcases/<kind>.json byte for byte (the body is
// compact, so equal indented forms are equal bodies).
func TestPayloads(t *testing.T) {
	for _, c := range calls {
		t.Run(c.kind, func(t *testing.T) {
			h := newHook(t)
			a := configured(t, fmt.Sprintf(`{"url": %q}`, h.URL))
			before := time.Now().Add(-time.Second)
			if got := c.call(a); !slices.Equal(got, all(sdk.Applied, c.items)) {
				t.Fatalf("outcomes %v, want all applied", got)
			}
			after := time.Now().Add(time.Second)
			reqs := h.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			body := reqs[0].body
			var compact bytes.Buffer
			if err := json.Compact(&compact, body); err != nil || !bytes.Equal(compact.Bytes(), body) {
				t.Fatalf("the body is not compact JSON (%v):\n%s", err, body)
			}
			m := sentAt.FindSubmatch(body)
			if m == nil {
				t.Fatalf("no sent_at in %s", body)
			}
			sent, err := time.Parse(time.RFC3339Nano, string(m[1]))
			if err != nil || sent.Before(before) || sent.After(after) || !strings.HasSuffix(string(m[1]), "Z") {
				t.Fatalf("sent_at %s: want an RFC 3339 UTC time between %s and %s (%v)", m[1], before, after, err)
			}
			body = sentAt.ReplaceAll(body, []byte(`"sent_at":"`+goldenSentAt+`"`))
			var indented bytes.Buffer
			if err := json.Indent(&indented, body, "", "  "); err != nil {
				t.Fatalf("the body is not JSON: %v\n%s", err, body)
			}
			indented.WriteByte('\n')
			file := filepath.Join("testcases", c.kind+".json")
			if *update {
				if err := os.WriteFile(file, indented.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(indented.Bytes(), want) {
				t.Errorf("the %s payload differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", c.kind, file, indented.Bytes(), want)
			}
			var head struct {
				V    int    `json:"v"`
				Type string `json:"type"`
			}
			if err := json.Unmarshal(body, &head); err != nil || head.V != 1 || head.Type != c.kind || !bytes.HasPrefix(body, []byte(`{"v":1,"type":"`+c.kind+`",`)) {
				t.Errorf(`the body starts %.40s, want {"v":1,"type":%q,`, body, c.kind)
			}
		})
	}
}

// readmeBlocks are the fenced blocks of README.md in a language.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	rest := string(readme)
	for {
		_, after, ok := strings.Cut(rest, "```"+lang+"\n")
		if !ok {
			return out
		}
		block, tail, ok := strings.Cut(after, "```")
		if !ok {
			t.Fatalf("an unclosed ```%s block in README.md", lang)
		}
		out = append(out, block)
		rest = tail
	}
}

func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("shows sample.hcl word for word", func(t *testing.T) {
		if !slices.Contains(readmeBlocks(t, "hcl"), Sample) {
			t.Fatal("README.md does not show sample.hcl word for word")
		}
	})
	t.Run("every payload example is the golden file", func(t *testing.T) {
		golden := map[string]string{}
		for _, c := range calls {
			b, err := os.ReadFile(filepath.Join("testcases", c.kind+".json"))
			if err != nil {
				t.Fatal(err)
			}
			golden[c.kind] = string(b)
		}
		shown := map[string]bool{}
		for i, block := range readmeBlocks(t, "json") {
			found := false
			for kind, g := range golden {
				if block == g {
					shown[kind], found = true, true
				}
			}
			if !found {
				t.Errorf("README.md's json block %d is none of testcases/*.json (stale? copy the file):\n%s", i+1, block)
			}
		}
		for _, c := range calls {
			if !shown[c.kind] {
				t.Errorf("README.md shows no %s payload (testcases/%s.json)", c.kind, c.kind)
			}
		}
	})
	t.Run("names the current User-Agent", func(t *testing.T) {
		if !strings.Contains(string(readme), "`"+userAgent+"`") {
			t.Errorf("README.md does not show the User-Agent %s", userAgent)
		}
	})
	t.Run("lists every setting", func(t *testing.T) {
		for _, s := range New(nil).Info().Settings {
			if !strings.Contains(string(readme), "| `"+s.Name+"` |") {
				t.Errorf("README.md's settings table has no row for %s", s.Name)
			}
		}
	})
	t.Run("shows the receiver of example_test.go", func(t *testing.T) {
		src, err := os.ReadFile("example_test.go")
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok1 := strings.Cut(string(src), "// README: begin\n")
		receiver, _, ok2 := strings.Cut(after, "// README: end\n")
		if !ok1 || !ok2 {
			t.Fatal("example_test.go lost its README markers")
		}
		if !slices.Contains(readmeBlocks(t, "go"), receiver) {
			t.Fatalf("README.md does not show the receiver of example_test.go word for word:\n%s", receiver)
		}
	})
}

func TestHeaders(t *testing.T) {
	h := newHook(t)
	a := configured(t, fmt.Sprintf(`{"url": %q, "headers": {"x-api-key": "k-123", "X-Tenant": "support-emea"}}`, h.URL))
	for _, c := range calls {
		c.call(a)
	}
	reqs := h.requests()
	if len(reqs) != len(calls) {
		t.Fatalf("%d requests, want %d", len(reqs), len(calls))
	}
	ids := map[string]bool{}
	for i, r := range reqs {
		want := map[string]string{
			"Content-Type":      "application/json",
			"User-Agent":        "acdbridge-webhook/" + Version,
			"X-Acdbridge-Event": calls[i].kind,
			"X-Api-Key":         "k-123",
			"X-Tenant":          "support-emea",
		}
		for k, v := range want {
			if got := r.header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s: header %s = %q, want %q", calls[i].kind, k, got, v)
			}
		}
		id := r.header.Get("X-Acdbridge-Delivery")
		if b, err := hex.DecodeString(id); err != nil || len(b) != 16 {
			t.Errorf("%s: X-Acdbridge-Delivery %q: want 16 random bytes in hex", calls[i].kind, id)
		}
		if ids[id] {
			t.Errorf("delivery id %s twice", id)
		}
		ids[id] = true
		for _, k := range []string{"X-Acdbridge-Timestamp", "X-Acdbridge-Signature"} {
			if v := r.header.Get(k); v != "" {
				t.Errorf("%s without a secret: %s = %q, want none", calls[i].kind, k, v)
			}
		}
	}

	// A retry of the same item is a new delivery.
	h.answer("", http.StatusServiceUnavailable, http.StatusOK)
	item := []sdk.Availability{{AgentID: "a-0009", Version: 1}}
	if rs := a.SetAvailability(context.Background(), item); rs[0].Outcome != sdk.Retryable {
		t.Fatalf("first attempt: %+v, want retryable", rs[0])
	}
	if rs := a.SetAvailability(context.Background(), item); rs[0].Outcome != sdk.Applied {
		t.Fatalf("retry: %+v, want applied", rs[0])
	}
	reqs = h.requests()
	first, retry := reqs[len(reqs)-2].header.Get("X-Acdbridge-Delivery"), reqs[len(reqs)-1].header.Get("X-Acdbridge-Delivery")
	if first == retry || ids[retry] {
		t.Errorf("the retry has delivery id %s, the first attempt %s: want a new id", retry, first)
	}
}

// The test vector of README.md, computed with openssl dgst -sha256 -hmac.
const (
	vectorSecret    = "whsec-7d1b0e6f2c"
	vectorTimestamp = "1772442904"
	vectorBody      = `{"v":1,"type":"alert"}`
	vectorSignature = "sha256=da969d35a73890986cd7fddf8e8aacdc3356ce7cfe940d1b5fc32f9ed93a4674"
)

func TestSignatureVector(t *testing.T) {
	if got := Sign(vectorSecret, vectorTimestamp, []byte(vectorBody)); got != vectorSignature {
		t.Errorf("Sign = %s, want %s", got, vectorSignature)
	}
	if err := Verify(vectorSecret, vectorTimestamp, []byte(vectorBody), vectorSignature, time.Unix(1772442904, 0).Add(time.Minute), 0); err != nil {
		t.Error(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{vectorSecret, vectorTimestamp, vectorBody, vectorSignature} {
		if !strings.Contains(string(readme), "`"+s+"`") {
			t.Errorf("README.md's test vector lacks `%s`", s)
		}
	}
}

func TestSignature(t *testing.T) {
	h := newHook(t)
	const secret = "whsec-7d1b0e6f2c"
	a := configured(t, fmt.Sprintf(`{"url": %q, "secret": %q}`, h.URL, secret))
	for _, c := range calls {
		c.call(a)
	}
	reqs := h.requests()
	if len(reqs) != len(calls) {
		t.Fatalf("%d requests, want %d", len(reqs), len(calls))
	}
	now := time.Now()
	for i, r := range reqs {
		ts, sig := r.header.Get("X-Acdbridge-Timestamp"), r.header.Get("X-Acdbridge-Signature")
		if err := Verify(secret, ts, r.body, sig, now, time.Minute); err != nil {
			t.Errorf("%s: %v", calls[i].kind, err)
		}
		if want := Sign(secret, ts, r.body); sig != want {
			t.Errorf("%s: signature %s, want %s", calls[i].kind, sig, want)
		}
	}

	r := reqs[0]
	ts, sig := r.header.Get("X-Acdbridge-Timestamp"), r.header.Get("X-Acdbridge-Signature")
	tampered := bytes.Replace(r.body, []byte(`"available":false`), []byte(`"available":true`), 1)
	if bytes.Equal(tampered, r.body) {
		t.Fatal("the tampering did not change the body")
	}
	tests := []struct {
		name      string
		secret    string
		timestamp string
		body      []byte
		signature string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", secret, ts, r.body, sig, now, 0, nil},
		{"valid at the edge of the tolerance", secret, ts, r.body, sig, now.Add(4 * time.Minute), 5 * time.Minute, nil},
		{"wrong secret", "whsec-wrong", ts, r.body, sig, now, 0, ErrSignature},
		{"empty secret", "", ts, r.body, sig, now, 0, ErrSignature},
		{"tampered body", secret, ts, tampered, sig, now, 0, ErrSignature},
		{"other timestamp, same signature", secret, fmt.Sprint(now.Unix() + 1), r.body, sig, now, 0, ErrSignature},
		{"old timestamp", secret, ts, r.body, sig, now.Add(6 * time.Minute), 0, ErrTimestamp},
		{"old for a short tolerance", secret, ts, r.body, sig, now.Add(90 * time.Second), time.Minute, ErrTimestamp},
		{"future timestamp", secret, ts, r.body, sig, now.Add(-6 * time.Minute), 0, ErrTimestamp},
		{"no timestamp", secret, "", r.body, sig, now, 0, ErrTimestamp},
		{"timestamp not seconds", secret, now.Format(time.RFC3339), r.body, sig, now, 0, ErrTimestamp},
		{"no signature", secret, ts, r.body, "", now, 0, ErrSignature},
		{"no sha256= prefix", secret, ts, r.body, strings.TrimPrefix(sig, "sha256="), now, 0, ErrSignature},
		{"not hex", secret, ts, r.body, "sha256=" + strings.Repeat("zz", 32), now, 0, ErrSignature},
		{"short", secret, ts, r.body, sig[:len(sig)-2], now, 0, ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.timestamp, tc.body, tc.signature, tc.now, tc.tolerance)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			case err != nil && strings.Contains(err.Error(), tc.secret) && tc.secret != "":
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestOutcomes checks what each answer becomes, and the health after it.
func TestOutcomes(t *testing.T) {
	long := strings.Repeat("a", 200) + "THE-REST"
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String() + "/hook"
	refused.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body, so that the server notices the client going away.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://new.example.com/hook?token=secret-token", http.StatusFound)
	}))
	defer redirect.Close()

	tests := []struct {
		name   string
		status int    // answered by the hook; 0: url says where
		url    string // when status is 0
		reply  string
		want   sdk.Outcome
		says   []string // in the message
		hides  string   // not in the message
	}{
		{"200", 200, "", "ok", sdk.Applied, []string{"HTTP 200 OK"}, ""},
		{"201", 201, "", "", sdk.Applied, []string{"HTTP 201 Created"}, ""},
		{"204", 204, "", "", sdk.Applied, []string{"HTTP 204 No Content"}, ""},
		{"400", 400, "", `{"error":"unknown agent"}`, sdk.Permanent, []string{"HTTP 400 Bad Request", `{"error":"unknown agent"}`}, ""},
		{"400 with a long body", 400, "", long, sdk.Permanent, []string{"HTTP 400", strings.Repeat("a", 200) + "…"}, "THE-REST"},
		{"401", 401, "", "bad signature\n", sdk.Permanent, []string{"HTTP 401 Unauthorized: bad signature"}, ""},
		{"404", 404, "", "", sdk.Permanent, []string{"HTTP 404 Not Found"}, ""},
		{"408", 408, "", "", sdk.Retryable, []string{"HTTP 408 Request Timeout"}, ""},
		{"429", 429, "", "slow down", sdk.Retryable, []string{"HTTP 429 Too Many Requests", "slow down"}, ""},
		{"500", 500, "", "boom", sdk.Retryable, []string{"HTTP 500 Internal Server Error: boom"}, ""},
		{"503", 503, "", "", sdk.Retryable, []string{"HTTP 503 Service Unavailable"}, ""},
		{"timeout", 0, slow.URL, "", sdk.Retryable, []string{"no answer within the timeout of 100ms"}, ""},
		{"connection refused", 0, refusedURL, "", sdk.Retryable, []string{"connection refused"}, ""},
		{"redirect", 0, redirect.URL, "", sdk.Permanent, []string{"HTTP 302 Found", "redirects are not followed", "https://new.example.com/hook?…"}, "secret-token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.url
			if tc.status != 0 {
				h := newHook(t, tc.status)
				h.answer(tc.reply, tc.status)
				target = h.URL
			}
			// userinfo in the URL must show nowhere.
			target = strings.Replace(target, "http://", "http://bridge:pw-9f3@", 1)
			a := configured(t, fmt.Sprintf(`{"url": %q, "timeout": "100ms"}`, target))
			for _, c := range calls {
				var msgs []string
				var got []sdk.Outcome
				switch c.kind {
				case EventAvailability:
					rs := a.SetAvailability(context.Background(), []sdk.Availability{{AgentID: "a-1", Version: 1}, {AgentID: "a-2", Version: 5}})
					for _, r := range rs {
						got, msgs = append(got, r.Outcome), append(msgs, r.Message)
					}
				case EventRequest:
					r := a.HandleRequest(context.Background(), request)
					got, msgs = []sdk.Outcome{r.Outcome}, []string{r.Message}
				default:
					continue // the same path; the rest of the table covers them
				}
				for i := range got {
					if got[i] != tc.want {
						t.Errorf("%s: outcome %s (%s), want %s", c.kind, got[i], msgs[i], tc.want)
					}
					for _, s := range tc.says {
						if !strings.Contains(msgs[i], s) {
							t.Errorf("%s: message %q, want it to say %q", c.kind, msgs[i], s)
						}
					}
					if tc.hides != "" && strings.Contains(msgs[i], tc.hides) || strings.Contains(msgs[i], "pw-9f3") {
						t.Errorf("%s: message %q shows what it should not", c.kind, msgs[i])
					}
				}
			}
			h := a.Health(context.Background())
			wantHealth := sdk.Degraded
			if tc.want == sdk.Applied {
				wantHealth = sdk.Up
			}
			if h.Status != wantHealth || strings.Contains(h.Message, "pw-9f3") {
				t.Errorf("health %s %q, want %s without the password", h.Status, h.Message, wantHealth)
			}
			if wantHealth == sdk.Degraded && (!strings.Contains(h.Message, strings.Replace(target, "bridge:pw-9f3@", "", 1)) || !strings.Contains(h.Message, tc.says[0])) {
				t.Errorf("health %q, want it to name the URL and %q", h.Message, tc.says[0])
			}
			if wantHealth == sdk.Degraded && len(a.Delivered()) != 0 {
				t.Errorf("versions recorded after a failure: %v", a.Delivered())
			}
		})
	}
}

func TestVersions(t *testing.T) {
	h := newHook(t)
	a := configured(t, fmt.Sprintf(`{"url": %q}`, h.URL))
	ctx := context.Background()
	item := func(id string, v uint64) sdk.Availability { return sdk.Availability{AgentID: id, Version: v} }
	sentVersions := func(r received) []string {
		var p struct {
			Changes []availabilityItem `json:"changes"`
			Desired []availabilityItem `json:"desired"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range append(p.Changes, p.Desired...) {
			out = append(out, fmt.Sprintf("%s@%d", c.AgentID, c.Version))
		}
		return out
	}

	steps := []struct {
		name      string
		reconcile bool
		items     []sdk.Availability
		outcomes  string
		sent      string // the items in the request; "-" for no request
	}{
		{"first batch", false, []sdk.Availability{item("a-1", 2), item("a-2", 1)}, "applied applied", "a-1@2 a-2@1"},
		{"the same again", false, []sdk.Availability{item("a-1", 2), item("a-2", 1)}, "ignored ignored", "-"},
		{"older", false, []sdk.Availability{item("a-1", 1)}, "ignored", "-"},
		{"newer beside older and repeated", false, []sdk.Availability{item("a-1", 1), item("a-1", 3), item("a-1", 3), item("a-2", 1), item("a-3", 1)}, "ignored applied ignored ignored applied", "a-1@3 a-3@1"},
		{"empty batch", false, nil, "", "-"},
		{"reconcile sends the whole state", true, []sdk.Availability{item("a-1", 3), item("a-2", 4), item("a-4", 1)}, "applied applied applied", "a-1@3 a-2@4 a-4@1"},
		{"after a reconcile, its versions are delivered", false, []sdk.Availability{item("a-2", 4), item("a-4", 2)}, "ignored applied", "a-4@2"},
		{"reconcile of no agents", true, nil, "", ""},
	}
	for _, s := range steps {
		before := len(h.requests())
		var rs []sdk.Result
		if s.reconcile {
			rs = a.Reconcile(ctx, s.items)
		} else {
			rs = a.SetAvailability(ctx, s.items)
		}
		var got []string
		for i, r := range rs {
			got = append(got, r.Outcome.String())
			if r.AgentID != s.items[i].AgentID || r.Version != s.items[i].Version {
				t.Errorf("%s: result %d is for %s@%d, the item was %s@%d", s.name, i, r.AgentID, r.Version, s.items[i].AgentID, s.items[i].Version)
			}
		}
		if strings.Join(got, " ") != s.outcomes {
			t.Errorf("%s: outcomes %q, want %q", s.name, strings.Join(got, " "), s.outcomes)
		}
		reqs := h.requests()[before:]
		switch {
		case s.sent == "-" && len(reqs) != 0:
			t.Errorf("%s: %d requests, want none", s.name, len(reqs))
		case s.sent != "-" && len(reqs) != 1:
			t.Errorf("%s: %d requests, want 1", s.name, len(reqs))
		case s.sent != "-" && strings.Join(sentVersions(reqs[0]), " ") != s.sent:
			t.Errorf("%s: sent %v, want %s", s.name, sentVersions(reqs[0]), s.sent)
		}
	}
	if got, want := a.Delivered(), map[string]uint64{"a-1": 3, "a-2": 4, "a-3": 1, "a-4": 2}; !equalMaps(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

func equalMaps(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRetryableThenDelivered: a batch refused for now is not recorded, so
// the same batch later is sent again and delivered; a permanent refusal is
// not recorded either.
func TestRetryableThenDelivered(t *testing.T) {
	h := newHook(t, http.StatusServiceUnavailable, http.StatusBadRequest, http.StatusOK)
	a := configured(t, fmt.Sprintf(`{"url": %q}`, h.URL))
	batch := []sdk.Availability{{AgentID: "a-1", Version: 5}, {AgentID: "a-2", Version: 1}}
	for i, want := range []sdk.Outcome{sdk.Retryable, sdk.Permanent, sdk.Applied, sdk.Ignored} {
		rs := a.SetAvailability(context.Background(), batch)
		if got := outcomes(rs); !slices.Equal(got, all(want, 2)) {
			t.Fatalf("attempt %d: %v (%s), want %s", i+1, got, rs[0].Message, want)
		}
	}
	if n := len(h.requests()); n != 3 {
		t.Fatalf("%d requests, want 3 (the ignored batch sends none)", n)
	}
	for _, r := range h.requests() {
		if !bytes.Contains(r.body, []byte(`"agent_id":"a-1"`)) || !bytes.Contains(r.body, []byte(`"agent_id":"a-2"`)) {
			t.Errorf("a request without the whole batch: %s", r.body)
		}
	}
}

func TestSendSetting(t *testing.T) {
	for _, c := range calls {
		t.Run("only "+string(c.send), func(t *testing.T) {
			h := newHook(t)
			a := configured(t, fmt.Sprintf(`{"url": %q, "send": [%q]}`, h.URL, c.send))
			for _, other := range calls {
				before := len(h.requests())
				got := other.call(a)
				sent := len(h.requests()) - before
				if other.send == c.send {
					if !slices.Equal(got, all(sdk.Applied, other.items)) || sent != 1 {
						t.Errorf("%s: %v in %d requests, want applied in 1", other.kind, got, sent)
					}
				} else if !slices.Equal(got, all(sdk.Ignored, other.items)) || sent != 0 {
					t.Errorf("%s: %v in %d requests, want ignored in none", other.kind, got, sent)
				}
			}
		})
	}
}

func TestHealth(t *testing.T) {
	h := newHook(t)
	a := New(nil)
	ctx := context.Background()
	check := func(step string, want sdk.HealthStatus, says string) {
		t.Helper()
		got := a.Health(ctx)
		if got.Status != want || !strings.Contains(got.Message, says) {
			t.Errorf("%s: health %s %q, want %s saying %q", step, got.Status, got.Message, want, says)
		}
	}
	check("before Configure", sdk.Down, "not configured")
	if r := a.HandleAlert(ctx, alert); r.Outcome != sdk.Retryable {
		t.Errorf("a call before Configure: %s, want retryable", r.Outcome)
	}
	if err := a.Configure(ctx, sdk.Settings{JSON: []byte(fmt.Sprintf(`{"url": %q}`, h.URL))}); err != nil {
		t.Fatal(err)
	}
	check("configured", sdk.Up, "no delivery to "+h.URL+" yet")
	h.answer("", http.StatusServiceUnavailable)
	a.HandleAlert(ctx, alert)
	check("after a 503", sdk.Degraded, "POST "+h.URL+": HTTP 503 Service Unavailable")
	a.SetAvailability(ctx, []sdk.Availability{{AgentID: "a-1", Version: 1}, {AgentID: "a-1", Version: 1}})
	check("still failing", sdk.Degraded, "503")
	h.answer("", http.StatusOK)
	a.SetAvailability(ctx, []sdk.Availability{{AgentID: "a-1", Version: 1}})
	check("after a success", sdk.Up, "succeeded")
	a.SetAvailability(ctx, []sdk.Availability{{AgentID: "a-1", Version: 1}})
	check("an ignored item sends nothing and changes nothing", sdk.Up, "succeeded")
	h.answer("no such hook", http.StatusNotFound)
	a.HandleSession(ctx, session)
	check("after a 404", sdk.Degraded, "404 Not Found: no such hook")

	// The same URL again keeps what is known of it; a new URL starts afresh.
	if err := a.Configure(ctx, sdk.Settings{JSON: []byte(fmt.Sprintf(`{"url": %q, "timeout": "5s"}`, h.URL))}); err != nil {
		t.Fatal(err)
	}
	check("reconfigured, same URL", sdk.Degraded, "404")
	if a.Delivered()["a-1"] != 1 {
		t.Errorf("reconfigured with the same URL: delivered %v, want a-1 kept", a.Delivered())
	}
	other := newHook(t)
	if err := a.Configure(ctx, sdk.Settings{JSON: []byte(fmt.Sprintf(`{"url": %q}`, other.URL))}); err != nil {
		t.Fatal(err)
	}
	check("reconfigured, new URL", sdk.Up, "no delivery to "+other.URL+" yet")
	if len(a.Delivered()) != 0 {
		t.Errorf("a new URL: delivered %v, want none", a.Delivered())
	}
}

// TestReconfigure: refused settings keep the previous ones; accepted ones
// apply to the next call, also while calls run (go test -race).
func TestReconfigure(t *testing.T) {
	first, second := newHook(t), newHook(t)
	a := configured(t, fmt.Sprintf(`{"url": %q}`, first.URL))
	ctx := context.Background()
	if err := a.Configure(ctx, sdk.Settings{JSON: []byte(fmt.Sprintf(`{"url": %q, "timeout": "1h"}`, second.URL))}); err == nil {
		t.Fatal("a timeout of 1h was accepted")
	}
	a.HandleAlert(ctx, alert)
	if len(first.requests()) != 1 || len(second.requests()) != 0 {
		t.Fatalf("after refused settings: %d requests to the first URL, %d to the second; want 1 and 0", len(first.requests()), len(second.requests()))
	}

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				a.SetAvailability(ctx, []sdk.Availability{{AgentID: fmt.Sprintf("a-%d", i), Version: uint64(j + 1)}})
				a.HandleRequest(ctx, request)
				a.Health(ctx)
			}
		})
	}
	for i := range 20 {
		u := first.URL
		if i%2 == 1 {
			u = second.URL
		}
		if err := a.Configure(ctx, sdk.Settings{Instance: "crm", JSON: []byte(fmt.Sprintf(`{"url": %q, "secret": "s-%d"}`, u, i))}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	before := len(second.requests())
	a.HandleAlert(ctx, alert)
	reqs := second.requests()
	if len(reqs) != before+1 {
		t.Fatalf("the last settings name the second URL: %d new requests there, want 1", len(reqs)-before)
	}
	last := reqs[len(reqs)-1]
	if err := Verify("s-19", last.header.Get("X-Acdbridge-Timestamp"), last.body, last.header.Get("X-Acdbridge-Signature"), time.Now(), 0); err != nil {
		t.Fatalf("signed with the last secret: %v", err)
	}
}

// TestLogsHideSecrets: neither the secret, nor header values, nor the
// URL's password appear in the log, whatever happens.
func TestLogsHideSecrets(t *testing.T) {
	var logs testutil.SyncBuffer
	h := newHook(t, http.StatusOK, http.StatusServiceUnavailable, http.StatusUnauthorized)
	a := New(hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace}))
	target := strings.Replace(h.URL, "http://", "http://bridge:pw-url-1@", 1) + "/hook?token=tok-query-2"
	err := a.Configure(context.Background(), sdk.Settings{Instance: "crm", JSON: []byte(fmt.Sprintf(
		`{"url": %q, "secret": "whsec-secret-3", "headers": {"Authorization": "Bearer tok-auth-4", "X-Api-Key": "key-5"}}`, target))})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		a.HandleAlert(context.Background(), alert)
	}
	out := logs.String()
	for _, want := range []string{"configured", "delivered", "delivery failed", "503", "401", "Authorization,X-Api-Key"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not say %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"pw-url-1", "tok-query-2", "whsec-secret-3", "tok-auth-4", "key-5"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %s:\n%s", secret, out)
		}
	}
}

func TestInfo(t *testing.T) {
	info := New(nil).Info()
	if info.Name != "webhook" || info.Version != Version {
		t.Errorf("info %+v", info)
	}
	var names []string
	for _, s := range info.Settings {
		names = append(names, s.Name)
		if s.Name == "secret" && !s.Secret {
			t.Error("the secret setting is not marked secret")
		}
	}
	if want := []string{"url", "secret", "headers", "timeout", "send"}; !slices.Equal(names, want) {
		t.Errorf("settings %v, want %v", names, want)
	}
}
