// The acdbridge dashboard: one EventSource on /api/v1/stream (a snapshot,
// then changes), the rule editor over /api/v1/rules. No framework, no build
// step; every piece of data is written with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const CSRF = { "X-ACDBridge-CSRF": "1" };

const state = {
  me: null, // {name, role}
  agents: new Map(), // id → row
  ids: [], // agent ids, sorted
  queues: new Map(), // id → row
  trend: new Map(), // queue id → [waiting...]
  trendEvery: 5,
  trendLen: 36,
  adapters: [],
  rules: null, // null: no rule engine
  alerts: [],
  stale: false,
  page: 0,
  editing: null, // the rule being edited, or "" for a new one
  confirming: null, // the rule whose deletion awaits confirmation
};

let es = null;
let dropReason = ""; // why the bridge last closed the stream
let renderQueued = new Set();

// ---- small helpers ----

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function status(word, kind) {
  return el("span", { class: "st st-" + kind, text: word });
}

const statusWords = { available: "Available", in_session: "In session", away: "Away", offline: "Offline" };

function duration(sec) {
  sec = Math.max(0, Math.floor(sec));
  if (sec < 60) return sec + "s";
  const m = Math.floor(sec / 60), s = sec % 60;
  if (m < 60) return m + "m " + s + "s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + "h " + (m % 60) + "m";
  return Math.floor(h / 24) + "d " + (h % 24) + "h";
}

function since(iso) {
  if (!iso || iso.startsWith("0001-")) return "";
  return duration((Date.now() - Date.parse(iso)) / 1000);
}

function clock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function announce(text) {
  const a = $("announce");
  a.textContent = "";
  // A fresh node, so that a repeated message is read again.
  setTimeout(() => { a.textContent = text; }, 50);
}

// Renders at most every 100 ms, whatever the rate of changes (a timer,
// not requestAnimationFrame, which stops in a tab in the background).
let renderTimer = null;
function schedule(...parts) {
  for (const p of parts) renderQueued.add(p);
  if (renderTimer === null) renderTimer = setTimeout(() => { renderTimer = null; render(); }, 100);
}

function render() {
  const parts = renderQueued;
  renderQueued = new Set();
  if (parts.has("agents")) renderAgents();
  if (parts.has("queues")) renderQueues();
  if (parts.has("alerts")) renderAlerts();
  if (parts.has("adapters")) renderAdapters();
  if (parts.has("rules")) renderRules();
}

// Replaces a tbody's rows, reusing the rows whose key is unchanged, so
// that focus and a screen reader's place survive an update.
function syncRows(tbody, items, key, fill) {
  const old = new Map();
  for (const tr of tbody.rows) old.set(tr.dataset.key, tr);
  const rows = items.map((it) => {
    const k = key(it);
    let tr = old.get(k);
    if (!tr) { tr = document.createElement("tr"); tr.dataset.key = k; }
    old.delete(k);
    fill(tr, it);
    return tr;
  });
  for (const tr of old.values()) tr.remove();
  rows.forEach((tr, i) => {
    if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
  });
}

// Sets a row's cells: each cell is [tag, content, class?]; content is a
// string or a node. A cell is rewritten only when its content changed.
function setCells(tr, cells) {
  while (tr.cells.length > cells.length) tr.lastChild.remove();
  cells.forEach(([tag, content, cls], i) => {
    let c = tr.cells[i];
    if (!c || c.tagName.toLowerCase() !== tag) {
      const n = document.createElement(tag);
      if (tag === "th") n.scope = "row";
      if (c) c.replaceWith(n); else tr.append(n);
      c = n;
    }
    c.className = cls || "";
    const sig = typeof content === "string" ? "t:" + content : "n:" + content.outerHTML;
    if (c.dataset.sig !== sig) {
      c.dataset.sig = sig;
      c.replaceChildren(content);
    }
  });
}

// ---- session ----

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: { ...CSRF } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  const text = await resp.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  return { status: resp.status, data };
}

function showLogin(message) {
  if (es) { es.close(); es = null; }
  state.me = null;
  $("app").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("conn").textContent = "Not connected";
  $("token-error").textContent = message || "";
  $("token").focus();
}

function showApp(me) {
  state.me = me;
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("who-text").textContent = "Logged in as " + me.name + " (" + me.role + ")";
  $("rules-note").textContent = me.role === "viewer"
    ? "Your role is viewer: you can read the rules; changing them needs a supervisor's token, and the bridge will refuse."
    : "Rules from the config file are read-only; the others you can change here.";
  connect();
}

async function start() {
  const r = await api("GET", "/api/v1/session");
  if (r.status === 200) showApp(r.data);
  else showLogin("");
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("token");
  const token = input.value.trim();
  if (!token) {
    input.setAttribute("aria-invalid", "true");
    $("token-error").textContent = "Enter an API token.";
    input.focus();
    return;
  }
  const r = await api("POST", "/api/v1/login", { token });
  input.value = "";
  if (r.status === 200) {
    input.removeAttribute("aria-invalid");
    $("token-error").textContent = "";
    showApp(r.data);
    $("main").focus();
    return;
  }
  input.setAttribute("aria-invalid", "true");
  $("token-error").textContent = (r.data && r.data.error && r.data.error.message) || "Login failed (" + r.status + ").";
  input.focus();
});

$("logout").addEventListener("click", async () => {
  await api("POST", "/api/v1/logout");
  showLogin("You are logged out.");
});

// ---- the stream ----

function connect() {
  if (es) es.close();
  $("conn").textContent = "Connecting…";
  es = new EventSource("/api/v1/stream");
  es.addEventListener("open", () => { $("conn").textContent = "Live"; });
  es.addEventListener("error", async () => {
    if (!es) return;
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream: the session may have ended.
      const r = await api("GET", "/api/v1/session");
      if (r.status === 401) { showLogin("Your session ended; log in again."); return; }
      $("conn").textContent = "Disconnected; retrying…";
      setTimeout(() => { if (state.me) connect(); }, 3000);
      return;
    }
    $("conn").textContent = dropReason ? "Dropped by the bridge: " + dropReason + " Reconnecting…" : "Disconnected; reconnecting…";
  });
  es.addEventListener("snapshot", (e) => onSnapshot(JSON.parse(e.data)));
  es.addEventListener("agents", (e) => onAgents(JSON.parse(e.data)));
  es.addEventListener("applied", (e) => onApplied(JSON.parse(e.data).applied));
  es.addEventListener("queues", (e) => onQueues(JSON.parse(e.data)));
  es.addEventListener("adapters", (e) => { state.adapters = JSON.parse(e.data).adapters || []; adaptersChanged(); });
  es.addEventListener("rules", (e) => { state.rules = JSON.parse(e.data).rules || []; schedule("rules", "queues"); });
  es.addEventListener("alerts", (e) => onAlerts(JSON.parse(e.data).alerts || [], true));
  es.addEventListener("source", (e) => { state.stale = JSON.parse(e.data).stale; $("stale").hidden = !state.stale; });
  es.addEventListener("heartbeat", () => { $("conn").textContent = "Live"; });
  es.addEventListener("dropped", (e) => {
    dropReason = JSON.parse(e.data).reason;
    $("conn").textContent = "Dropped by the bridge: " + dropReason + " Reconnecting…";
  });
}

function onSnapshot(s) {
  $("conn").textContent = "Live";
  dropReason = "";
  state.agents = new Map(s.agents.map((a) => [a.id, a]));
  state.ids = s.agents.map((a) => a.id).sort();
  state.queues = new Map(s.queues.map((q) => [q.id, q]));
  state.trend = new Map(s.queues.map((q) => [q.id, q.trend || []]));
  state.trendEvery = s.trend_every_seconds || 5;
  state.adapters = s.adapters || [];
  state.rules = s.rules;
  state.stale = s.stale;
  $("stale").hidden = !s.stale;
  onAlerts(s.alerts || [], false);
  adaptersChanged();
  queueOptions();
  schedule("agents", "queues", "alerts", "adapters", "rules");
}

function onAgents(ch) {
  let added = false;
  for (const a of ch.agents) {
    if (!state.agents.has(a.id)) added = true;
    state.agents.set(a.id, a);
  }
  for (const id of ch.removed) {
    if (state.agents.delete(id)) added = true;
  }
  if (added) state.ids = [...state.agents.keys()].sort();
  schedule("agents");
}

// What adapters confirmed: each agent's versions at every adapter.
function onApplied(m) {
  for (const [id, versions] of Object.entries(m)) {
    const a = state.agents.get(id);
    if (a) a.adapters_applied = versions;
  }
  schedule("agents");
}

function onQueues(ch) {
  for (const q of ch.queues) state.queues.set(q.id, q);
  for (const id of ch.removed) { state.queues.delete(id); state.trend.delete(id); }
  if (ch.queues.some((q) => !state.trend.has(q.id)) || ch.removed.length) queueOptions();
  schedule("queues");
}

function alertKey(a) { return a.rule + "\u0000" + (a.queue || "") + "\u0000" + (a.session || ""); }

function onAlerts(list, speak) {
  const before = new Set(state.alerts.filter((a) => a.status === "firing").map(alertKey));
  state.alerts = list;
  const now = new Set(list.filter((a) => a.status === "firing").map(alertKey));
  if (speak) {
    const news = [];
    for (const a of list) {
      const k = alertKey(a);
      if (a.status === "firing" && !before.has(k)) news.push("Alert firing: " + a.rule + " on " + (a.queue || a.session) + ", " + a.severity + ".");
      if (a.status !== "firing" && before.has(k) && !now.has(k)) news.push("Alert resolved: " + a.rule + " on " + (a.queue || a.session) + ".");
    }
    if (news.length) announce(news.join(" "));
  } else if (now.size) {
    announce(now.size + (now.size === 1 ? " alert is" : " alerts are") + " firing.");
  }
  schedule("alerts", "queues");
}

// The trend: each queue's waiting, sampled here as the server does.
setInterval(() => {
  for (const [id, q] of state.queues) {
    const t = state.trend.get(id) || [];
    t.push(q.waiting);
    if (t.length > state.trendLen) t.splice(0, t.length - state.trendLen);
    state.trend.set(id, t);
  }
  schedule("queues");
}, 5000);

// Times shown as "for how long" move on.
setInterval(() => schedule("agents"), 1000);

// ---- agents ----

let adapterNames = [];

// The agents table has a column per adapter that applies availability:
// the names every agent's row carries.
function adaptersChanged() {
  const first = state.agents.values().next().value;
  const names = Object.keys((first && first.adapters_applied) || {}).sort();
  if (names.join("\u0000") !== adapterNames.join("\u0000")) {
    adapterNames = names;
    const head = $("agents-head");
    while (head.cells.length > 6) head.lastChild.remove();
    for (const n of names) head.append(el("th", { scope: "col", text: "Applied at " + n }));
    $("agents-table").tBodies[0].replaceChildren();
    schedule("agents");
  }
  schedule("adapters");
}

function queueOptions() {
  const sel = $("f-queue");
  const keep = sel.value;
  const ids = new Set(state.queues.keys());
  for (const a of state.agents.values()) for (const q of a.queues || []) ids.add(q);
  const opts = [el("option", { value: "", text: "Any queue" })];
  for (const id of [...ids].sort()) opts.push(el("option", { value: id, text: id }));
  sel.replaceChildren(...opts);
  sel.value = ids.has(keep) ? keep : "";
}

function filtered() {
  const st = $("f-status").value;
  const q = $("f-queue").value;
  const text = $("f-search").value.trim().toLowerCase();
  const out = [];
  for (const id of state.ids) {
    const a = state.agents.get(id);
    if (st && a.status !== st) continue;
    if (q && !(a.queues || []).includes(q)) continue;
    if (text && !a.id.toLowerCase().includes(text) && !a.name.toLowerCase().includes(text)) continue;
    out.push(a);
  }
  return out;
}

function appliedCell(a, name) {
  const av = a.availability;
  if (!av) return ["td", status("No decision yet", "none")];
  const got = (a.adapters_applied || {})[name] || 0;
  if (got >= av.version) return ["td", status("Applied (v" + av.version + ")", "applied")];
  if (got === 0) return ["td", status("Not yet (v" + av.version + " sent)", "pending")];
  return ["td", status("Behind: v" + got + " of v" + av.version, "behind")];
}

function renderAgents() {
  const list = filtered();
  const size = Number($("f-size").value);
  const pages = Math.max(1, Math.ceil(list.length / size));
  state.page = Math.min(state.page, pages - 1);
  const first = state.page * size;
  const shown = list.slice(first, first + size);
  syncRows($("agents-table").tBodies[0], shown, (a) => a.id, (tr, a) => {
    const name = el("span", { text: a.name });
    const who = el("span", {}, name, el("span", { class: "sub", text: a.id }));
    const av = a.availability;
    const wanted = !av ? status("No decision yet", "none")
      : av.available ? status("Available", "available")
      : status("Unavailable (" + (statusWords[av.state] || av.state) + (av.reason ? ": " + av.reason : "") + ")", "offline");
    setCells(tr, [
      ["th", who],
      ["td", status(statusWords[a.status] || a.status, a.status)],
      ["td", String(a.active_sessions), "num"],
      ["td", since(a.status_since)],
      ["td", (a.queues || []).join(", ")],
      ["td", wanted],
      ...adapterNames.map((n) => appliedCell(a, n)),
    ]);
  });
  $("page-text").textContent = "Page " + (state.page + 1) + " of " + pages;
  $("prev").disabled = state.page === 0;
  $("next").disabled = state.page >= pages - 1;
  const total = state.agents.size;
  $("agents-table").dataset.count = String(list.length);
  const counts = { available: 0, in_session: 0, away: 0, offline: 0 };
  for (const a of state.agents.values()) counts[a.status] = (counts[a.status] || 0) + 1;
  $("agent-counts").textContent = total + " agents: " + Object.entries(counts).map(([k, v]) => v + " " + (statusWords[k] || k).toLowerCase()).join(", ") + ".";
  const summary = list.length === 0 ? "No agent matches." :
    "Showing " + (first + 1) + " to " + (first + shown.length) + " of " + list.length + " agents" + (list.length !== total ? " (filtered from " + total + ")" : "") + ".";
  $("agents-summary").textContent = summary;
  // Only a change the user asked for is announced.
  if (filterAsked) {
    $("agents-live").textContent = summary + " Page " + (state.page + 1) + " of " + pages + ".";
    filterAsked = false;
  }
}

let filterAsked = false;
function refilter() { state.page = 0; filterAsked = true; schedule("agents"); }
for (const id of ["f-status", "f-queue", "f-size"]) $(id).addEventListener("change", refilter);
$("f-search").addEventListener("input", refilter);
$("agent-filters").addEventListener("submit", (e) => e.preventDefault());
$("prev").addEventListener("click", () => { state.page--; filterAsked = true; schedule("agents"); });
$("next").addEventListener("click", () => { state.page++; filterAsked = true; schedule("agents"); });

// ---- queues ----

// Go's path.Match for the rules' queue patterns: * and ? stop at "/".
function globMatch(pattern, s) {
  let re = "^";
  for (const ch of pattern) {
    if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  try { return new RegExp(re + "$").test(s); } catch { return false; }
}

// A queue's rule state: the bridge says whether a rule is pending or
// firing on this queue (rule_state); the names come from the alerts and
// from the rules that watch it and are pending.
function ruleState(q) {
  const qid = q.id;
  const firing = state.alerts.filter((a) => a.status === "firing" && a.queue === qid).map((a) => a.rule);
  if (firing.length) return status("Firing: " + [...new Set(firing)].join(", "), "firing");
  if (!state.rules) return status("No rules", "none");
  const mine = state.rules.filter((r) => r.kind === "queue" && (r.queues || []).some((p) => globMatch(p, qid)));
  if (q.rule_state === "pending" || q.rule_state === "firing") {
    const pending = mine.filter((r) => r.state === "pending" || r.state === "firing").map((r) => r.name);
    return status("Pending: " + (pending.length ? pending.join(", ") : "a rule"), "pending");
  }
  if (!mine.length) return status("No rule", "none");
  return status("OK (" + mine.map((r) => r.name).join(", ") + ")", "ok");
}

function sparkline(values) {
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 20");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const v = values.length ? values : [0];
  if (v.length === 1) v.push(v[0]); // one sample: a flat line
  const hi = Math.max(1, ...v);
  const pts = v.map((x, i) => (v.length === 1 ? 100 : (i * 100) / (v.length - 1)).toFixed(1) + "," + (19 - (x * 18) / hi).toFixed(1));
  const line = document.createElementNS(svgNS, "polyline");
  line.setAttribute("points", pts.join(" "));
  svg.append(line);
  const mins = Math.round((v.length * state.trendEvery) / 60);
  svg.setAttribute("aria-label", "Waiting over the last " + (mins || 1) + " min: lowest " + Math.min(...v) + ", highest " + Math.max(...v) + ", now " + v[v.length - 1]);
  return svg;
}

function renderQueues() {
  const list = [...state.queues.values()].sort((a, b) => a.id.localeCompare(b.id));
  syncRows($("queues-table").tBodies[0], list, (q) => q.id, (tr, q) => {
    setCells(tr, [
      ["th", q.id],
      ["td", String(q.waiting), "num"],
      ["td", q.waiting ? duration(q.longest_wait_seconds) : "Nobody waiting", "num"],
      ["td", String(q.agents_available), "num"],
      ["td", String(q.agents_logged_in), "num"],
      ["td", ruleState(q)],
      ["td", sparkline(state.trend.get(q.id) || [])],
    ]);
  });
}

// ---- alerts ----

function renderAlerts() {
  const list = [...state.alerts].sort((a, b) => (a.status === "firing") === (b.status === "firing") ? 0 : a.status === "firing" ? -1 : 1);
  const firing = list.filter((a) => a.status === "firing").length;
  $("alerts-summary").textContent = list.length === 0 ? "No alerts." : firing + " firing, " + (list.length - firing) + " recently resolved.";
  $("alerts-table").hidden = list.length === 0;
  syncRows($("alerts-table").tBodies[0], list, alertKey, (tr, a) => {
    const figures = Object.entries(a.value || {}).map(([k, v]) => k + " " + v).join(", ");
    setCells(tr, [
      ["td", status(a.status === "firing" ? "Firing" : "Resolved", a.status)],
      ["th", a.rule],
      ["td", a.queue || a.session || ""],
      ["td", a.severity || ""],
      ["td", clock(a.starts_at)],
      ["td", a.ends_at ? clock(a.ends_at) : "Still firing"],
      ["td", figures],
      ["td", (a.annotations && (a.annotations.summary || a.annotations.description)) || ""],
    ]);
  });
}

// ---- adapters ----

function renderAdapters() {
  syncRows($("adapters-table").tBodies[0], state.adapters, (a) => a.name, (tr, a) => {
    const health = a.health || "unknown";
    setCells(tr, [
      ["th", a.name],
      ["td", a.type || ""],
      ["td", a.running ? status("Running", "up") : status("Not running", "stopped")],
      ["td", status(health[0].toUpperCase() + health.slice(1) + (a.health_message ? ": " + a.health_message : ""), health)],
      ["td", String(a.pending ?? 0), "num"],
      ["td", String(a.agents_applied ?? 0), "num"],
      ["td", String(a.agents_without_identity_count ?? 0), "num"],
      ["td", a.last_error || ""],
    ]);
  });
}

// ---- rules ----

function condition(r) {
  if (r.kind === "session") {
    const parts = [];
    if (r.rating_at_most) parts.push("rating at most " + r.rating_at_most);
    if (r.unresolved) parts.push("unresolved");
    return parts.join(" or ");
  }
  return r.when || "";
}

function renderRules() {
  const tbody = $("rules-table").tBodies[0];
  if (!state.rules) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: "10", text: "This bridge has no rule engine." })));
    $("new-rule").disabled = true;
    return;
  }
  $("new-rule").disabled = false;
  syncRows(tbody, state.rules, (r) => r.name, (tr, r) => {
    let actions;
    if (r.read_only) {
      actions = el("span", { text: "Read-only (config file)" });
    } else if (state.confirming === r.name) {
      actions = el("span", {},
        el("button", { type: "button", "data-action": "confirm-delete", "data-rule": r.name, text: "Yes, delete " + r.name }),
        el("button", { type: "button", "data-action": "keep", "data-rule": r.name, text: "Keep it" }));
    } else {
      actions = el("span", {},
        el("button", { type: "button", "data-action": "edit", "data-rule": r.name, "aria-label": "Edit rule " + r.name, text: "Edit" }),
        el("button", { type: "button", "data-action": "delete", "data-rule": r.name, "aria-label": "Delete rule " + r.name, text: "Delete" }));
    }
    const st = r.state || "inactive";
    setCells(tr, [
      ["th", r.name],
      ["td", r.kind],
      ["td", (r.queues || []).join(", ") || (r.kind === "session" ? "every queue" : "")],
      ["td", condition(r)],
      ["td", r.for || ""],
      ["td", r.keep_firing_for || ""],
      ["td", r.severity || ""],
      ["td", status(st[0].toUpperCase() + st.slice(1) + (r.last_error ? " (error: " + r.last_error + ")" : ""), st)],
      ["td", r.read_only ? "Config file" : "API"],
      ["td", actions],
    ]);
  });
}

const fields = {
  name: "r-name", kind: "r-kind", queues: "r-queues", when: "r-when", for: "r-for",
  keep_firing_for: "r-keep", rating_at_most: "r-rating", unresolved: "r-unresolved", severity: "r-severity",
  "annotations.summary": "r-summary",
};

function clearErrors() {
  $("rule-error").textContent = "";
  for (const id of Object.values(fields)) {
    $(id).removeAttribute("aria-invalid");
    $(id + "-error").textContent = "";
  }
}

function openEditor(rule) {
  const f = $("rule-form");
  clearErrors();
  state.editing = rule ? rule.name : "";
  $("rule-form-h").textContent = rule ? "Edit rule " + rule.name : "New rule";
  $("r-name").value = rule ? rule.name : "";
  $("r-name").readOnly = !!rule;
  $("r-kind").value = rule ? rule.kind : "queue";
  $("r-queues").value = rule ? (rule.queues || []).join(", ") : "";
  $("r-when").value = rule ? rule.when || "" : "";
  $("r-for").value = rule ? rule.for || "" : "";
  $("r-keep").value = rule ? rule.keep_firing_for || "" : "";
  $("r-rating").value = rule && rule.rating_at_most ? String(rule.rating_at_most) : "";
  $("r-unresolved").checked = !!(rule && rule.unresolved);
  $("r-severity").value = rule ? rule.severity || "" : "warning";
  $("r-summary").value = (rule && rule.annotations && rule.annotations.summary) || "";
  f.dataset.kind = $("r-kind").value;
  f.hidden = false;
  (rule ? $("r-when") : $("r-name")).focus();
}

function closeEditor() {
  $("rule-form").hidden = true;
  state.editing = null;
  $("new-rule").focus();
}

$("r-kind").addEventListener("change", () => { $("rule-form").dataset.kind = $("r-kind").value; });
$("new-rule").addEventListener("click", () => openEditor(null));
$("rule-cancel").addEventListener("click", closeEditor);
$("rule-form").addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeEditor(); });

$("rules-table").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-action]");
  if (!b) return;
  const rule = (state.rules || []).find((r) => r.name === b.dataset.rule);
  if (!rule) return;
  const focus = (action) => {
    renderRules();
    const n = document.querySelector('#rules-table button[data-action="' + action + '"][data-rule="' + CSS.escape(rule.name) + '"]');
    if (n) n.focus();
  };
  switch (b.dataset.action) {
    case "edit":
      openEditor(rule);
      return;
    case "delete": // asks first, in place
      state.confirming = rule.name;
      $("rules-status").textContent = "Delete rule " + rule.name + "? Confirm or keep it.";
      focus("confirm-delete");
      return;
    case "keep":
      state.confirming = null;
      $("rules-status").textContent = "Rule " + rule.name + " kept.";
      focus("delete");
      return;
  }
  state.confirming = null;
  const r = await api("DELETE", "/api/v1/rules/" + encodeURIComponent(rule.name));
  $("rules-status").textContent = r.status === 204 ? "Deleted rule " + rule.name + "." : "Not deleted (" + r.status + "): " + errorText(r);
  if (r.status === 204) { refreshRules(); $("rules-h").focus(); }
  else focus("delete");
  if (r.status === 401) showLogin("Your session ended; log in again.");
});

function errorText(r) {
  return (r.data && r.data.error && r.data.error.message) || "the bridge answered " + r.status;
}

async function refreshRules() {
  const r = await api("GET", "/api/v1/rules");
  if (r.status === 200) { state.rules = r.data.rules || []; schedule("rules", "queues"); }
}

$("rule-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors();
  const name = $("r-name").value.trim();
  if (!name) {
    $("r-name").setAttribute("aria-invalid", "true");
    $("r-name-error").textContent = "A rule needs a name.";
    $("r-name").focus();
    return;
  }
  const kind = $("r-kind").value;
  const old = (state.rules || []).find((r) => r.name === name);
  if (old && state.editing === "") {
    // PUT replaces: a new rule must not overwrite someone else's.
    $("r-name").setAttribute("aria-invalid", "true");
    $("r-name-error").textContent = "A rule named " + name + " exists; choose another name, or edit that rule.";
    $("rule-error").textContent = "Not saved: see name.";
    $("r-name").focus();
    return;
  }
  const body = {
    kind,
    queues: $("r-queues").value.split(",").map((s) => s.trim()).filter(Boolean),
    severity: $("r-severity").value.trim(),
    keep_firing_for: $("r-keep").value.trim(),
    labels: (old && old.labels) || {},
    annotations: { ...((old && old.annotations) || {}) },
  };
  const summary = $("r-summary").value.trim();
  if (summary) body.annotations.summary = summary;
  else delete body.annotations.summary;
  if (kind === "queue") {
    body.when = $("r-when").value.trim();
    body.for = $("r-for").value.trim();
  } else {
    body.rating_at_most = Number($("r-rating").value || 0);
    body.unresolved = $("r-unresolved").checked;
  }
  $("rule-save").disabled = true;
  let r;
  try {
    r = await api("PUT", "/api/v1/rules/" + encodeURIComponent(name), body);
  } finally {
    $("rule-save").disabled = false;
  }
  if (r.status === 200 || r.status === 201) {
    $("rules-status").textContent = (r.status === 201 ? "Created" : "Saved") + " rule " + name + ".";
    closeEditor();
    refreshRules();
    return;
  }
  const err = (r.data && r.data.error) || {};
  const id = fields[err.field];
  const msg = err.message || "the bridge answered " + r.status;
  if (id) {
    $(id).setAttribute("aria-invalid", "true");
    $(id + "-error").textContent = msg;
    $("rule-error").textContent = "Not saved: see " + err.field + ".";
    $(id).focus();
    return;
  }
  const what = { 401: "Not logged in", 403: "Refused", 404: "Not found", 409: "Read-only" }[r.status] || "Not saved";
  $("rule-error").textContent = what + " (" + r.status + "): " + msg;
  if (r.status === 401) showLogin("Your session ended; log in again.");
});

start();
