package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/sessions"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-11-01T08:30:00Z":      time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC),
		"2026-11-01T08:30:00+01:00": time.Date(2026, 11, 1, 7, 30, 0, 0, time.UTC),
		"2026-11-01":                time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"24h":                       now.Add(-24 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"7d":                        now.Add(-7 * 24 * time.Hour),
		"0s":                        now,
		"0d":                        now,
	} {
		got, err := parseWhen("--since", in, now)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%q: %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "-5h", "7 d", "2026-13-01", "1.5d"} {
		_, err := parseWhen("--since", in, now)
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), `--since: expected RFC 3339 (2026-11-01T08:00:00Z), a date (2026-11-01) or a duration back from now (24h, 7d), got "`+in+`"`) || !asUsage(err, &ue) {
			t.Errorf("%q: %v; want a usage error naming it", in, err)
		}
	}
}

func asUsage(err error, ue *usageError) bool {
	u, ok := err.(usageError)
	*ue = u
	return ok
}

func TestProgressLine(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	now := start.Add(10 * time.Second)
	for _, tc := range []struct {
		p    sessions.Progress
		bar  bool
		want string
	}{
		{sessions.Progress{Done: 250, Total: 1000, Start: start}, false, "sessions 250/1000  25% 25/s ETA 30s"},
		{sessions.Progress{Done: 0, Total: 1000, Start: start}, false, "sessions 0/1000   0% 0/s ETA ?"},
		{sessions.Progress{Done: 600, Resumed: 500, Total: 1000, Failed: 2, Start: start}, false, "sessions 600/1000  60% 10/s ETA 40s (2 failed)"},
		{sessions.Progress{Done: 0, Total: 0, Start: start}, false, "sessions 0/0 100% 0/s ETA 0s"},
		{sessions.Progress{Done: 500, Total: 1000, Start: start}, true, "[" + strings.Repeat("#", 25) + strings.Repeat("-", 25) + "] 500/1000  50% 50/s ETA 10s"},
	} {
		if got := progressLine(tc.p, now, 80, tc.bar); got != tc.want {
			t.Errorf("progressLine(%+v)\n got %q\nwant %q", tc.p, got, tc.want)
		}
	}
	var b bytes.Buffer
	p := newProgress(&b) // not a terminal: plain lines
	p.update(sessions.Progress{Done: 1, Total: 2, Start: start})
	p.update(sessions.Progress{Done: 1, Total: 2, Start: start}) // within 2 s: not repeated
	p.update(sessions.Progress{Done: 2, Total: 2, Start: start}) // the last one always
	p.finish(sessions.Progress{Done: 2, Total: 2, Start: start})
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 2 || strings.Contains(b.String(), "\r") {
		t.Fatalf("plain output %q", b.String())
	}
}

// archived makes an archive with three sessions, for report and review.
func archived(t *testing.T) (string, config.Archive) {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "b.hcl")
	writeFile(t, cfgFile, `data_dir = "`+filepath.Join(dir, "data")+`"`+"\n")
	ac := config.DefaultArchive().Resolved(filepath.Join(dir, "data"))
	st, err := archive.Open(context.Background(), ac.Driver, ac.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	mk := func(id, agent string, dur int, res string, rating int) archive.Session {
		s := archive.Session{ID: id, RequestID: "r-" + id, AgentID: agent, Queue: "support", CustomerName: "Ada Costa", CustomerEmail: "ada@customer.example",
			StartedAt: t0, EndedAt: t0.Add(time.Duration(dur) * time.Second), DurationSeconds: float64(dur), Resolution: res,
			Fields: map[string]string{"problem": "vpn", "serial_number": "SN-1"},
			Events: []archive.Event{
				{At: t0.Add(5 * time.Second), Type: archive.EventDiagnostics, Diagnostics: &archive.Diagnostics{OS: "macOS 15.1", Hostname: "mac-1", MemoryMB: 8192, Software: []archive.Software{{Name: "Zoom", Version: "6.0"}}}},
				{At: t0.Add(65 * time.Second), Type: archive.EventChat, From: agent, Text: "Hello"},
				{At: t0.Add(70 * time.Second), Type: archive.EventFileTransfer, From: "customer", File: &archive.File{Name: "log.zip", Size: 2048, Direction: "from_customer"}},
				{At: t0.Add(80 * time.Second), Type: archive.EventReboot, From: agent, Text: "remote reboot"},
				{At: t0.Add(90 * time.Second), Type: archive.EventTransfer, From: agent, To: "a-9", Text: "tier 2"},
			},
			Recording: archive.Recording{Size: 10, SHA256: strings.Repeat("0", 64), Path: "2026/11/02/" + id + ".rec", State: archive.RecordingStored},
		}
		if rating > 0 {
			s.Survey = &archive.Survey{Rating: rating, Comment: "fine"}
		}
		return s
	}
	if err := st.Put(context.Background(), []archive.Session{
		mk("s-1", "a-1", 100, "resolved", 5), mk("s-2", "a-1", 300, "unresolved", 1), mk("s-3", "a-2", 200, "resolved", 0),
	}); err != nil {
		t.Fatal(err)
	}
	return cfgFile, ac
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestReportFormats(t *testing.T) {
	cfg, _ := archived(t)
	base := []string{"report", "--config", cfg, "--since", "2026-11-01", "--until", "2026-11-03"}
	code, out, errs := run(append(base, "--by", "agent", "--format", "csv")...)
	want := "agent,sessions,median_duration_s,p90_duration_s,resolution_rate,rated,average_rating,negative_ratings\n" +
		"a-1,2,200.0,280.0,0.5000,2,3.00,1\n" +
		"a-2,1,200.0,200.0,1.0000,0,0.00,0\n"
	if code != 0 || out != want {
		t.Fatalf("csv: %d %q %s\nwant %q", code, out, errs, want)
	}
	code, out, _ = run(append(base, "--by", "day", "--format", "json")...)
	var js struct {
		By   string              `json:"by"`
		Rows []archive.ReportRow `json:"rows"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || js.By != "day" || len(js.Rows) != 1 || js.Rows[0].Key != "2026-11-02" || js.Rows[0].Sessions != 3 || js.Rows[0].NegativeRatings != 1 {
		t.Fatalf("json: %d %s", code, out)
	}
	code, out, _ = run(append(base, "--by", "queue")...)
	if code != 0 || !strings.Contains(out, "support") || !strings.Contains(out, "3m20s") || !strings.Contains(out, "66.7%") || !strings.HasSuffix(out, "3 sessions in 1 groups\n") {
		t.Fatalf("table: %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--by", "month"}, `--by: expected agent, queue or day, got "month"`},
		{[]string{"--by", "agent", "--format", "xml"}, `--format: expected table, csv or json, got "xml"`},
		{[]string{"--by", "agent", "--since", "2026-11-05"}, "expected --since"},
	} {
		code, _, errs := run(append(base, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errs, tc.msg)
		}
	}
}

func TestReview(t *testing.T) {
	cfg, ac := archived(t)
	code, out, errs := run("review", "--config", cfg, "s-2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"session     s-2 (request r-s-2)", "agent       a-1", "customer    Ada Costa <ada@customer.example>",
		"time        2026-11-02 09:00:00Z to 2026-11-02 09:05:00Z (5m0s)", "resolution  unresolved",
		"  problem          vpn", "  +5s      diagnostics taken", "  +1m5s    a-1: Hello",
		"  +1m10s   file log.zip (2048 bytes, from customer) by customer", "  +1m20s   reboot by a-1 remote reboot",
		"  +1m30s   transfer from a-1 to a-9: tier 2", "  macOS 15.1, mac-1, 8192 MB", "    Zoom 6.0",
		"  rating 1/5: \"fine\"", filepath.Join(ac.RecordingsDir, "2026", "11", "02", "s-2.rec"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("review lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ := run("review", "--config", cfg, "s-3"); code != 0 || !strings.Contains(out, "(not answered)") {
		t.Fatalf("s-3: %d\n%s", code, out)
	}
	code, _, errs = run("review", "--config", cfg, "s-404")
	if code != 1 || !strings.Contains(errs, "session s-404 is not in the archive") || !strings.Contains(errs, "acdbridge sessions sync") {
		t.Fatalf("unknown session: %d %q", code, errs)
	}
	if code, _, _ := run("review", "--config", cfg); code != 2 {
		t.Fatalf("no id: exit %d", code)
	}
}

func TestSessionsSyncUsage(t *testing.T) {
	cfg, _ := archived(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"sessions", "sync", "--config", cfg}, `required flag(s) "since" not set`},
		{[]string{"sessions", "sync", "--config", cfg, "--since", "100d"}, "older than the source's 90-day retention"},
		{[]string{"sessions", "sync", "--config", cfg, "--since", "91d"}, "older than the source's 90-day retention"},
		// 90d is the whole retention: clamped, then refused for want of a source.
		{[]string{"sessions", "sync", "--config", cfg, "--since", "90d"}, "give a --config with a source block"},
		{[]string{"sessions", "sync", "--config", cfg, "--since", "1d", "--until", "2d"}, "expected --since"},
		{[]string{"sessions", "sync", "--config", cfg, "--since", "1d"}, "give a --config with a source block"},
		{[]string{"sessions", "sync", "--config", cfg, "--since", "soon"}, `--since: expected RFC 3339`},
	} {
		code, _, errs := run(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errs, tc.msg)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseWhen: any flag value gives a UTC time or a usage error naming
// the flag; never a panic.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"2026-11-01T08:30:00Z", "2026-11-01", "24h", "7d", "0s", "-1h", "99999999d", "1e400h", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen("--since", s, now)
		if err != nil {
			var ue usageError
			if !asUsage(err, &ue) || !strings.HasPrefix(err.Error(), "--since: expected") {
				t.Fatalf("%q: %v is not a usage error naming the flag", s, err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q: %s is not in UTC", s, got)
		}
	})
}
