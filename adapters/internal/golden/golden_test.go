package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLineDiff(t *testing.T) {
	tests := []struct {
		want, got, contains string
	}{
		{"a\nb\n", "a\nb\n", "(no difference)"},
		{"a\nb\n", "a\nc\n", "line 2:\nwant \"b\"\ngot  \"c\""},
		{"a\n", "a\nb\n", "line 2:\nwant \"\"\ngot  \"b\""},
		{"a\nb", "a", "line 2:\nwant \"b\"\ngot  \"(end)\""},
	}
	for _, tc := range tests {
		if d := LineDiff(tc.want, tc.got); !strings.Contains(d, tc.contains) {
			t.Errorf("LineDiff(%q, %q) = %q, want it to contain %q", tc.want, tc.got, d, tc.contains)
		}
	}
}

// recorder is a testing.TB that records a failure instead of stopping.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
}

func TestCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "case.txt")
	Compare(t, path, "one\n", true) // writes, then matches
	if b, err := os.ReadFile(path); err != nil || string(b) != "one\n" {
		t.Fatalf("%q %v", b, err)
	}
	r := &recorder{TB: t}
	Compare(r, path, "two\n", false)
	if !strings.Contains(r.failed, "differs") {
		t.Fatalf("a different transcript passed: %q", r.failed)
	}
}
