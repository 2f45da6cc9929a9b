// Package golden compares protocol transcripts with the golden files that
// the adapters keep in their testcases/ folders, byte for byte, and shows
// the first line that differs. Adapters' tests share it; it imports only
// the standard library.
package golden

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Compare fails t unless got equals the file at path byte for byte. With
// update it first writes got to path (a test's -update flag).
func Compare(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("the transcript differs from %s (go test -update rewrites it):\n%s", path, LineDiff(string(want), got))
	}
}

// LineDiff shows the first line where want and got differ, with the five
// lines of want before it; "(no difference)" when they are equal.
func LineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		w, g := "(end)", "(end)"
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			from := max(0, i-5)
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q\ncontext (want):\n%s", i+1, w, g, strings.Join(wl[from:min(i+1, len(wl))], "\n"))
		}
	}
	return "(no difference)"
}
