package archive

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Enqueue notes sessions to hand on (session_outbox): a syncer enqueues
// the sessions it archives for the first time before it archives them, and
// the runtime dequeues each once the bus took it, so that a crash between
// the two does not lose the session's publication. Enqueuing an id again
// is harmless.
func (s *Store) Enqueue(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("archive: outbox: begin: %w", err)
	}
	defer tx.Rollback()
	if err := s.d.inList(ids, func(in string, args []any) error {
		_, err := tx.ExecContext(ctx, s.d.q("DELETE FROM session_outbox WHERE session_id IN "+in), args...)
		return err
	}); err != nil {
		return fmt.Errorf("archive: outbox: %w", err)
	}
	now := s.d.t(time.Now())
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{id, now}
	}
	if err := s.d.insert(ctx, tx, "session_outbox", []string{"session_id", "queued_at"}, rows); err != nil {
		return fmt.Errorf("archive: outbox: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive: outbox: commit: %w", err)
	}
	return nil
}

// Dequeue removes sessions handed on from the outbox; ids not there are
// ignored.
func (s *Store) Dequeue(ctx context.Context, ids []string) error {
	err := s.d.inList(ids, func(in string, args []any) error {
		_, err := s.db.ExecContext(ctx, s.d.q("DELETE FROM session_outbox WHERE session_id IN "+in), args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive: outbox: %w", err)
	}
	return nil
}

// Queued lists the sessions in the outbox, oldest first.
func (s *Store) Queued(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT session_id FROM session_outbox ORDER BY queued_at, session_id")
	if err != nil {
		return nil, fmt.Errorf("archive: outbox: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("archive: outbox: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
