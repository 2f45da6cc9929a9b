package archive

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func openSQLite(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), DriverSQLite, filepath.Join(t.TempDir(), "sub", "archive.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestStoreSQLite(t *testing.T) { runStoreSuite(t, openSQLite) }

func TestSQLiteIsWAL(t *testing.T) {
	st := openSQLite(t)
	var mode string
	var timeout int
	if err := st.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := st.DB().QueryRow("PRAGMA busy_timeout").Scan(&timeout); err != nil || timeout != 10000 {
		t.Fatalf("busy_timeout = %d, %v; want 10000", timeout, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ driver, dsn, want string }{
		{"oracle", "x", `unknown driver "oracle": expected sqlite, postgres or mysql`},
		{"sqlite", " ", "needs a dsn"},
		{"mysql", "not a dsn", "mysql dsn: expected user:password@tcp(host:port)/database"},
		{"postgres", "postgres://u:p@127.0.0.1:1/db?connect_timeout=1", "archive: connect to postgres"},
	} {
		_, err := Open(ctx, tc.driver, tc.dsn)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s, %q) = %v; want %q", tc.driver, tc.dsn, err, tc.want)
		}
	}
}
