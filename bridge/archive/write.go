package archive

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The columns of each table, in insert order.
var (
	sessionCols   = []string{"id", "request_id", "agent_id", "queue", "external_ref", "customer_name", "customer_email", "started_at", "ended_at", "duration", "resolution", "replay_url", "raw", "archived_at"}
	fieldCols     = []string{"session_id", "name", "value"}
	eventCols     = []string{"session_id", "seq", "occurred_at", "type", "from_party", "to_party", "content", "file_name", "file_size", "file_direction", "diag_os", "diag_hostname", "diag_memory_mb", "diag_software"}
	surveyCols    = []string{"session_id", "rating", "comment"}
	recordingCols = []string{"session_id", "size", "sha256", "url", "path", "state", "attempts", "last_error", "updated_at"}
)

// childTables hold rows per session, deleted before a session is written again.
var childTables = []string{"session_fields", "session_events", "surveys", "recordings", "sessions"}

// Put archives sessions in one transaction: each replaces what the archive
// held under its id (fields, events and survey included), so archiving a
// session twice leaves it once. A session's recording keeps its state and
// path when its sha256 did not change and the new value says nothing of
// its state (State empty). Every session is validated first: one invalid
// session fails the batch and nothing is written.
func (s *Store) Put(ctx context.Context, sessions []Session) error {
	if len(sessions) == 0 {
		return nil
	}
	// The last value of an id wins, as a second Put would.
	byID := make(map[string]int, len(sessions))
	for i := range sessions {
		if err := sessions[i].Validate(); err != nil {
			return fmt.Errorf("archive: %w; nothing of this batch of %d was written", err, len(sessions))
		}
		byID[sessions[i].ID] = i
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := time.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("archive: begin: %w", err)
	}
	defer tx.Rollback()

	old, err := s.recordings(ctx, tx, ids)
	if err != nil {
		return err
	}
	d := s.d
	for _, table := range childTables {
		col := "session_id"
		if table == "sessions" {
			col = "id"
		}
		if err := d.inList(ids, func(in string, args []any) error {
			_, err := tx.ExecContext(ctx, d.q("DELETE FROM "+table+" WHERE "+col+" IN "+in), args...)
			return err
		}); err != nil {
			return fmt.Errorf("archive: replace earlier copies in %s: %w", table, err)
		}
	}
	var sRows, fRows, eRows, qRows, rRows [][]any
	for _, id := range ids {
		x := &sessions[byID[id]]
		raw := x.Raw
		if len(raw) == 0 {
			raw = []byte("{}")
		}
		sRows = append(sRows, []any{x.ID, x.RequestID, x.AgentID, x.Queue, x.ExternalRef, x.CustomerName, x.CustomerEmail,
			d.t(x.StartedAt), d.t(x.EndedAt), x.DurationSeconds, x.Resolution, x.ReplayURL, string(raw), d.t(now)})
		for _, k := range sortedKeys(x.Fields) {
			fRows = append(fRows, []any{x.ID, k, x.Fields[k]})
		}
		for i, e := range x.Events {
			row := []any{x.ID, i, d.t(e.At), e.Type, e.From, e.To, e.Text, nil, nil, nil, nil, nil, nil, nil}
			if f := e.File; f != nil {
				row[7], row[8], row[9] = f.Name, f.Size, f.Direction
			}
			if g := e.Diagnostics; g != nil {
				sw := g.Software
				if sw == nil {
					sw = []Software{}
				}
				js, err := json.Marshal(sw)
				if err != nil {
					return fmt.Errorf("archive: session %q: software list: %w", x.ID, err)
				}
				row[10], row[11], row[12], row[13] = g.OS, g.Hostname, g.MemoryMB, string(js)
			}
			eRows = append(eRows, row)
		}
		if v := x.Survey; v != nil {
			qRows = append(qRows, []any{x.ID, v.Rating, v.Comment})
		}
		r := x.Recording
		if o, ok := old[x.ID]; ok && o.SHA256 == r.SHA256 && r.State == "" {
			r.Path, r.State, r.Attempts, r.LastError = o.Path, o.State, o.Attempts, o.LastError
		}
		if r.State == "" {
			r.State = RecordingPending
		}
		rRows = append(rRows, []any{x.ID, r.Size, r.SHA256, r.URL, r.Path, string(r.State), r.Attempts, r.LastError, d.t(now)})
	}
	for _, t := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"sessions", sessionCols, sRows},
		{"session_fields", fieldCols, fRows},
		{"session_events", eventCols, eRows},
		{"surveys", surveyCols, qRows},
		{"recordings", recordingCols, rRows},
	} {
		if err := d.insert(ctx, tx, t.table, t.cols, t.rows); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive: commit %d sessions: %w", len(ids), err)
	}
	for _, id := range ids {
		sessions[byID[id]].ArchivedAt = now
	}
	return nil
}

// recordings reads the recording rows of ids.
func (s *Store) recordings(ctx context.Context, q querier, ids []string) (map[string]Recording, error) {
	out := map[string]Recording{}
	err := s.d.inList(ids, func(in string, args []any) error {
		rows, err := q.QueryContext(ctx, s.d.q("SELECT session_id, size, sha256, url, path, state, attempts, last_error FROM recordings WHERE session_id IN "+in), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var r Recording
			if err := rows.Scan(&id, &r.Size, &r.SHA256, &r.URL, &r.Path, &r.State, &r.Attempts, &r.LastError); err != nil {
				return err
			}
			out[id] = r
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("archive: read recordings: %w", err)
	}
	return out, nil
}

// SetRecording records where a session's recording stands (after a
// download, good or failed). The session must be archived.
func (s *Store) SetRecording(ctx context.Context, id string, r Recording) error {
	switch r.State {
	case RecordingPending, RecordingStored, RecordingFailed:
	default:
		return fmt.Errorf("archive: recording of %q: expected state pending, stored or failed, got %q", id, r.State)
	}
	res, err := s.db.ExecContext(ctx, s.d.q("UPDATE recordings SET path = ?, state = ?, attempts = ?, last_error = ?, updated_at = ? WHERE session_id = ?"),
		r.Path, string(r.State), r.Attempts, r.LastError, s.d.t(time.Now()), id)
	if err != nil {
		return fmt.Errorf("archive: recording of %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		// MySQL counts changed rows only; tell "unchanged" from "absent".
		var one int
		if err := s.db.QueryRowContext(ctx, s.d.q("SELECT 1 FROM recordings WHERE session_id = ?"), id).Scan(&one); err == sql.ErrNoRows {
			return fmt.Errorf("archive: recording of %q: session %w", id, ErrNotFound)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
