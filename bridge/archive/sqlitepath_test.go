package archive

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSQLitePathWithURIMarks: a data_dir with ?, # or % in its name gets
// the archive at exactly the path given, not at a truncated or decoded one
// (SQLite reads the DSN as a file: URI).
func TestSQLitePathWithURIMarks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site #2?x=1 100%41")
	path := filepath.Join(dir, "archive.db")
	st, err := Open(context.Background(), DriverSQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), []Session{base("s-1")}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := os.Stat(path); err != nil {
		entries, _ := os.ReadDir(filepath.Dir(dir))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("no archive at %s (%v); the folder holds %q", path, err, names)
	}
}
