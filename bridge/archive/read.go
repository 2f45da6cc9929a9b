package archive

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Get reads one archived session, whole. An id the archive does not hold
// is an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Session, error) {
	d := s.d
	var x Session
	var raw string
	err := s.db.QueryRowContext(ctx, d.q("SELECT id, request_id, agent_id, queue, external_ref, customer_name, customer_email, started_at, ended_at, duration, resolution, replay_url, raw, archived_at FROM sessions WHERE id = ?"), id).
		Scan(&x.ID, &x.RequestID, &x.AgentID, &x.Queue, &x.ExternalRef, &x.CustomerName, &x.CustomerEmail,
			dbTime{&x.StartedAt}, dbTime{&x.EndedAt}, &x.DurationSeconds, &x.Resolution, &x.ReplayURL, &raw, dbTime{&x.ArchivedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("session %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("archive: read session %q: %w", id, err)
	}
	x.Raw = []byte(raw)

	x.Fields = map[string]string{}
	rows, err := s.db.QueryContext(ctx, d.q("SELECT name, value FROM session_fields WHERE session_id = ? ORDER BY name"), id)
	if err != nil {
		return Session{}, fmt.Errorf("archive: read fields of %q: %w", id, err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return Session{}, fmt.Errorf("archive: read fields of %q: %w", id, err)
		}
		x.Fields[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Session{}, fmt.Errorf("archive: read fields of %q: %w", id, err)
	}

	rows, err = s.db.QueryContext(ctx, d.q("SELECT occurred_at, type, from_party, to_party, content, file_name, file_size, file_direction, diag_os, diag_hostname, diag_memory_mb, diag_software FROM session_events WHERE session_id = ? ORDER BY seq"), id)
	if err != nil {
		return Session{}, fmt.Errorf("archive: read events of %q: %w", id, err)
	}
	for rows.Next() {
		var e Event
		var fname, fdir, os, host, sw sql.NullString
		var fsize, mem sql.NullInt64
		if err := rows.Scan(dbTime{&e.At}, &e.Type, &e.From, &e.To, &e.Text, &fname, &fsize, &fdir, &os, &host, &mem, &sw); err != nil {
			rows.Close()
			return Session{}, fmt.Errorf("archive: read events of %q: %w", id, err)
		}
		if fname.Valid {
			e.File = &File{Name: fname.String, Size: fsize.Int64, Direction: fdir.String}
		}
		if os.Valid {
			e.Diagnostics = &Diagnostics{OS: os.String, Hostname: host.String, MemoryMB: int(mem.Int64)}
			if err := json.Unmarshal([]byte(sw.String), &e.Diagnostics.Software); err != nil {
				rows.Close()
				return Session{}, fmt.Errorf("archive: session %q: diag_software: expected a JSON list, got %q", id, sw.String)
			}
		}
		x.Events = append(x.Events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Session{}, fmt.Errorf("archive: read events of %q: %w", id, err)
	}

	var sv Survey
	switch err := s.db.QueryRowContext(ctx, d.q("SELECT rating, comment FROM surveys WHERE session_id = ?"), id).Scan(&sv.Rating, &sv.Comment); {
	case err == nil:
		x.Survey = &sv
	case !errors.Is(err, sql.ErrNoRows):
		return Session{}, fmt.Errorf("archive: read survey of %q: %w", id, err)
	}
	recs, err := s.recordings(ctx, s.db, []string{id})
	if err != nil {
		return Session{}, err
	}
	x.Recording = recs[id]
	return x, nil
}

// Known says, for each of ids the archive holds, where its recording
// stands; ids it does not hold are absent from the map.
func (s *Store) Known(ctx context.Context, ids []string) (map[string]RecordingState, error) {
	recs, err := s.recordings(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]RecordingState, len(recs))
	for id, r := range recs {
		out[id] = r.State
	}
	return out, nil
}

// Count is how many sessions the archive holds.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
		return 0, fmt.Errorf("archive: count sessions: %w", err)
	}
	return n, nil
}

// PendingRecording is a recording still to download (pending or failed).
type PendingRecording struct {
	SessionID string
	EndedAt   time.Time
	Recording Recording
}

// PendingRecordings lists up to limit recordings that are not stored yet,
// those tried least first.
func (s *Store) PendingRecordings(ctx context.Context, limit int) ([]PendingRecording, error) {
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT r.session_id, s.ended_at, r.size, r.sha256, r.url, r.path, r.state, r.attempts, r.last_error
		FROM recordings r JOIN sessions s ON s.id = r.session_id
		WHERE r.state <> ? ORDER BY r.attempts, s.ended_at, r.session_id LIMIT ?`), string(RecordingStored), limit)
	if err != nil {
		return nil, fmt.Errorf("archive: list pending recordings: %w", err)
	}
	defer rows.Close()
	var out []PendingRecording
	for rows.Next() {
		var p PendingRecording
		r := &p.Recording
		if err := rows.Scan(&p.SessionID, dbTime{&p.EndedAt}, &r.Size, &r.SHA256, &r.URL, &r.Path, &r.State, &r.Attempts, &r.LastError); err != nil {
			return nil, fmt.Errorf("archive: list pending recordings: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Summary is what reports need of a session.
type Summary struct {
	ID              string
	AgentID         string
	Queue           string
	EndedAt         time.Time
	DurationSeconds float64
	Resolution      string
	Rating          int // 0: no survey
}

// Summaries lists the sessions that ended in [since, until), oldest first.
func (s *Store) Summaries(ctx context.Context, since, until time.Time) ([]Summary, error) {
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT s.id, s.agent_id, s.queue, s.ended_at, s.duration, s.resolution, COALESCE(v.rating, 0)
		FROM sessions s LEFT JOIN surveys v ON v.session_id = s.id
		WHERE s.ended_at >= ? AND s.ended_at < ? ORDER BY s.ended_at, s.id`), s.d.t(since), s.d.t(until))
	if err != nil {
		return nil, fmt.Errorf("archive: list sessions: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var x Summary
		if err := rows.Scan(&x.ID, &x.AgentID, &x.Queue, dbTime{&x.EndedAt}, &x.DurationSeconds, &x.Resolution, &x.Rating); err != nil {
			return nil, fmt.Errorf("archive: list sessions: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}
