package archive

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// benchPut archives full sessions (every table: 7 events, 4 fields, a
// survey, a recording row, a 1 KB raw record) in batches of 500, as the
// syncer does, and reports sessions per second.
func benchPut(b *testing.B, st *Store) {
	ctx := context.Background()
	const batch = 500
	sessions := make([]Session, batch)
	raw := make([]byte, 1024)
	for i := range raw {
		raw[i] = 'x'
	}
	n := 0
	b.ResetTimer()
	for b.Loop() {
		for i := range sessions {
			s := base(fmt.Sprintf("s-bench-%09d", n))
			s.Raw = append([]byte(`{"pad":"`), append(raw, `"}`...)...)
			sessions[i] = s
			n++
		}
		if err := st.Put(ctx, sessions); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "sessions/s")
}

func BenchmarkPutSQLite(b *testing.B) {
	st, err := Open(context.Background(), DriverSQLite, filepath.Join(b.TempDir(), "archive.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchPut(b, st)
}
