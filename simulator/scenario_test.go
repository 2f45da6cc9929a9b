package simulator

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEveryExampleScenarioLoads(t *testing.T) {
	files, err := filepath.Glob("../configs/simulator/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := LoadScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewEngine(sc, NewManualClock(testStart), 64); err != nil {
				t.Fatalf("engine: %v", err)
			}
		})
	}
}

func TestHelpdeskScenario(t *testing.T) {
	sc, err := LoadScenario("../configs/simulator/helpdesk.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Seed != 42 || sc.History != 30*24*time.Hour || sc.Utilization != 0.85 || sc.CodeTTL != 15*time.Minute {
		t.Fatalf("top level: %+v", sc)
	}
	if sc.Sessions.MedianDuration != 9*time.Minute || sc.Sessions.RecordingMax != 2097152 || sc.Customers.PatienceMedian != 4*time.Minute {
		t.Fatalf("sessions and customers: %+v %+v", sc.Sessions, sc.Customers)
	}
	var ids []string
	for _, q := range sc.Queues {
		ids = append(ids, q.ID)
	}
	if got := strings.Join(ids, " "); got != "support support/printers support/network sales" {
		t.Fatalf("queues: %s", got)
	}
	sup, printers, sales := sc.Queues[0], sc.Queues[1], sc.Queues[3]
	if len(sup.Profile) != 24 || len(sup.Routes) != 2 || sup.Routes[0] != (Route{Field: "product", Equals: "printer", To: "support/printers"}) || !sup.Auto {
		t.Fatalf("support: %+v", sup)
	}
	if printers.RequiredFields[0] != "serial_number" || sales.Auto || sales.RatePerMinute != 0.5 {
		t.Fatalf("printers %+v, sales %+v", printers, sales)
	}
	n := 0
	for _, g := range sc.Agents {
		n += g.Count
	}
	if n != 60 || sc.Agents[0].MaxSessions != 2 {
		t.Fatalf("agents: %+v", sc.Agents)
	}
}

func TestScenarioErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax", "queue \"a\" {", "bad.hcl:1,11-12: Unclosed configuration block"},
		{"unknown attribute", "colour = 1\nqueue \"a\" {}", `bad.hcl:1,1-7: Unsupported argument; An argument named "colour" is not expected here.`},
		{"unknown block", "queue \"a\" {}\nfoo {}", `bad.hcl:2,1-4: Unsupported block type`},
		{"bad duration", "history = \"soon\"\nqueue \"a\" {}", `bad.hcl:1,11-17: Invalid history; invalid duration "soon"`},
		{"share too big", "sessions {\n  survey_share = 2\n}\nqueue \"a\" {}", "bad.hcl:2,18-19: Invalid survey_share; expected survey_share between 0 and 1, got 2"},
		{"wrong type", "seed = \"x\"\nqueue \"a\" {}", "bad.hcl:1,8-11: Invalid seed; expected number for seed"},
		{"no queues", "seed = 1", "No queues"},
		{"unknown parent", "queue \"a/b\" {}", `bad.hcl:1,1-12: Unknown parent queue; queue "a/b" is a sub-queue of "a", which is not declared`},
		{"bad queue id", "queue \"A b\" {}", "Invalid queue id"},
		{"duplicate queue", "queue \"a\" {}\nqueue \"a\" {}", `Duplicate queue; queue "a" is declared twice`},
		{"agents unknown queue", "queue \"a\" {}\nagents \"x\" {\n  queues = [\"b\"]\n}", `bad.hcl:3,12-17: Unknown queue; agents "x" serve "b": no such queue`},
		{"route unknown queue", "queue \"a\" {\n  route {\n    field = \"f\"\n    equals = \"v\"\n    to = \"z\"\n  }\n}", `bad.hcl:5,10-13: Unknown queue; route to "z": no such queue`},
		{"profile length", "queue \"a\" {\n  profile = [1, 2]\n}", "bad.hcl:2,13-19: Invalid profile; expected 24 hourly factors, got 2"},
		{"negative profile", "queue \"a\" {\n  profile = [-1]\n}", "expected factors of 0 or more"},
		{"max sessions", "queue \"a\" {}\nagents \"x\" {\n  queues = [\"a\"]\n  max_sessions = 0\n}", "bad.hcl:4,18-19: Invalid max_sessions; expected max_sessions between 1 and 20, got 0"},
		{"durations order", "sessions {\n  median_duration = \"10m\"\n  p90_duration = \"5m\"\n}\nqueue \"a\" {}", "Invalid session durations"},
		{"recording sizes", "sessions {\n  recording_min_bytes = 5000\n  recording_max_bytes = 100\n}\nqueue \"a\" {}", "Invalid recording sizes"},
		{"start", "start = \"monday\"\nqueue \"a\" {}", "bad.hcl:1,9-17: Invalid start; expected an RFC 3339 time"},
		{"zero shift", "shifts {\n  length = \"1ns\"\n  off = \"0s\"\n}\nqueue \"a\" {}", "bad.hcl:1,1-7: Invalid shifts; expected a shift length of at least 1m, got 1ns"},
		{"zero break", "shifts {\n  break_every = \"10m\"\n  break_length = \"0s\"\n}\nqueue \"a\" {}", "break_length of at least 1s"},
		{"fault rate", "faults {\n  error_rate = 1.5\n}\nqueue \"a\" {}", "bad.hcl:2,16-19: Invalid error_rate; expected error_rate between 0 and 1, got 1.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.src), "bad.hcl")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0", 0, true},
		{"-1h", 0, false},
		{"-2d", 0, false},
		{"d", 0, false},
		{"soon", 0, false},
		{"1e9d", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestDefaultScenario(t *testing.T) {
	sc := DefaultScenario(8, 6)
	var ids []string
	for _, q := range sc.Queues {
		ids = append(ids, q.ID)
	}
	if got := strings.Join(ids, " "); got != "support sales support/printers sales/printers support/network sales/network" {
		t.Fatalf("queues: %s", got)
	}
	n := 0
	for _, g := range sc.Agents {
		n += g.Count
		for _, q := range g.Queues {
			found := false
			for _, id := range ids {
				found = found || id == q
			}
			if !found {
				t.Fatalf("group %s serves unknown %s", g.Name, q)
			}
		}
	}
	if n != 8 {
		t.Fatalf("%d agents, want 8", n)
	}
}
