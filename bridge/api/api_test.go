package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/config"
)

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestAuthAndViews(t *testing.T) {
	tokens := []config.Token{
		{Name: "wallboard", Role: "viewer", SHA256: hash("view-token")},
		{Name: "lead", Role: "supervisor", SHA256: hash("lead-token")},
		{Name: "root", Role: "admin", SHA256: hash("admin-token")},
	}
	views := Views{Adapters: func() any { return map[string]any{"adapters": []string{"console"}} }}
	ready := true
	srv, err := New("127.0.0.1:0", prometheus.NewRegistry(), map[string]Check{"source": func() error {
		if ready {
			return nil
		}
		return errors.New("no data yet")
	}}, views, tokens, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	// A handler needing more than viewer, to check the roles' order.
	a := auth{tokens: tokens}
	srv.hs.Handler.(*http.ServeMux).Handle("PUT /api/v1/rules/x", a.require("supervisor", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })))
	go srv.hs.Serve(srv.ln)
	defer srv.hs.Close()
	base := "http://" + srv.Addr()
	tests := []struct {
		method, path, token string
		status              int
		body                string
	}{
		{"GET", "/api/v1/adapters", "", 401, `"unauthenticated"`},
		{"GET", "/api/v1/adapters", "wrong", 401, `"unauthenticated"`},
		{"GET", "/api/v1/adapters", "view-token", 200, `{"adapters":["console"]}`},
		{"GET", "/api/v1/adapters", "lead-token", 200, `{"adapters":["console"]}`},
		{"PUT", "/api/v1/rules/x", "view-token", 403, `token wallboard has the role viewer; this call needs supervisor`},
		{"PUT", "/api/v1/rules/x", "lead-token", 204, ``},
		{"PUT", "/api/v1/rules/x", "admin-token", 204, ``},
		{"GET", "/api/v1/adapters", "admin-token", 200, `{"adapters":["console"]}`},
		{"GET", "/api/v1/adapters", "Bearer view-token", 401, `"unauthenticated"`},
		{"GET", "/api/v1/agents", "view-token", 404, ``}, // no view given: not served
		{"GET", "/healthz", "", 200, `"ok"`},
		{"GET", "/readyz", "", 200, `"ready"`},
		{"GET", "/metrics", "", 200, ``},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s with %q: %d %s; want %d with %s", tc.method, tc.path, tc.token, resp.StatusCode, b, tc.status, tc.body)
		}
	}
	ready = false
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status  string
		Failing map[string]string
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 503 || body.Failing["source"] != "no data yet" {
		t.Fatalf("/readyz when not ready: %d %+v", resp.StatusCode, body)
	}
}
