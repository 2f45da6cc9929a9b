package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/monitors"
)

// fakeRules is the runtime's side, over a real rule engine.
type fakeRules struct {
	mu     sync.Mutex
	e      *monitors.Engine
	origin map[string]string
	log    []string // "action rule by"
}

func (f *fakeRules) info(name string) (RuleInfo, bool) {
	st, ok := f.e.Rule(name)
	return RuleInfo{RuleStatus: st, Origin: f.origin[name]}, ok
}
func (f *fakeRules) List() []RuleInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RuleInfo
	for _, st := range f.e.Rules() {
		out = append(out, RuleInfo{RuleStatus: st, Origin: f.origin[st.Name]})
	}
	return out
}
func (f *fakeRules) Get(name string) (RuleInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info(name)
}
func (f *fakeRules) Put(r monitors.Rule, by string) (RuleInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.origin[r.Name] == OriginConfig {
		return RuleInfo{}, false, ErrReadOnly
	}
	_, existed := f.origin[r.Name]
	if _, err := f.e.Set(r, time.Now()); err != nil {
		return RuleInfo{}, false, err
	}
	f.origin[r.Name] = OriginAPI
	f.log = append(f.log, "put "+r.Name+" "+by)
	i, _ := f.info(r.Name)
	return i, !existed, nil
}
func (f *fakeRules) Delete(name, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.origin[name] {
	case OriginConfig:
		return ErrReadOnly
	case "":
		return ErrRuleNotFound
	}
	f.e.Remove(name, time.Now())
	delete(f.origin, name)
	f.log = append(f.log, "delete "+name+" "+by)
	return nil
}
func (f *fakeRules) Alerts() []monitors.Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.e.Alerts()
}

func TestRulesAPI(t *testing.T) {
	tokens := []config.Token{
		{Name: "wallboard", Role: "viewer", SHA256: hash("view-token")},
		{Name: "lead", Role: "supervisor", SHA256: hash("lead-token")},
		{Name: "root", Role: "admin", SHA256: hash("admin-token")},
	}
	fr := &fakeRules{e: monitors.NewEngine(0), origin: map[string]string{}}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	fr.e.Set(monitors.Rule{Name: "from_file", Queues: []string{"*"}, When: "waiting > 3", Labels: map[string]string{"team": "a"}}, start)
	fr.origin["from_file"] = OriginConfig
	fr.e.Evaluate([]monitors.Figures{{Queue: "support", Waiting: 4, LongestWait: 90 * time.Second, AgentsLoggedIn: 2}}, start)
	srv, err := New("127.0.0.1:0", prometheus.NewRegistry(), nil, Views{Rules: fr}, tokens, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	go srv.hs.Serve(srv.ln)
	defer srv.hs.Close()
	base := "http://" + srv.Addr()

	backlog := `{"kind":"queue","queues":["support","support/*"],"when":"waiting >= 5 || longest_wait > 120","for":"30s","keep_firing_for":"1m","severity":"warning","labels":{"team":"a"},"annotations":{"summary":"${waiting} waiting"}}`
	tests := []struct {
		name, method, path, token, body string
		status                          int
		want                            string // a part of the response
	}{
		{"list without a token", "GET", "/api/v1/rules", "", "", 401, `"unauthenticated"`},
		{"list with a wrong token", "GET", "/api/v1/rules", "nope", "", 401, `"unauthenticated"`},
		{"list", "GET", "/api/v1/rules", "view-token", "", 200,
			`{"rules":[{"name":"from_file","kind":"queue","queues":["*"],"when":"waiting \u003e 3","for":"0s","keep_firing_for":"0s","severity":"warning","labels":{"team":"a"},"annotations":{},"origin":"config","read_only":true,"state":"firing"}]}`},
		{"viewer cannot create", "PUT", "/api/v1/rules/backlog", "view-token", backlog, 403, `"permission_denied"`},
		{"viewer cannot delete", "DELETE", "/api/v1/rules/from_file", "view-token", "", 403, `"permission_denied"`},
		{"create", "PUT", "/api/v1/rules/backlog", "lead-token", backlog, 201,
			`{"name":"backlog","kind":"queue","queues":["support","support/*"],"when":"waiting \u003e= 5 || longest_wait \u003e 120","for":"30s","keep_firing_for":"1m","severity":"warning","labels":{"team":"a"},"annotations":{"summary":"${waiting} waiting"},"origin":"api","read_only":false,"state":"inactive"}`},
		{"replace", "PUT", "/api/v1/rules/backlog", "admin-token", strings.Replace(backlog, `"30s"`, `"2m"`, 1), 200, `"for":"2m"`},
		{"get", "GET", "/api/v1/rules/backlog", "view-token", "", 200, `"for":"2m"`},
		{"get unknown", "GET", "/api/v1/rules/nope", "view-token", "", 404, `"not_found"`},
		{"session rule", "PUT", "/api/v1/rules/low_rating", "lead-token", `{"kind":"session","rating_at_most":2,"unresolved":true,"severity":"critical"}`, 201,
			`{"name":"low_rating","kind":"session","keep_firing_for":"10m","rating_at_most":2,"unresolved":true,"severity":"critical","labels":{},"annotations":{},"origin":"api","read_only":false,"state":"inactive"}`},
		{"bad when", "PUT", "/api/v1/rules/bad", "lead-token", `{"queues":["q"],"when":"waitin > 1"}`, 400,
			`{"error":{"code":"invalid_argument","field":"when","message":"when: column 1: Unknown variable: there is no \"waitin\"; expected one of queue, waiting, longest_wait, agents_available, agents_logged_in"}}`},
		{"type error", "PUT", "/api/v1/rules/bad", "lead-token", `{"queues":["q"],"when":"waiting > \"many\""}`, 400, `"field":"when"`},
		{"bad duration", "PUT", "/api/v1/rules/bad", "lead-token", `{"queues":["q"],"when":"waiting > 1","for":"soon"}`, 400, `"field":"for"`},
		{"bad annotation", "PUT", "/api/v1/rules/bad", "lead-token", `{"queues":["q"],"when":"waiting > 1","annotations":{"s":"${nope}"}}`, 400, `"field":"annotations.s"`},
		{"unknown field", "PUT", "/api/v1/rules/bad", "lead-token", `{"queues":["q"],"when":"waiting > 1","threshold":5}`, 400, `unknown field \"threshold\"`},
		{"wrong type", "PUT", "/api/v1/rules/bad", "lead-token", `{"queues":"q"}`, 400, `"field":"queues"`},
		{"names disagree", "PUT", "/api/v1/rules/bad", "lead-token", `{"name":"other","queues":["q"],"when":"waiting > 1"}`, 400, `"field":"name"`},
		{"bad name", "PUT", "/api/v1/rules/bad%20name", "lead-token", `{"queues":["q"],"when":"waiting > 1"}`, 400, `"field":"name"`},
		{"not JSON", "PUT", "/api/v1/rules/bad", "lead-token", `when=1`, 400, `expected a rule as a JSON object`},
		{"change a config rule", "PUT", "/api/v1/rules/from_file", "admin-token", backlog, 409, `"conflict"`},
		{"delete a config rule", "DELETE", "/api/v1/rules/from_file", "lead-token", "", 409, `"conflict"`},
		{"delete unknown", "DELETE", "/api/v1/rules/nope", "lead-token", "", 404, `"not_found"`},
		{"delete", "DELETE", "/api/v1/rules/low_rating", "lead-token", "", 204, ``},
		{"alerts", "GET", "/api/v1/alerts", "view-token", "", 200,
			`{"alerts":[{"rule":"from_file","queue":"support","status":"firing","severity":"warning","labels":{"queue":"support","team":"a"},"annotations":{},"starts_at":"2026-03-02T09:00:00Z","ends_at":null,"value":{"agents_available":0,"agents_logged_in":2,"longest_wait":90,"waiting":4}}]}`},
		{"alerts without a token", "GET", "/api/v1/alerts", "", "", 401, `"unauthenticated"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Errorf("%s %s: %d %s\nwant %d with %s", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.want)
			}
			if resp.StatusCode >= 400 && resp.StatusCode != 401 && resp.StatusCode != 403 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if json.Unmarshal(b, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("error body %s", b)
				}
			}
		})
	}
	if got := strings.Join(fr.log, "; "); got != "put backlog lead; put backlog root; put low_rating lead; delete low_rating lead" {
		t.Errorf("changes by token name: %s", got)
	}
}
