package archive

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxRowsPerStatement bounds a multi-row INSERT, so that one statement of
// whole records stays well under MySQL's max_allowed_packet.
const maxRowsPerStatement = 500

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q rewrites ? placeholders for the dialect.
func (d dialect) q(query string) string {
	if !d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for i := range len(query) {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// placeholders is "(?,?,…)" rows times, numbered for PostgreSQL.
func (d dialect) placeholders(cols, rows int) string {
	var b strings.Builder
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteByte(',')
			}
			n++
			if d.dollar {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// insert writes rows into table in as few statements as the limits allow.
func (d dialect) insert(ctx context.Context, q querier, table string, cols []string, rows [][]any) error {
	per := min(d.maxParams/len(cols), maxRowsPerStatement)
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	for len(rows) > 0 {
		n := min(per, len(rows))
		args := make([]any, 0, n*len(cols))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := q.ExecContext(ctx, head+d.placeholders(len(cols), n), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// inList runs f with "(?,?,…)" for each chunk of ids.
func (d dialect) inList(ids []string, f func(in string, args []any) error) error {
	per := min(d.maxParams, 1000)
	for len(ids) > 0 {
		n := min(per, len(ids))
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		var b strings.Builder
		b.WriteByte('(')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
		if err := f(b.String(), args); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// sqliteTime is how SQLite keeps times: fixed-width RFC 3339 in UTC with
// milliseconds, which sorts as time does.
const sqliteTime = "2006-01-02T15:04:05.000Z07:00"

// t is a time as the dialect stores it. Every dialect keeps milliseconds.
func (d dialect) t(v time.Time) any {
	v = v.UTC().Truncate(time.Millisecond)
	if d.name == DriverSQLite {
		return v.Format(sqliteTime)
	}
	return v
}

// nt is t for a time that may be absent (NULL).
func (d dialect) nt(v time.Time) any {
	if v.IsZero() {
		return nil
	}
	return d.t(v)
}

// dbTime scans a time from any dialect: a time.Time, or text in
// sqliteTime or MySQL's format; NULL is the zero time.
type dbTime struct{ t *time.Time }

func (s dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*s.t = time.Time{}
		return nil
	case time.Time:
		*s.t = x.UTC()
		return nil
	case []byte:
		return s.parse(string(x))
	case string:
		return s.parse(x)
	}
	return fmt.Errorf("archive: expected a time, got %T", v)
}

func (s dbTime) parse(x string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05.999999999-07:00"} {
		if t, err := time.Parse(layout, x); err == nil {
			*s.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("archive: expected a time, got %q", x)
}
