package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/internal/testutil"
)

var testTokens = []config.Token{
	{Name: "wallboard", Role: "viewer", SHA256: hash("view-token")},
	{Name: "lead", Role: "supervisor", SHA256: hash("lead-token")},
	{Name: "root", Role: "admin", SHA256: hash("admin-token")},
}

// loginRig is the routes New adds for the dashboard, with a handler that
// needs a viewer and one that needs a supervisor, over a real listener.
type loginRig struct {
	url  string
	a    auth
	logs *testutil.SyncBuffer
}

func newLoginRig(t *testing.T) *loginRig {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace})
	a := auth{tokens: testTokens, sessions: newSessions()}
	mux := http.NewServeMux()
	routeDashboard(mux, a, nil, log)
	mux.Handle("GET /api/v1/adapters", a.require("viewer", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"adapters": []string{}})
	})))
	mux.Handle("PUT /api/v1/rules/x", a.require("supervisor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principalFrom(r.Context())
		w.Header().Set("X-Token-Name", p.Name)
		w.WriteHeader(204)
	})))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return &loginRig{url: hs.URL, a: a, logs: logs}
}

type call struct {
	method, path string
	headers      map[string]string
	body         string
}

func (r *loginRig) do(t *testing.T, c call) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(c.method, r.url+c.path, strings.NewReader(c.body))
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// login logs in with tok and returns the session cookie's value.
func (r *loginRig) login(t *testing.T, tok string) string {
	t.Helper()
	resp, body := r.do(t, call{"POST", "/api/v1/login", map[string]string{"Content-Type": "application/json", csrfHeader: "1"}, `{"token":"` + tok + `"}`})
	if resp.StatusCode != 200 {
		t.Fatalf("login with %s: %d %s", tok, resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	t.Fatalf("login with %s: no %s cookie in %v", tok, sessionCookie, resp.Header["Set-Cookie"])
	return ""
}

func TestLoginSetsAStrictHttpOnlyCookie(t *testing.T) {
	r := newLoginRig(t)
	resp, body := r.do(t, call{"POST", "/api/v1/login", map[string]string{"Content-Type": "application/json", csrfHeader: "1"}, `{"token":"lead-token"}`})
	if resp.StatusCode != 200 || !strings.Contains(body, `"name":"lead"`) || !strings.Contains(body, `"role":"supervisor"`) || !strings.Contains(body, `"via":"cookie"`) {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	set := resp.Header.Values("Set-Cookie")
	if len(set) != 1 {
		t.Fatalf("Set-Cookie: %q; want one", set)
	}
	for _, want := range []string{sessionCookie + "=", "Path=/", "Max-Age=28800", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(set[0], want) {
			t.Errorf("Set-Cookie %q lacks %q", set[0], want)
		}
	}
	if strings.Contains(set[0], "lead-token") || strings.Contains(set[0], "Secure") {
		t.Errorf("Set-Cookie %q: holds the token, or is Secure over plain HTTP", set[0])
	}
	if strings.Contains(r.logs.String(), "lead-token") || !strings.Contains(r.logs.String(), "dashboard login: token=lead role=supervisor") {
		t.Errorf("logs: want the login with the token's name and never the token:\n%s", r.logs.String())
	}
}

func TestLoginRefusals(t *testing.T) {
	r := newLoginRig(t)
	json := map[string]string{"Content-Type": "application/json", csrfHeader: "1"}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range json {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name   string
		c      call
		status int
		body   string
	}{
		{"no CSRF header", call{"POST", "/api/v1/login", map[string]string{"Content-Type": "application/json"}, `{"token":"lead-token"}`}, 403, `needs the header X-ACDBridge-CSRF: 1`},
		{"CSRF header with another value", call{"POST", "/api/v1/login", with(map[string]string{csrfHeader: "yes"}), `{"token":"lead-token"}`}, 403, `X-ACDBridge-CSRF`},
		{"another origin", call{"POST", "/api/v1/login", with(map[string]string{"Origin": "http://evil.example"}), `{"token":"lead-token"}`}, 403, `Origin \"http://evil.example\" is not this server`},
		{"cross-site fetch", call{"POST", "/api/v1/login", with(map[string]string{"Sec-Fetch-Site": "cross-site"}), `{"token":"lead-token"}`}, 403, `Sec-Fetch-Site: cross-site`},
		{"a form post", call{"POST", "/api/v1/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded", csrfHeader: "1"}, `token=lead-token`}, 415, `expected Content-Type: application/json`},
		{"not JSON", call{"POST", "/api/v1/login", json, `token`}, 400, `"field":"token"`},
		{"unknown field", call{"POST", "/api/v1/login", json, `{"token":"lead-token","role":"admin"}`}, 400, `unknown field`},
		{"no token", call{"POST", "/api/v1/login", json, `{}`}, 400, `expected a JSON body`},
		{"wrong token", call{"POST", "/api/v1/login", json, `{"token":"guess"}`}, 401, `"field":"token"`},
		{"token in the URL is not read", call{"POST", "/api/v1/login?token=lead-token", json, `{}`}, 400, `expected a JSON body`},
		{"GET", call{"GET", "/api/v1/login", nil, ``}, 405, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := r.do(t, tc.c)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("%d %s; want %d with %s", resp.StatusCode, body, tc.status, tc.body)
			}
			if len(resp.Cookies()) != 0 {
				t.Fatalf("a refused login set %v", resp.Header["Set-Cookie"])
			}
		})
	}
	if strings.Contains(r.logs.String(), "guess") || strings.Contains(r.logs.String(), "lead-token") {
		t.Fatalf("a token reached the log:\n%s", r.logs.String())
	}
}

func TestCookieRolesAndCSRF(t *testing.T) {
	r := newLoginRig(t)
	lead := r.login(t, "lead-token")
	viewer := r.login(t, "view-token")
	if lead == viewer || len(lead) < 40 {
		t.Fatalf("session ids %q and %q: want distinct random ids", lead, viewer)
	}
	ck := func(v string, extra map[string]string) map[string]string {
		h := map[string]string{"Cookie": sessionCookie + "=" + v}
		for k, x := range extra {
			h[k] = x
		}
		return h
	}
	same := map[string]string{csrfHeader: "1", "Origin": r.url, "Sec-Fetch-Site": "same-origin"}
	tests := []struct {
		name   string
		c      call
		status int
		body   string
	}{
		{"viewer reads with the cookie", call{"GET", "/api/v1/adapters", ck(viewer, nil), ""}, 200, `"adapters"`},
		{"who am I", call{"GET", "/api/v1/session", ck(viewer, nil), ""}, 200, `"name":"wallboard","role":"viewer","via":"cookie"`},
		{"who am I with a bearer token", call{"GET", "/api/v1/session", map[string]string{"Authorization": "Bearer admin-token"}, ""}, 200, `"name":"root","role":"admin","via":"bearer"`},
		{"an unknown cookie", call{"GET", "/api/v1/adapters", ck("forged", nil), ""}, 401, `unauthenticated`},
		{"a wrong bearer is not helped by a good cookie", call{"GET", "/api/v1/adapters", ck(lead, map[string]string{"Authorization": "Bearer wrong"}), ""}, 401, `unauthenticated`},
		{"supervisor changes without the CSRF header", call{"PUT", "/api/v1/rules/x", ck(lead, nil), ""}, 403, `X-ACDBridge-CSRF`},
		{"supervisor changes from another origin", call{"PUT", "/api/v1/rules/x", ck(lead, map[string]string{csrfHeader: "1", "Origin": "http://127.0.0.1:1"}), ""}, 403, `is not this server`},
		{"supervisor changes from another site", call{"PUT", "/api/v1/rules/x", ck(lead, map[string]string{csrfHeader: "1", "Sec-Fetch-Site": "same-site"}), ""}, 403, `Sec-Fetch-Site: same-site`},
		{"supervisor changes from the page", call{"PUT", "/api/v1/rules/x", ck(lead, same), ""}, 204, ``},
		{"viewer changes from the page", call{"PUT", "/api/v1/rules/x", ck(viewer, same), ""}, 403, `token wallboard has the role viewer; this call needs supervisor`},
		{"bearer needs no CSRF header", call{"PUT", "/api/v1/rules/x", map[string]string{"Authorization": "Bearer lead-token"}, ""}, 204, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := r.do(t, tc.c)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("%d %s; want %d with %s", resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.status == 204 && resp.Header.Get("X-Token-Name") != "lead" {
				t.Fatalf("the handler saw the token %q; want lead", resp.Header.Get("X-Token-Name"))
			}
		})
	}

	// Logout needs the CSRF header too (else any site could log one out),
	// then ends the session and clears the cookie.
	if resp, body := r.do(t, call{"POST", "/api/v1/logout", ck(lead, nil), ""}); resp.StatusCode != 403 {
		t.Fatalf("logout without the CSRF header: %d %s", resp.StatusCode, body)
	}
	resp, _ := r.do(t, call{"POST", "/api/v1/logout", ck(lead, same), ""})
	set := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 204 || !strings.Contains(set, sessionCookie+"=;") || !strings.Contains(set, "Max-Age=0") {
		t.Fatalf("logout: %d, Set-Cookie %q", resp.StatusCode, set)
	}
	if resp, _ := r.do(t, call{"GET", "/api/v1/adapters", ck(lead, nil), ""}); resp.StatusCode != 401 {
		t.Fatalf("the cookie after logout: %d; want 401", resp.StatusCode)
	}
	// Sessions expire.
	r.a.sessions.mu.Lock()
	r.a.sessions.now = func() time.Time { return time.Now().Add(sessionTTL) }
	r.a.sessions.mu.Unlock()
	if resp, _ := r.do(t, call{"GET", "/api/v1/adapters", ck(viewer, nil), ""}); resp.StatusCode != 401 {
		t.Fatalf("an expired session: %d; want 401", resp.StatusCode)
	}
}

// Logging in again (another token in the same browser) ends the session
// the browser had: its id is no longer taken.
func TestLoginEndsThePreviousSession(t *testing.T) {
	r := newLoginRig(t)
	first := r.login(t, "lead-token")
	resp, body := r.do(t, call{"POST", "/api/v1/login", map[string]string{"Content-Type": "application/json", csrfHeader: "1",
		"Cookie": sessionCookie + "=" + first}, `{"token":"view-token"}`})
	if resp.StatusCode != 200 {
		t.Fatalf("second login: %d %s", resp.StatusCode, body)
	}
	if resp, _ := r.do(t, call{"GET", "/api/v1/adapters", map[string]string{"Cookie": sessionCookie + "=" + first}, ""}); resp.StatusCode != 401 {
		t.Fatalf("the first session after the second login: %d; want 401", resp.StatusCode)
	}
	r.a.sessions.mu.Lock()
	n := len(r.a.sessions.m)
	r.a.sessions.mu.Unlock()
	if n != 1 {
		t.Errorf("%d sessions kept; want 1", n)
	}
}

func TestSessionsAreBounded(t *testing.T) {
	s := newSessions()
	first, _ := s.create("a", "viewer")
	for range maxSessions {
		s.create("b", "viewer")
	}
	if len(s.m) != maxSessions {
		t.Fatalf("%d sessions kept; want %d", len(s.m), maxSessions)
	}
	if _, ok := s.get(first); ok {
		t.Fatal("the oldest session survived past the bound")
	}
}

func TestPageIsAShellWithItsOwnFiles(t *testing.T) {
	srv, err := New("127.0.0.1:0", prometheus.NewRegistry(), nil, Views{}, testTokens, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	go srv.hs.Serve(srv.ln)
	defer srv.hs.Close()
	base := "http://" + srv.Addr()
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `<script type="module" src="/assets/app.js">`},
		{"/assets/app.js", "text/javascript", "EventSource"},
		{"/assets/style.css", "text/css", ":focus-visible"},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.contains) {
			t.Errorf("GET %s: %d %s; want 200 %s with %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype, tc.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
	}
	// Every file the page names is served from here.
	resp, _ := http.Get(base + "/")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
		t.Errorf("the page names something outside the bridge:\n%s", b)
	}
	for _, p := range []string{"/assets/nothing.js", "/assets/", "/index.html", "/assets/../login.go"} {
		if resp, _ := http.Get(base + p); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d; want 404", p, resp.StatusCode)
		}
	}
	if resp, _ := http.Get(base + "/api/v1/session"); resp.StatusCode != 401 {
		t.Errorf("who am I without a token: %d", resp.StatusCode)
	}
}

// TestLoginFailuresAreLimited: an address gets loginFailBurst failed
// logins, then 429 with Retry-After (even with a good token, so guessing
// cannot go on) until one is earned back, every loginFailEvery.
func TestLoginFailuresAreLimited(t *testing.T) {
	r := newLoginRig(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	r.a.sessions.now = func() time.Time { return now }
	try := func(tok string) (*http.Response, string) {
		return r.do(t, call{"POST", "/api/v1/login", map[string]string{"Content-Type": "application/json", csrfHeader: "1"}, `{"token":"` + tok + `"}`})
	}
	for i := range loginFailBurst {
		if resp, body := try("guess"); resp.StatusCode != 401 {
			t.Fatalf("failed login %d: %d %s, want 401", i+1, resp.StatusCode, body)
		}
	}
	for _, tok := range []string{"guess", "view-token"} {
		resp, body := try(tok)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "11" || !strings.Contains(body, "too many failed logins from this address") {
			t.Fatalf("after %d failures, %s: %d Retry-After %q %s", loginFailBurst, tok, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	now = now.Add(loginFailEvery)
	r.login(t, "view-token") // one attempt earned back, and it is good
	if resp, _ := try("guess"); resp.StatusCode != 401 {
		t.Fatalf("the earned attempt: %d, want 401", resp.StatusCode)
	}
	if resp, _ := try("guess"); resp.StatusCode != 429 {
		t.Fatalf("past the earned attempt: %d, want 429", resp.StatusCode)
	}
}
