package api

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/monitors"
)

// authRoute is one /api/v1 route: the role it needs ("" for login and
// logout, which take no role) and what its handler answers when the
// caller may use it.
type authRoute struct {
	role string
	body string
	ok   int
}

// authRoutes is every /api/v1 route the package serves. A route added
// without a row here fails TestEveryRouteIsInTheAuthTable.
var authRoutes = map[string]authRoute{
	"GET /api/v1/agents":            {"viewer", "", 200},
	"GET /api/v1/queues":            {"viewer", "", 200},
	"GET /api/v1/adapters":          {"viewer", "", 200},
	"GET /api/v1/session":           {"viewer", "", 200},
	"GET /api/v1/stream":            {"viewer", "", 200},
	"GET /api/v1/rules":             {"viewer", "", 200},
	"GET /api/v1/rules/{name}":      {"viewer", "", 200},
	"GET /api/v1/alerts":            {"viewer", "", 200},
	"PUT /api/v1/rules/{name}":      {"supervisor", `{"queues":["q"],"when":"waiting > 1"}`, 201},
	"DELETE /api/v1/rules/{name}":   {"supervisor", "", 204},
	"POST /api/v1/connection-codes": {"supervisor", `{"agent":"a-0001","external_ref":"1234"}`, 201},
	"POST /api/v1/login":            {"", `{"token":"view-token"}`, 200},
	"POST /api/v1/logout":           {"", "", 204},
}

// The table covers exactly the routes the package's sources register.
func TestEveryRouteIsInTheAuthTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	pattern := regexp.MustCompile(`^(?:(GET|HEAD|POST|PUT|PATCH|DELETE) )?(/api/v1/\S*)$`)
	found := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if m := pattern.FindStringSubmatch(s); m != nil {
				method := m[1]
				if method == "" {
					method = "GET" // api.go's read-only views: "GET "+path
				}
				found[method+" "+m[2]] = true
			}
			return true
		})
	}
	got := slices.Sorted(maps.Keys(found))
	want := slices.Sorted(maps.Keys(authRoutes))
	if !slices.Equal(got, want) {
		t.Fatalf("routes in the sources:\n%s\nroutes in the auth table:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// authCred is one way of calling: nothing, a bearer token, or the
// dashboard's cookie with or without what the CSRF checks want.
type authCred struct {
	name   string
	role   string // "" for none
	token  string // bearer token, or the token the cookie is logged in with
	cookie bool
	csrf   bool   // sends X-ACDBridge-CSRF: 1
	origin string // "self" for the server's own, else as given
	site   string // Sec-Fetch-Site
}

// TestAuthTable calls every route with every kind of caller and checks
// the whole table of answers: 401 without a known token or session, 403
// for a role too weak or a cookie-authenticated change without the CSRF
// checks, and the handler's own answer otherwise.
func TestAuthTable(t *testing.T) {
	fr := &fakeRules{e: monitors.NewEngine(0), origin: map[string]string{}}
	codes := &fakeCodes{}
	src := newFakeSource(2)
	stream := NewStream(src, StreamOptions{}, nil)
	views := Views{
		Agents:   func() any { return map[string]any{"agents": []string{}} },
		Queues:   func() any { return map[string]any{"queues": []string{}} },
		Adapters: func() any { return map[string]any{"adapters": []string{}} },
		Stream:   stream,
		Rules:    fr,
		Codes:    codes,
	}
	srv, err := New("127.0.0.1:0", prometheus.NewRegistry(), nil, views, testTokens, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	go srv.hs.Serve(srv.ln)
	t.Cleanup(func() { stream.Close(); srv.hs.Close() })
	base := "http://" + srv.Addr()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

	creds := []authCred{
		{name: "nothing"},
		{name: "bearer viewer", role: "viewer", token: "view-token"},
		{name: "bearer supervisor", role: "supervisor", token: "lead-token"},
		{name: "bearer admin", role: "admin", token: "admin-token"},
		{name: "cookie viewer from the page", role: "viewer", token: "view-token", cookie: true, csrf: true, origin: "self", site: "same-origin"},
		{name: "cookie supervisor from the page", role: "supervisor", token: "lead-token", cookie: true, csrf: true, origin: "self", site: "same-origin"},
		{name: "cookie admin from the page", role: "admin", token: "admin-token", cookie: true, csrf: true, origin: "self", site: "same-origin"},
		{name: "cookie admin without the CSRF header", role: "admin", token: "admin-token", cookie: true, origin: "self", site: "same-origin"},
		{name: "cookie admin with another Origin", role: "admin", token: "admin-token", cookie: true, csrf: true, origin: "http://evil.example", site: "same-origin"},
		{name: "cookie admin with Origin null", role: "admin", token: "admin-token", cookie: true, csrf: true, origin: "null"},
		{name: "cookie admin from another site", role: "admin", token: "admin-token", cookie: true, csrf: true, site: "cross-site"},
		{name: "unknown cookie", cookie: true, csrf: true, origin: "self", site: "same-origin"},
		{name: "wrong bearer", token: "wrong-token"},
	}
	csrfOK := func(c authCred) bool {
		return c.csrf && (c.origin == "" || c.origin == "self") && (c.site == "" || c.site == "same-origin")
	}
	// want is the answer the table expects.
	want := func(key string, rt authRoute, c authCred) int {
		method, _, _ := strings.Cut(key, " ")
		switch key {
		case "POST /api/v1/login": // no role; always the CSRF checks
			if !csrfOK(c) {
				return 403
			}
			return rt.ok
		case "POST /api/v1/logout": // no role; the CSRF checks when a cookie comes
			if c.cookie && !csrfOK(c) {
				return 403
			}
			return rt.ok
		}
		if c.role == "" {
			return 401
		}
		if c.cookie && !safeMethod(method) && !csrfOK(c) {
			return 403
		}
		if roles[c.role] < roles[rt.role] {
			return 403
		}
		return rt.ok
	}
	cookieFor := func(tok string) string {
		if tok == "" {
			return "forged-session-id"
		}
		req, _ := http.NewRequest("POST", base+"/api/v1/login", strings.NewReader(`{"token":"`+tok+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(csrfHeader, "1")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				return ck.Value
			}
		}
		t.Fatalf("login with %s: %d and no cookie", tok, resp.StatusCode)
		return ""
	}

	var mismatches []string
	puts := 0
	n := 0
	for _, key := range slices.Sorted(maps.Keys(authRoutes)) {
		rt := authRoutes[key]
		for _, c := range creds {
			n++
			method, path, _ := strings.Cut(key, " ")
			name := fmt.Sprintf("t%d", n)
			switch path {
			case "/api/v1/rules/{name}":
				if method == "GET" || method == "DELETE" {
					// A rule that exists, so that the handler's answer is 200 or 204.
					fr.mu.Lock()
					if _, err := fr.e.Set(monitors.Rule{Name: name, Queues: []string{"q"}, When: "waiting > 1"}, time.Now()); err != nil {
						t.Fatal(err)
					}
					fr.origin[name] = OriginAPI
					fr.mu.Unlock()
				}
				path = "/api/v1/rules/" + name
			}
			req, _ := http.NewRequest(method, base+path, strings.NewReader(rt.body))
			if rt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if c.cookie {
				req.Header.Set("Cookie", sessionCookie+"="+cookieFor(c.token))
			} else if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.csrf {
				req.Header.Set(csrfHeader, "1")
			}
			switch c.origin {
			case "":
			case "self":
				req.Header.Set("Origin", base)
			default:
				req.Header.Set("Origin", c.origin)
			}
			if c.site != "" {
				req.Header.Set("Sec-Fetch-Site", c.site)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s as %s: %v", key, c.name, err)
			}
			if path != "/api/v1/stream" {
				io.Copy(io.Discard, resp.Body)
			}
			resp.Body.Close()
			w := want(key, rt, c)
			if resp.StatusCode != w {
				mismatches = append(mismatches, fmt.Sprintf("%-32s as %-40s: %d, want %d", key, c.name, resp.StatusCode, w))
			}
			if key == "PUT /api/v1/rules/{name}" && w == rt.ok {
				puts++
			}
		}
	}
	if len(mismatches) > 0 {
		t.Errorf("%d of %d calls answered otherwise:\n%s", len(mismatches), n, strings.Join(mismatches, "\n"))
	}
	// Only the calls allowed reached the rules: one put each.
	fr.mu.Lock()
	got := 0
	for _, l := range fr.log {
		if strings.HasPrefix(l, "put ") {
			got++
		}
	}
	fr.mu.Unlock()
	if got != puts {
		t.Errorf("%d rules were put; %d calls were allowed to", got, puts)
	}
}
