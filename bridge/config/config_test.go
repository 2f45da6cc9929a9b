package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

func TestEveryConfigInConfigsParses(t *testing.T) {
	t.Setenv("ACDBRIDGE_SOURCE_TOKEN", "from-env")
	files, _ := filepath.Glob("../../configs/*.hcl")
	if len(files) < 2 {
		t.Fatalf("found %d configs", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatal(Format(err))
			}
		})
	}
}

func TestRemoteSourceConfig(t *testing.T) {
	t.Setenv("ACDBRIDGE_SOURCE_TOKEN", "from-env")
	c, err := Load("../../configs/remote-source.hcl")
	if err != nil {
		t.Fatal(Format(err))
	}
	s := c.Source
	if s == nil || s.URL != "http://127.0.0.1:8089" || s.Token != "from-env" || !s.Stream || s.PollInterval != 10*time.Second ||
		s.ReconcileInterval != time.Minute || s.Timeout != 10*time.Second || s.RateLimit != 10 || s.StaleAfter != 30*time.Second {
		t.Fatalf("source: %+v", s)
	}
	if c.Directory.File != "../../configs/agents.csv" || len(c.Directory.Templates) != 2 || c.Directory.Rows["a-0006"]["extension"] != "1006" {
		t.Fatalf("directory: %+v", c.Directory)
	}
	if c.Availability.MinDwell != 2*time.Second {
		t.Fatalf("dwell %s", c.Availability.MinDwell)
	}
	in := c.Availability.Decide(monitors.Agent{Status: monitors.InSession, ActiveSessions: 1})
	away := c.Availability.Decide(monitors.Agent{Status: monitors.Away})
	if in.Reason != "in a remote-support session" || away.Reason != "remote-support" || in.Available || away.Available {
		t.Fatalf("rules: in %+v away %+v", in, away)
	}
}

func TestDefaultsMatchTheWrittenDefaults(t *testing.T) {
	c, err := Load("../../configs/acdbridge.hcl")
	if err != nil {
		t.Fatal(Format(err))
	}
	d := Defaults()
	c.File = ""
	if len(c.Adapters) != 1 || c.Adapters[0].Type != d.Adapters[0].Type || c.Adapters[0].Name != d.Adapters[0].Name ||
		string(c.Adapters[0].Settings) != string(d.Adapters[0].Settings) || c.PluginsDir != d.PluginsDir {
		t.Fatalf("configs/acdbridge.hcl's adapters drifted from Defaults(): %+v", c.Adapters)
	}
	if c.DataDir != d.DataDir || c.Source != nil || c.Simulator != d.Simulator || c.Bus != d.Bus || c.API.Listen != d.API.Listen || len(c.API.Tokens) != 0 {
		t.Fatalf("configs/acdbridge.hcl drifted from Defaults():\n file %+v\n code %+v", c, d)
	}
	for _, s := range monitors.Statuses {
		a := monitors.Agent{Status: s}
		if c.Availability.Decide(a) != d.Availability.Decide(a) {
			t.Fatalf("rules differ for %s", s)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Setenv("SET_BUT_EMPTY", "")
	tests := []struct{ name, src, want string }{
		{"unknown attribute", `colour = "red"`, `c.hcl:1:1: Unsupported argument: An argument named "colour" is not expected here.`},
		{"unknown block", "rules {}", `c.hcl:1:1: Unsupported block type`},
		{"unknown in block", "api {\n  port = 1\n}", `c.hcl:2:3: Unsupported argument: An argument named "port"`},
		{"source type", "source \"zendesk\" {\n  url = \"http://x:1\"\n  token = \"t\"\n}", `c.hcl:1:1: unknown source type "zendesk": expected remote_support`},
		{"source url", "source \"remote_support\" {\n  url = \"127.0.0.1:8089\"\n  token = \"t\"\n}", `c.hcl:2:9: url: expected an http or https URL like http://127.0.0.1:8089, got "127.0.0.1:8089"`},
		{"missing token", "source \"remote_support\" {\n  url = \"http://x:1\"\n}", `c.hcl:1:25: Missing required argument: The argument "token" is required`},
		{"unset env", "source \"remote_support\" {\n  url = \"http://x:1\"\n  token = env(\"NOT_SET_ANYWHERE_42\")\n}", `c.hcl:3:11: Error in function call: Call to function "env" failed: environment variable NOT_SET_ANYWHERE_42 is not set.`},
		{"empty env", "source \"remote_support\" {\n  url = \"http://x:1\"\n  token = env(\"SET_BUT_EMPTY\")\n}", `c.hcl:3:11: token: expected the source's bearer token`},
		{"bad duration", "source \"remote_support\" {\n  url = \"http://x:1\"\n  token = \"t\"\n  poll_interval = \"often\"\n}", `c.hcl:4:19: poll_interval: expected a duration like 500ms, 10s, 5m, 2h or 30d, got "often"`},
		{"too short", "source \"remote_support\" {\n  url = \"http://x:1\"\n  token = \"t\"\n  reconcile_interval = \"10ms\"\n}", `c.hcl:4:24: reconcile_interval: expected at least 1s, got 10ms`},
		{"wrong type", "source \"remote_support\" {\n  url = \"http://x:1\"\n  token = \"t\"\n  stream = \"yes please\"\n}", `c.hcl:4:13: Unsuitable value type: Unsuitable value: a bool is required`},
		{"two sources", "source \"remote_support\" {\n  url = \"http://x:1\"\n  token = \"t\"\n}\nsource \"remote_support\" {\n  url = \"http://x:1\"\n  token = \"t\"\n}", `c.hcl:5:1: only one source block is supported`},
		{"simulator with source", "source \"remote_support\" {\n  url = \"http://x:1\"\n  token = \"t\"\n}\nsimulator {\n  agents = 5\n}", `simulator: a simulator block sizes the in-process simulator`},
		{"agents", "simulator {\n  agents = -5\n}", `c.hcl:2:12: agents: expected 0 to 1000000, got -5`},
		{"history", "simulator {\n  history = \"100d\"\n}", `c.hcl:2:13: history: expected at most the 90-day retention`},
		{"bus url", "bus {\n  url = \"http://n:4222\"\n}", `c.hcl:2:9: bus.url`},
		{"creds without url", "bus {\n  creds_file = \"x.creds\"\n}", `c.hcl:2:16: bus.creds_file is for an external server`},
		{"cert without key", "bus {\n  url = \"tls://n:4222\"\n  tls {\n    cert_file = \"c.pem\"\n  }\n}", `c.hcl:3:3: bus.tls: cert_file and key_file go together`},
		{"bus listen public", "bus {\n  listen = \"0.0.0.0:4222\"\n}", `c.hcl:2:12: bus.listen "0.0.0.0:4222": expected a loopback address`},
		{"bus replicas", "bus {\n  replicas = 3\n}", `c.hcl:2:14: bus.replicas is 3: the embedded server is a single node`},
		{"bus max_age", "bus {\n  max_age = \"10s\"\n}", `c.hcl:2:13: bus.max_age is 10s: expected 1m or more`},
		{"listen host", "api {\n  listen = \":8080\"\n}", `c.hcl:2:12: listen: expected an explicit host`},
		{"listen form", "api {\n  listen = \"8080\"\n}", `listen: expected host:port like 127.0.0.1:8080, got "8080"`},
		{"availability state", "availability {\n  unavailable_when = [\"busy\"]\n}", `unavailable_when: unknown agent status "busy"`},
		{"reason too long", "availability {\n  reason = \"" + strings.Repeat("r", 80) + "\"\n}", `at most 79 fit an ACD's pause reason`},
		{"precedence", "availability {\n  precedence = [\"away\", \"offline\"]\n}", `c.hcl:2:16: precedence: precedence [away offline]: expected each of offline`},
		{"dwell", "availability {\n  min_dwell = \"-1s\"\n}", `c.hcl:2:15: min_dwell: expected a duration`},
		{"data_dir", `data_dir = ""`, `data_dir: expected a folder`},
		{"token role", "api {\n  token \"ops\" {\n    role = \"root\"\n    sha256 = \"" + strings.Repeat("a", 64) + "\"\n  }\n}", `c.hcl:3:12: role: expected viewer, supervisor or admin, got "root"`},
		{"token plain", "api {\n  token \"ops\" {\n    role = \"viewer\"\n    sha256 = \"s3cret\"\n  }\n}", `c.hcl:4:14: sha256: expected the token's SHA-256 as 64 hex digits`},
		{"directory csv", "directory {\n  file = \"/nonexistent/agents.csv\"\n}", `c.hcl:2:10: file: directory: open /nonexistent/agents.csv: no such file or directory`},
		{"directory agent twice", "directory {\n  agent \"a\" {}\n  agent \"a\" {}\n}", `c.hcl:3:3: agent "a" is listed twice in the directory`},
		{"adapter twice", "adapter \"log\" \"a\" {}\nadapter \"log\" \"a\" {}", `c.hcl:2:1: adapter "log" "a": the name "a" is taken by another adapter block`},
		{"adapter name across types", "adapter \"webhook\" \"crm\" {}\nadapter \"log\" \"crm\" {}", `c.hcl:2:1: adapter "log" "crm": the name "crm" is taken`},
		{"adapter name", "adapter \"log\" \"A B\" {}", `expected a type and a name of a-z, 0-9, - and _`},
		{"adapter block inside", "adapter \"log\" \"a\" {\n  tls {}\n}", `c.hcl:2:3: Unexpected "tls" block`},
		{"adapter env", "adapter \"log\" \"a\" {\n  secret = env(\"NOT_SET_ANYWHERE_42\")\n}", `c.hcl:2:12: Error in function call`},
		{"syntax", "api {", `c.hcl:1:5: Unclosed configuration block`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "c.hcl")
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if got := Format(err); !strings.Contains(got, tc.want) {
				t.Fatalf("error\n%s\nwant it to contain\n%s", got, tc.want)
			}
		})
	}
}

func TestFileFunction(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600)
	src := "source \"remote_support\" {\n  url = \"http://x:1\"\n  token = file(\"" + filepath.Join(dir, "token") + "\")\n}"
	c, err := Parse([]byte(src), "c.hcl")
	if err != nil {
		t.Fatal(Format(err))
	}
	if c.Source.Token != "s3cret" {
		t.Fatalf("token %q", c.Source.Token)
	}
	_, err = Parse([]byte(strings.Replace(src, "token\")", "missing\")", 1)), "c.hcl")
	if err == nil || !strings.Contains(Format(err), "c.hcl:3:11: Error in function call") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1.5d": 36 * time.Hour, "90s": 90 * time.Second, "0": 0} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("%q: %s %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1e400d", "x", "-5s", "01d"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestAdapterBlocks(t *testing.T) {
	t.Setenv("PBX_SECRET", "s3cret")
	src := "adapter \"asterisk\" \"pbx1\" {\n  address = \"127.0.0.1:5038\"\n  secret  = env(\"PBX_SECRET\")\n  queues  = [\"support\", \"sales\"]\n  retries = 3\n}\nadapter \"asterisk\" \"pbx2\" {\n}\n"
	c, err := Parse([]byte(src), "c.hcl")
	if err != nil {
		t.Fatal(Format(err))
	}
	if len(c.Adapters) != 2 || c.Adapters[0].Name != "pbx1" || c.Adapters[1].Name != "pbx2" {
		t.Fatalf("adapters: %+v", c.Adapters)
	}
	a := c.Adapters[0]
	if want := `{"address":"127.0.0.1:5038","queues":["support","sales"],"retries":3,"secret":"s3cret"}`; string(a.Settings) != want {
		t.Fatalf("settings %s, want %s", a.Settings, want)
	}
	if got := a.FieldError("queues", "expected names of queues"); got != `c.hcl:4:13: adapter "asterisk" "pbx1": queues: expected names of queues` {
		t.Fatalf("field error: %s", got)
	}
	if got := a.FieldError("timeout", "required"); got != `c.hcl:1:1: adapter "asterisk" "pbx1": timeout: required` {
		t.Fatalf("missing field error: %s", got)
	}
	if string(c.Adapters[1].Settings) != "{}" {
		t.Fatalf("empty block: %s", c.Adapters[1].Settings)
	}
	// A file without adapter blocks runs none; only no file at all runs the
	// default log adapter.
	if c, _ := Parse([]byte(`data_dir = "d"`), "c.hcl"); len(c.Adapters) != 0 {
		t.Fatalf("adapters from nowhere: %+v", c.Adapters)
	}
}
