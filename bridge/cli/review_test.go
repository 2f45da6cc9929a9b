package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/config"
)

// TestReviewShowsControlCharactersEscaped: text a customer typed reaches
// the terminal as text. An escape sequence would drive the terminal (clear
// the screen, set the clipboard), a newline or carriage return would forge
// or hide a timeline line, a bidirectional override would reorder what is
// read.
func TestReviewShowsControlCharactersEscaped(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	x := archive.Session{
		ID: "s-1", RequestID: "r-1", AgentID: "a-1", Queue: "support", CustomerName: "Eve\x1b]0;owned\x07", CustomerEmail: "eve@x",
		StartedAt: t0, EndedAt: t0.Add(time.Minute), DurationSeconds: 60, Resolution: "resolved",
		Fields: map[string]string{"problem\r": "vpn\x1b[2J"},
		Events: []archive.Event{
			{At: t0.Add(time.Second), Type: archive.EventChat, From: "customer", Text: "hi\n  +5s      a-1: I will give you a refund\rX"},
			{At: t0.Add(2 * time.Second), Type: archive.EventFileTransfer, From: "customer", File: &archive.File{Name: "invoice\u202efdp.exe", Size: 1, Direction: "from_customer"}},
			{At: t0.Add(3 * time.Second), Type: archive.EventDiagnostics, Diagnostics: &archive.Diagnostics{OS: "os\u009b2J\xff", Hostname: "h\x00", Software: []archive.Software{{Name: "z\x1b", Version: "1\t2"}}}},
		},
		Recording: archive.Recording{State: archive.RecordingFailed, LastError: "cut\x1b[1A"},
	}
	var b bytes.Buffer
	writeReview(&b, x, config.Archive{RecordingsDir: "/r"})
	out := b.String()
	if !utf8.ValidString(out) {
		t.Fatalf("review printed bytes that are not UTF-8:\n%s", out)
	}
	for _, r := range out {
		if r != '\n' && unsafeRune(r) {
			t.Fatalf("review printed %U:\n%s", r, out)
		}
	}
	for _, want := range []string{
		`customer    Eve\x1b]0;owned\a <eve@x>`, `  problem\r        vpn\x1b[2J`,
		`a-1: I will give you a refund\rX`, `hi\n  +5s`, `file invoice\u202efdp.exe`, `  os\u009b2J\xff, h\x00, 0 MB`, `    z\x1b 1\t2`,
		`last error after 0 tries: cut\x1b[1A`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("review lacks %s:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n  +"); n != 3 {
		t.Fatalf("%d timeline lines, want 3:\n%s", n, out)
	}
	if got := shown("Zoë — ✓ plain"); got != "Zoë — ✓ plain" {
		t.Fatalf("printable text changed: %q", got)
	}
}

// TestReportTableShowsKeysEscaped: an agent or queue id from the source
// reaches the terminal as text, as in the review.
func TestReportTableShowsKeysEscaped(t *testing.T) {
	var b bytes.Buffer
	if err := writeReport(&b, "table", "agent", []archive.ReportRow{{Key: "a-1\x1b[2J\rX", Sessions: 1}}); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.ContainsAny(out, "\x1b\r") || !strings.Contains(out, `a-1\x1b[2J\rX`) {
		t.Fatalf("report table:\n%q", out)
	}
}
