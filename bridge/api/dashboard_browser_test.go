//go:build integration

package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/acdbridge/acdbridge/internal/testutil"
)

// The dashboard in a real browser: Debian's Chromium, headless, driven by
// chromedp, against `acdbridge run` reading `acdbridge simulate`.

func need(t *testing.T, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Fatalf("%s is not set; run make integration", env)
	}
	return v
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// proc starts a command, gathers its output, and stops it when the test
// ends (showing the output if the test failed).
func proc(t *testing.T, name string, args ...string) *testutil.SyncBuffer {
	t.Helper()
	out := &testutil.SyncBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s %s:\n%s", filepath.Base(name), args[0], out.String())
		}
	})
	return out
}

func waitMatch(t *testing.T, out *testutil.SyncBuffer, re *regexp.Regexp) string {
	t.Helper()
	var m []string
	testutil.WaitFor(t, re.String(), 60*time.Second, 100*time.Millisecond, func() bool {
		m = re.FindStringSubmatch(out.String())
		return m != nil
	})
	return m[1]
}

// call is one JSON call with a bearer token.
func call(t *testing.T, method, url, token string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
	return resp.StatusCode
}

// rig is a simulator, a bridge reading it with two tokens (a viewer's,
// wallboard: viewer-secret; a supervisor's, lead: lead-secret) and a
// read-only rule in its config, and a headless Chromium.
type rig struct {
	t            *testing.T
	simURL, base string
	bridge       *testutil.SyncBuffer
	ctx          context.Context
}

const simToken = "sim-token-for-the-dashboard-test"

func newRig(t *testing.T, agents, queues int) *rig {
	t.Helper()
	bin := need(t, "ACDBRIDGE_BIN")
	chromium := need(t, "ACDBRIDGE_IT_CHROMIUM")

	// The simulator, slow enough that an agent we put in a session stays
	// in it while the test looks.
	sim := proc(t, bin, "simulate", "--listen", "127.0.0.1:0", "--token", simToken, "--agents", fmt.Sprint(agents), "--queues", fmt.Sprint(queues), "--seed", "5", "--speed", "1")
	simURL := waitMatch(t, sim, regexp.MustCompile(`listening on (http://\S+)`))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "bridge.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %q
source "remote_support" {
  url   = %q
  token = %q
}
bus {
  listen = "-"
}
api {
  listen = "127.0.0.1:0"
  token "wallboard" {
    role   = "viewer"
    sha256 = %q
  }
  token "lead" {
    role   = "supervisor"
    sha256 = %q
  }
}
adapter "log" "console" {}
rule "config_backlog" {
  queues   = ["*"]
  when     = "waiting >= 100000"
  severity = "critical"
}
`, filepath.Join(dir, "data"), simURL, simToken, sha("viewer-secret"), sha("lead-secret"))), 0o644)
	bridge := proc(t, bin, "run", "--config", cfg)
	base := waitMatch(t, bridge, regexp.MustCompile(`dashboard: (http://127\.0\.0\.1:\d+)/`))
	testutil.WaitFor(t, "the bridge to be ready", 60*time.Second, 200*time.Millisecond, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true), chromedp.Flag("disable-breakpad", true),
		chromedp.WindowSize(1400, 1000))
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 4*time.Minute) // a hang guard
	t.Cleanup(cancel)
	// Start the browser and its tab on ctx, so that the shorter contexts
	// of each step do not own them.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &rig{t: t, simURL: simURL, base: base, bridge: bridge, ctx: ctx}
}

func (r *rig) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 90*time.Second) // a hang guard
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		shot, _ := chromedp.Run(r.ctx, chromedp.FullScreenshot(100))
		if len(shot) > 0 {
			p := filepath.Join(os.TempDir(), "acdbridge-dashboard-failure.png")
			os.WriteFile(p, shot, 0o644)
			r.t.Logf("screenshot: %s", p)
		}
		r.t.Fatalf("%s: %v", what, err)
	}
}

// until waits for a JavaScript expression to hold.
func (r *rig) until(what, expr string) {
	r.t.Helper()
	r.do(what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))(ctx, tg)
		return err
	}))
}

func (r *rig) text(sel string) string {
	r.t.Helper()
	s, err := chromedp.Run(r.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		r.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (r *rig) eval(expr string, out any) {
	r.t.Helper()
	b, err := chromedp.Run(r.ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		r.t.Fatalf("%s: %v", expr, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		r.t.Fatalf("%s: %v in %s", expr, err, b)
	}
}

// screenshot writes a PNG of the page to $ACDBRIDGE_IT_SCREENSHOT-name.png
// when that is set, to look at.
func (r *rig) screenshot(name string) {
	if p := os.Getenv("ACDBRIDGE_IT_SCREENSHOT"); p != "" {
		shot, _ := chromedp.Run(r.ctx, chromedp.FullScreenshot(100))
		os.WriteFile(p+"-"+name+".png", shot, 0o644)
	}
}

func (r *rig) login(token string) {
	r.t.Helper()
	r.do("log in", chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#app")))
}

func TestDashboardInChromium(t *testing.T) {
	r := newRig(t, 120, 4)
	simURL, base, bridge := r.simURL, r.base, r.bridge
	do, until, text, login := r.do, r.until, r.text, r.login

	// The page is a shell: nothing without a login, then a wrong token is
	// refused next to the field.
	do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login")))
	do("a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "nope"), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	until("the refusal", `document.querySelector("#token-error").textContent.includes("not one configured")`)

	// A supervisor sees agents and queues.
	login("lead-secret")
	until("the supervisor's name", `document.querySelector("#who-text").textContent === "Logged in as lead (supervisor)"`)
	until("agents and queues", `document.querySelectorAll("#agents-table tbody tr").length === 50 && document.querySelectorAll("#queues-table tbody tr").length > 0`)
	until("every agent counted", `document.querySelector("#agent-counts").textContent.startsWith("120 agents")`)
	until("the adapter's column", `[...document.querySelectorAll("#agents-head th")].some(th => th.textContent === "Applied at console")`)
	until("the adapter's health", `document.querySelector("#adapters-table tbody th").textContent === "console"`)
	var bad []string
	r.eval(a11yProblems, &bad)
	if len(bad) > 0 {
		t.Fatalf("accessibility: %q", bad)
	}
	// The keyboard: on a fresh load (the session cookie keeps the login)
	// the first Tab reaches the skip link, which moves the focus to the
	// main content.
	do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#app")))
	until("agents again", `document.querySelectorAll("#agents-table tbody tr").length === 50`)
	do("tab to the skip link", chromedp.KeyEvent("\t"))
	until("the skip link focused", `document.activeElement.classList.contains("skip")`)
	do("follow it", chromedp.KeyEvent("\r"))
	until("the main content focused", `document.activeElement.id === "main"`)
	until("the config rule, read-only", `[...document.querySelectorAll("#rules-table tbody tr")].some(tr => tr.cells[0].textContent === "config_backlog" && tr.textContent.includes("Read-only (config file)"))`)

	// The page follows the simulator: an agent taken into a session by a
	// caller with a connection code shows as in session.
	var agents struct {
		Agents []struct {
			ID             string `json:"id"`
			Status         string `json:"status"`
			ActiveSessions int    `json:"active_sessions"`
		} `json:"agents"`
	}
	call(t, "GET", simURL+"/v1/monitors/agents", simToken, nil, &agents)
	agent := ""
	for _, a := range agents.Agents {
		if a.Status == "available" && a.ActiveSessions == 0 {
			agent = a.ID
			break
		}
	}
	if agent == "" {
		t.Fatal("no available agent in the simulator")
	}
	do("search the agent", chromedp.SendKeys(chromedp.CSS("#f-search"), agent))
	until("only that agent", `document.querySelectorAll("#agents-table tbody tr").length === 1 && document.querySelector("#agents-table tbody tr").dataset.key === "`+agent+`"`)
	var code struct {
		Code string `json:"code"`
	}
	if st := call(t, "POST", simURL+"/v1/connection-codes", simToken, map[string]string{"agent_id": agent, "external_ref": "DASH-1"}, &code); st != 201 {
		t.Fatalf("connection code: %d", st)
	}
	if st := call(t, "POST", simURL+"/v1/connection-codes/"+code.Code+"/join", simToken, map[string]string{"name": "Caller"}, nil); st != 201 {
		t.Fatalf("join: %d", st)
	}
	until("the agent in session", `(() => { const tr = document.querySelector("#agents-table tbody tr"); return tr && tr.cells[1].textContent === "In session" && Number(tr.cells[2].textContent) >= 1 && tr.cells[5].textContent.startsWith("Unavailable (In session") })()`)
	until("the adapter applied it", `document.querySelector("#agents-table tbody tr").cells[6].textContent.startsWith("Applied")`)

	// A supervisor makes a rule, sees a bad condition refused next to the
	// field, raises the threshold so that it holds, and sees the alert.
	queue := text("#queues-table tbody th")
	do("a new rule", chromedp.Click(chromedp.CSS("#new-rule")), chromedp.WaitVisible(chromedp.CSS("#rule-form")),
		chromedp.SendKeys(chromedp.CSS("#r-name"), "dash_threshold"), chromedp.SendKeys(chromedp.CSS("#r-queues"), queue),
		chromedp.SendKeys(chromedp.CSS("#r-when"), "waiting >="), chromedp.Click(chromedp.CSS("#rule-save")))
	until("the refusal next to the condition", `document.querySelector("#r-when").getAttribute("aria-invalid") === "true" && document.querySelector("#r-when-error").textContent !== "" && document.activeElement.id === "r-when"`)
	r.screenshot("editor")
	do("a condition that does not hold", chromedp.SetValue(chromedp.CSS("#r-when"), "waiting >= 100000"), chromedp.Click(chromedp.CSS("#rule-save")))
	until("the rule listed", `[...document.querySelectorAll("#rules-table tbody tr")].some(tr => tr.cells[0].textContent === "dash_threshold" && tr.cells[3].textContent === "waiting >= 100000")`)
	// A new rule by a name taken is refused in the page, not saved over it.
	do("a new rule by the same name", chromedp.Click(chromedp.CSS("#new-rule")), chromedp.WaitVisible(chromedp.CSS("#rule-form")),
		chromedp.SendKeys(chromedp.CSS("#r-name"), "dash_threshold"), chromedp.SendKeys(chromedp.CSS("#r-queues"), queue),
		chromedp.SendKeys(chromedp.CSS("#r-when"), "waiting >= 1"), chromedp.Click(chromedp.CSS("#rule-save")))
	until("the name refused", `document.querySelector("#r-name").getAttribute("aria-invalid") === "true" && document.querySelector("#r-name-error").textContent.includes("exists") && document.activeElement.id === "r-name"`)
	do("cancel", chromedp.Click(chromedp.CSS("#rule-cancel")))
	var kept struct {
		When string `json:"when"`
	}
	if st := call(t, "GET", base+"/api/v1/rules/dash_threshold", "lead-secret", nil, &kept); st != 200 || kept.When != "waiting >= 100000" {
		t.Fatalf("the rule after a new one by its name: %d %+v", st, kept)
	}
	do("edit the threshold, with a summary that does not check", chromedp.Click(chromedp.CSS(`button[data-rule="dash_threshold"][data-action="edit"]`)), chromedp.WaitVisible(chromedp.CSS("#rule-form")),
		chromedp.SetValue(chromedp.CSS("#r-when"), "waiting >= 0"), chromedp.SetValue(chromedp.CSS("#r-summary"), "${nope} waiting"), chromedp.Click(chromedp.CSS("#rule-save")))
	until("the refusal next to the summary", `document.querySelector("#r-summary").getAttribute("aria-invalid") === "true" && document.querySelector("#r-summary-error").textContent.includes("nope") && document.activeElement.id === "r-summary"`)
	do("a summary with the figures", chromedp.SetValue(chromedp.CSS("#r-summary"), "${waiting} waiting in ${queue}"), chromedp.Click(chromedp.CSS("#rule-save")))
	until("the summary shown", `[...document.querySelectorAll("#alerts-table tbody tr")].some(tr => tr.cells[1].textContent === "dash_threshold" && /^\d+ waiting in `+regexp.QuoteMeta(queue)+`$/.test(tr.cells[7].textContent))`)
	until("the alert fires", `[...document.querySelectorAll("#alerts-table tbody tr")].some(tr => tr.cells[0].textContent === "Firing" && tr.cells[1].textContent === "dash_threshold" && tr.cells[2].textContent === "`+queue+`")`)
	until("the queue's rule state", `[...document.querySelectorAll("#queues-table tbody tr")].some(tr => tr.cells[0].textContent === "`+queue+`" && tr.cells[5].textContent.includes("Firing: dash_threshold"))`)
	r.screenshot("page")
	until("the alert announced", `document.querySelector("#announce").textContent.includes("Alert firing: dash_threshold on `+queue+`")`)

	// An alert's summary (its rule's annotation, filled in) is shown.
	if st := call(t, "PUT", base+"/api/v1/rules/dash_summary", "lead-secret", map[string]any{"kind": "queue", "queues": []string{queue},
		"when": "waiting >= 0", "severity": "info", "annotations": map[string]string{"summary": "${waiting} waiting in ${queue} <b>now</b>"}}, nil); st != 201 {
		t.Fatalf("PUT dash_summary: %d", st)
	}
	until("the summary shown, as text", `[...document.querySelectorAll("#alerts-table tbody tr")].some(tr => tr.cells[1].textContent === "dash_summary" && /^\d+ waiting in `+regexp.QuoteMeta(queue)+` <b>now<\/b>$/.test(tr.cells[7].textContent)) && !document.querySelector("#alerts-table b")`)
	if st := call(t, "DELETE", base+"/api/v1/rules/dash_summary", "lead-secret", nil, nil); st != 204 {
		t.Fatalf("DELETE dash_summary: %d", st)
	}

	// A rule over every queue, pending on one: that queue shows it
	// pending, the others do not.
	var other string
	r.eval(`[...document.querySelectorAll("#queues-table tbody th")].map(th => th.textContent).find(id => !id.includes("/") && id !== "`+queue+`") || ""`, &other)
	if other == "" {
		t.Fatal("no second top-level queue")
	}
	if st := call(t, "PUT", base+"/api/v1/rules/dash_pending", "lead-secret", map[string]any{"kind": "queue", "queues": []string{"*", "*/*"},
		"when": `queue == "` + other + `" && waiting >= 0`, "for": "1h", "severity": "info"}, nil); st != 201 {
		t.Fatalf("PUT dash_pending: %d", st)
	}
	until("pending on its queue only", `(() => {
	  const rows = [...document.querySelectorAll("#queues-table tbody tr")];
	  const mine = rows.find(tr => tr.cells[0].textContent === "`+other+`");
	  const rest = rows.filter(tr => tr !== mine && tr.cells[0].textContent !== "`+queue+`");
	  return mine && mine.cells[5].textContent === "Pending: dash_pending" && rest.length > 0 && rest.every(tr => tr.cells[5].textContent.startsWith("OK (") && tr.cells[5].textContent.includes("dash_pending"));
	})()`)
	if st := call(t, "DELETE", base+"/api/v1/rules/dash_pending", "lead-secret", nil, nil); st != 204 {
		t.Fatalf("DELETE dash_pending: %d", st)
	}

	// A viewer cannot change rules: the page shows the 403 and the rule
	// stays as it was.
	do("log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login")))
	login("viewer-secret")
	until("the viewer's name", `document.querySelector("#who-text").textContent === "Logged in as wallboard (viewer)"`)
	until("the rule listed", `!!document.querySelector('button[data-rule="dash_threshold"][data-action="edit"]')`)
	do("the viewer edits", chromedp.Click(chromedp.CSS(`button[data-rule="dash_threshold"][data-action="edit"]`)), chromedp.WaitVisible(chromedp.CSS("#rule-form")),
		chromedp.SetValue(chromedp.CSS("#r-when"), "waiting >= 100000"), chromedp.Click(chromedp.CSS("#rule-save")))
	until("the 403 shown", `document.querySelector("#rule-error").textContent === "Refused (403): token wallboard has the role viewer; this call needs supervisor"`)
	var rule struct {
		When string `json:"when"`
	}
	if st := call(t, "GET", base+"/api/v1/rules/dash_threshold", "viewer-secret", nil, &rule); st != 200 || rule.When != "waiting >= 0" {
		t.Fatalf("the rule after the viewer's try: %d %+v", st, rule)
	}
	if st := call(t, "PUT", base+"/api/v1/rules/dash_threshold", "viewer-secret", map[string]any{"kind": "queue", "queues": []string{queue}, "when": "waiting >= 1", "severity": "warning"}, nil); st != 403 {
		t.Fatalf("the viewer's PUT through the API: %d; want 403", st)
	}
	do("the viewer deletes", chromedp.Click(chromedp.CSS(`button[data-rule="dash_threshold"][data-action="delete"]`)),
		chromedp.Click(chromedp.CSS(`button[data-rule="dash_threshold"][data-action="confirm-delete"]`)))
	until("the 403 shown", `document.querySelector("#rules-status").textContent === "Not deleted (403): token wallboard has the role viewer; this call needs supervisor" && document.activeElement.dataset.action === "delete"`)

	// The supervisor deletes it: asked first, then gone.
	do("log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login")))
	login("lead-secret")
	until("the rule listed", `!!document.querySelector('button[data-rule="dash_threshold"][data-action="delete"]')`)
	do("delete, then keep it", chromedp.Click(chromedp.CSS(`button[data-rule="dash_threshold"][data-action="delete"]`)),
		chromedp.Click(chromedp.CSS(`button[data-rule="dash_threshold"][data-action="keep"]`)))
	until("kept", `document.querySelector("#rules-status").textContent === "Rule dash_threshold kept." && document.activeElement.dataset.action === "delete"`)
	do("delete", chromedp.Click(chromedp.CSS(`button[data-rule="dash_threshold"][data-action="delete"]`)),
		chromedp.Click(chromedp.CSS(`button[data-rule="dash_threshold"][data-action="confirm-delete"]`)))
	until("deleted", `document.querySelector("#rules-status").textContent === "Deleted rule dash_threshold." && ![...document.querySelectorAll("#rules-table tbody th")].some(th => th.textContent === "dash_threshold")`)
	if st := call(t, "GET", base+"/api/v1/rules/dash_threshold", "viewer-secret", nil, nil); st != 404 {
		t.Fatalf("the deleted rule: %d", st)
	}

	// The log names who logged in, never with the token itself.
	if strings.Contains(bridge.String(), "lead-secret") || strings.Contains(bridge.String(), "viewer-secret") {
		t.Fatal("a token reached the bridge's log")
	}
	sc := bufio.NewScanner(strings.NewReader(bridge.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "dashboard login:") && !strings.Contains(sc.Text(), "token=") {
			t.Fatalf("a login logged without the token's name: %s", sc.Text())
		}
	}
}

// a11yProblems lists what would keep a keyboard or screen-reader user out:
// inputs without labels, table headers without scope, tables without
// captions, nameless buttons, a status shown by colour alone, missing live
// regions, no skip link first.
const a11yProblems = `(() => {
  const bad = [];
  for (const e of document.querySelectorAll("input, select, textarea")) if (!e.labels || e.labels.length === 0) bad.push("no label: #" + e.id);
  for (const th of document.querySelectorAll("thead th")) if (th.scope !== "col") bad.push("thead th without scope=col: " + th.textContent);
  for (const th of document.querySelectorAll("tbody th")) if (th.scope !== "row") bad.push("tbody th without scope=row: " + th.textContent);
  for (const t of document.querySelectorAll("table")) if (!t.caption || !t.caption.textContent.trim()) bad.push("table without a caption: #" + t.id);
  for (const b of document.querySelectorAll("button")) if (!(b.textContent.trim() || b.getAttribute("aria-label"))) bad.push("button without a name");
  for (const s of document.querySelectorAll(".st")) if (!s.textContent.trim()) bad.push("a status without words");
  if (document.querySelectorAll("[aria-live=assertive]").length !== 1) bad.push("no assertive live region for alerts");
  if (document.querySelector("a").getAttribute("href") !== "#main") bad.push("the first link is not the skip link");
  if (document.documentElement.lang !== "en") bad.push("no lang");
  return bad;
})()`

// At 10,000 agents the page shows one page of rows, and filters, search
// and paging work on the whole table.
func TestDashboardAt10000Agents(t *testing.T) {
	r := newRig(t, 10000, 40)
	began := time.Now()
	r.do("open the page", chromedp.Navigate(r.base+"/"))
	r.login("viewer-secret")
	r.until("every agent", `document.querySelector("#agent-counts").textContent.startsWith("10000 agents") && document.querySelectorAll("#agents-table tbody tr").length === 50`)
	t.Logf("10,000 agents on the page %s after it was opened", time.Since(began).Round(time.Millisecond))

	var all struct {
		Agents []struct {
			ID string `json:"id"`
		} `json:"agents"`
	}
	call(t, "GET", r.simURL+"/v1/monitors/agents", simToken, nil, &all)
	ids := make([]string, 0, len(all.Agents))
	for _, a := range all.Agents {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)

	set := func(sel, value string) {
		t.Helper()
		r.do("set "+sel, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event(e.tagName === "INPUT" ? "input" : "change")); return true })()`, sel, value))(ctx, tg)
			return err
		}))
	}
	// Paging through the whole table, sorted by id.
	r.do("next page", chromedp.Click(chromedp.CSS("#next")))
	r.until("page 2", `document.querySelector("#page-text").textContent === "Page 2 of 200" && document.querySelector("#agents-table tbody tr").dataset.key === "`+ids[50]+`"`)
	r.until("the move announced", `document.querySelector("#agents-live").textContent.startsWith("Showing 51 to 100 of 10000 agents")`)
	// By status: every row shown has it, and the count is the page's own.
	set("#f-status", "offline")
	r.until("only offline agents", `(() => {
		const rows = [...document.querySelectorAll("#agents-table tbody tr")];
		const m = document.querySelector("#agents-summary").textContent.match(/of (\d+) agents \(filtered from 10000\)/);
		const offline = document.querySelector("#agent-counts").textContent.match(/(\d+) offline/);
		return rows.length > 0 && rows.every(tr => tr.cells[1].textContent === "Offline") && m && offline && m[1] === offline[1] && document.querySelector("#page-text").textContent.startsWith("Page 1 of ")
	})()`)
	set("#f-status", "")
	// By queue.
	var queue string
	r.eval(`document.querySelector("#f-queue").options[3].value`, &queue)
	set("#f-queue", queue)
	r.until("only that queue's agents", `(() => {
		const rows = [...document.querySelectorAll("#agents-table tbody tr")];
		return rows.length > 0 && rows.every(tr => tr.cells[4].textContent.split(", ").includes("`+queue+`")) && document.querySelector("#agents-summary").textContent.includes("filtered from 10000")
	})()`)
	set("#f-queue", "")
	// By name or id.
	last := ids[len(ids)-1]
	set("#f-search", last)
	r.until("the one agent", `document.querySelectorAll("#agents-table tbody tr").length === 1 && document.querySelector("#agents-table tbody tr").dataset.key === "`+last+`" && document.querySelector("#agents-summary").textContent === "Showing 1 to 1 of 1 agents (filtered from 10000)."`)
	set("#f-search", "no such agent")
	r.until("no agent", `document.querySelectorAll("#agents-table tbody tr").length === 0 && document.querySelector("#agents-summary").textContent === "No agent matches."`)
}
