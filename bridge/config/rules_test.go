package config

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

func TestRuleBlocks(t *testing.T) {
	src := `rule "support_backlog" {
  queues          = ["support", "support/*"]
  when            = "waiting >= 5 || longest_wait > 120"
  for             = "30s"
  keep_firing_for = "1m"
  severity        = "critical"
  labels          = { team = "a" }
  annotations     = { summary = "${waiting} waiting in ${queue}", runbook = "https://wiki/rb" }
}

rule "minimal" {
  queues = ["*"]
  when   = "agents_available == 0"
}

session_rule "negative_rating" {
  rating_at_most = 2
  unresolved     = true
  queues         = ["support/*"]
  annotations    = { summary = "${agent}: rating ${rating}" }
}
`
	c, err := Parse([]byte(src), "bridge.hcl")
	if err != nil {
		t.Fatal(Format(err))
	}
	if len(c.Rules) != 3 {
		t.Fatalf("%d rules", len(c.Rules))
	}
	r := c.Rules[0]
	if r.Name != "support_backlog" || r.Kind != monitors.QueueRuleKind || !slices.Equal(r.Queues, []string{"support", "support/*"}) ||
		r.When != "waiting >= 5 || longest_wait > 120" || r.For != 30*time.Second || r.KeepFiringFor != time.Minute || r.Severity != "critical" ||
		!maps.Equal(r.Labels, map[string]string{"team": "a"}) ||
		!maps.Equal(r.Annotations, map[string]string{"summary": "${waiting} waiting in ${queue}", "runbook": "https://wiki/rb"}) {
		t.Errorf("support_backlog: %+v", r)
	}
	if m := c.Rules[1]; m.Severity != monitors.DefaultSeverity || m.For != 0 || m.KeepFiringFor != 0 {
		t.Errorf("minimal: %+v", m)
	}
	s := c.Rules[2]
	if s.Kind != monitors.SessionRuleKind || s.RatingAtMost != 2 || !s.Unresolved || s.KeepFiringFor != monitors.DefaultSessionAlertTTL ||
		s.Annotations["summary"] != "${agent}: rating ${rating}" {
		t.Errorf("negative_rating: %+v", s)
	}
}

// Mistakes inside a rule point at their line and column in the file.
func TestRuleBlockErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown variable in when", "rule \"r\" {\n  queues = [\"q\"]\n  when   = \"waiting >= 5 || waitin > 1\"\n}\n",
			`bridge.hcl:3:29: rule "r": when: Unknown variable`},
		{"syntax error in when", "rule \"r\" {\n  queues = [\"q\"]\n  when   = \"waiting >=\"\n}\n", `bridge.hcl:3:`},
		{"type error in when", "rule \"r\" {\n  queues = [\"q\"]\n  when   = \"waiting > \\\"many\\\"\"\n}\n", `bridge.hcl:3:`},
		{"when not a string", "rule \"r\" {\n  queues = [\"q\"]\n  when   = waiting\n}\n", `bridge.hcl:3:`},
		{"missing when", "rule \"r\" {\n  queues = [\"q\"]\n}\n", `bridge.hcl:1:1: rule "r": when: expected a condition`},
		{"bad duration", "rule \"r\" {\n  queues = [\"q\"]\n  when = \"waiting > 1\"\n  for = \"soon\"\n}\n", `bridge.hcl:4:9: for: expected a duration`},
		{"annotation unknown variable", "rule \"r\" {\n  queues = [\"q\"]\n  when = \"waiting > 1\"\n  annotations = {\n    summary = \"x ${nope}\"\n  }\n}\n",
			`bridge.hcl:5:20: rule "r": annotations.summary: Unknown variable`},
		{"annotation not quoted", "rule \"r\" {\n  queues = [\"q\"]\n  when = \"waiting > 1\"\n  annotations = { summary = 5 }\n}\n", `bridge.hcl:4:29: annotations.summary: expected a quoted template`},
		{"bad pattern", "rule \"r\" {\n  queues = [\"q[\"]\n  when = \"waiting > 1\"\n}\n", `bridge.hcl:2:12: rule "r": queues: pattern`},
		{"unknown attribute", "rule \"r\" {\n  queues = [\"q\"]\n  when = \"waiting > 1\"\n  threshold = 5\n}\n", `bridge.hcl:4:3: Unsupported argument`},
		{"twice", "rule \"r\" {\n  queues = [\"q\"]\n  when = \"waiting > 1\"\n}\nsession_rule \"r\" {\n  unresolved = true\n}\n", `bridge.hcl:5:1: rule "r" is declared twice`},
		{"session rule without condition", "session_rule \"s\" {\n  severity = \"info\"\n}\n", `bridge.hcl:1:1: rule "s": rating_at_most`},
		{"session rating out of range", "session_rule \"s\" {\n  rating_at_most = 9\n}\n", `bridge.hcl:2:20: rule "s": rating_at_most: expected a survey rating`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "bridge.hcl")
			if err == nil {
				t.Fatal("accepted")
			}
			if got := Format(err); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got  %s\nwant %s...", got, tc.want)
			}
		})
	}
}
