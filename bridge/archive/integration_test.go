//go:build integration

package archive

import (
	"context"
	"os"
	"testing"
)

// The store's test table on real servers, started by
// scripts/integration.d/30-sql.sh.

// openFresh opens the archive at the DSN in env after dropping every
// table, so that each test starts from an empty database and the
// migrations run from nothing.
func openFresh(t *testing.T, driver, env string) *Store {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		t.Fatalf("%s is not set: run the integration suite (make integration), which starts the server", env)
	}
	ctx := context.Background()
	st, err := Open(ctx, driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"session_fields", "session_events", "surveys", "recordings", "sync_state", "session_outbox", "sessions", "goose_db_version"} {
		if _, err := st.DB().ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if st, err = Open(ctx, driver, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestStorePostgres(t *testing.T) {
	runStoreSuite(t, func(t *testing.T) *Store { return openFresh(t, DriverPostgres, "ACDBRIDGE_IT_POSTGRES_DSN") })
}

func TestStoreMySQL(t *testing.T) {
	runStoreSuite(t, func(t *testing.T) *Store { return openFresh(t, DriverMySQL, "ACDBRIDGE_IT_MYSQL_DSN") })
}

func BenchmarkPutPostgres(b *testing.B) {
	dsn := os.Getenv("ACDBRIDGE_IT_POSTGRES_DSN")
	if dsn == "" {
		b.Fatal("ACDBRIDGE_IT_POSTGRES_DSN is not set")
	}
	st, err := Open(context.Background(), DriverPostgres, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchPut(b, st)
}

func BenchmarkPutMySQL(b *testing.B) {
	dsn := os.Getenv("ACDBRIDGE_IT_MYSQL_DSN")
	if dsn == "" {
		b.Fatal("ACDBRIDGE_IT_MYSQL_DSN is not set")
	}
	st, err := Open(context.Background(), DriverMySQL, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchPut(b, st)
}
