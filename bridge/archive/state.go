package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Checkpoint is how far a sync got, kept in sync_state under its name so
// that an interrupted sync resumes where it stopped.
type Checkpoint struct {
	Name  string
	Since time.Time // the range synced (zero when not a range)
	Until time.Time
	// Cursor is the source's page cursor after the last page archived
	// whole; empty: start at Since.
	Cursor string
	// At is the end time up to which every session is archived.
	At          time.Time
	Done, Total int64
	UpdatedAt   time.Time
}

// Checkpoint reads the checkpoint called name; ok is false when there is none.
func (s *Store) Checkpoint(ctx context.Context, name string) (c Checkpoint, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, s.d.q("SELECT name, range_since, range_until, page_cursor, checkpoint, done, total, updated_at FROM sync_state WHERE name = ?"), name).
		Scan(&c.Name, dbTime{&c.Since}, dbTime{&c.Until}, &c.Cursor, dbTime{&c.At}, &c.Done, &c.Total, dbTime{&c.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("archive: read checkpoint %q: %w", name, err)
	}
	return c, true, nil
}

// SaveCheckpoint writes c, replacing the checkpoint of the same name.
func (s *Store) SaveCheckpoint(ctx context.Context, c Checkpoint) error {
	if c.Name == "" {
		return errors.New("archive: a checkpoint needs a name, got none")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("archive: save checkpoint %q: %w", c.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.d.q("DELETE FROM sync_state WHERE name = ?"), c.Name); err != nil {
		return fmt.Errorf("archive: save checkpoint %q: %w", c.Name, err)
	}
	d := s.d
	if _, err := tx.ExecContext(ctx, d.q("INSERT INTO sync_state (name, range_since, range_until, page_cursor, checkpoint, done, total, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
		c.Name, d.nt(c.Since), d.nt(c.Until), c.Cursor, d.nt(c.At), c.Done, c.Total, d.t(time.Now())); err != nil {
		return fmt.Errorf("archive: save checkpoint %q: %w", c.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive: save checkpoint %q: %w", c.Name, err)
	}
	return nil
}

// DeleteCheckpoint removes the checkpoint called name, if any.
func (s *Store) DeleteCheckpoint(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, s.d.q("DELETE FROM sync_state WHERE name = ?"), name); err != nil {
		return fmt.Errorf("archive: delete checkpoint %q: %w", name, err)
	}
	return nil
}
