package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Session is one ended session's whole record, as archived.
type Session struct {
	ID              string
	RequestID       string
	AgentID         string
	Queue           string
	ExternalRef     string // empty when the session has none
	CustomerName    string
	CustomerEmail   string
	StartedAt       time.Time
	EndedAt         time.Time
	DurationSeconds float64
	Resolution      string // resolved or unresolved
	ReplayURL       string
	Fields          map[string]string
	Events          []Event // in the order of the record
	Survey          *Survey // nil: the customer did not answer
	Recording       Recording
	// Raw is the record as the source sent it (JSON), kept byte for byte.
	Raw        []byte
	ArchivedAt time.Time // set by Put
}

// Event is one entry of a session's timeline. Type says which fields are
// set: chat has From and Text; file_transfer From and File; diagnostics
// Diagnostics; reboot From (and Text); transfer From, To and Text.
type Event struct {
	At          time.Time
	Type        string
	From, To    string
	Text        string
	File        *File
	Diagnostics *Diagnostics
}

// The event types of the Remote Support API v1.
const (
	EventChat         = "chat"
	EventFileTransfer = "file_transfer"
	EventDiagnostics  = "diagnostics"
	EventReboot       = "reboot"
	EventTransfer     = "transfer"
)

// File is a file transfer.
type File struct {
	Name      string
	Size      int64
	Direction string // to_customer or from_customer
}

// Diagnostics is what remote diagnostics read off the customer's computer.
type Diagnostics struct {
	OS       string
	Hostname string
	MemoryMB int
	Software []Software
}

// Software is one installed program.
type Software struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Survey is the customer's rating, 1 to 5.
type Survey struct {
	Rating  int
	Comment string
}

// Recording is a session's recording: what the source says of it, and
// where it stands in the recordings folder.
type Recording struct {
	Size   int64
	SHA256 string // lower-case hex
	URL    string
	// Path is the file under the recordings folder, relative to it
	// (2026/11/01/s-….rec); empty until stored.
	Path      string
	State     RecordingState
	Attempts  int    // downloads tried
	LastError string // why the last one failed
}

// RecordingState is where a recording stands.
type RecordingState string

// The recording states.
const (
	RecordingPending RecordingState = "pending" // not downloaded yet
	RecordingStored  RecordingState = "stored"  // in the folder, checksum verified
	RecordingFailed  RecordingState = "failed"  // the last download failed (LastError); retried
)

// Validate checks what the archive relies on; the error says what was
// expected and what came.
func (s *Session) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("session %q: "+format, append([]any{s.ID}, args...)...)
	}
	switch {
	case s.ID == "":
		return errors.New("session: expected a non-empty id, got none")
	case s.AgentID == "":
		return bad("agent_id: expected an agent id, got none")
	case s.Queue == "":
		return bad("queue: expected a queue id, got none")
	case s.StartedAt.IsZero() || s.EndedAt.IsZero():
		return bad("expected started_at and ended_at, got %s and %s", s.StartedAt, s.EndedAt)
	case s.EndedAt.Before(s.StartedAt):
		return bad("ended_at %s is before started_at %s", s.EndedAt.Format(time.RFC3339Nano), s.StartedAt.Format(time.RFC3339Nano))
	case s.Resolution != "resolved" && s.Resolution != "unresolved":
		return bad("resolution: expected resolved or unresolved, got %q", s.Resolution)
	case s.Survey != nil && (s.Survey.Rating < 1 || s.Survey.Rating > 5):
		return bad("survey.rating: expected 1 to 5, got %d", s.Survey.Rating)
	case s.Recording.Size < 0:
		return bad("recording.size: expected 0 or more bytes, got %d", s.Recording.Size)
	case !isSHA256(s.Recording.SHA256):
		return bad("recording.sha256: expected 64 lower-case hex digits, got %q", s.Recording.SHA256)
	case s.DurationSeconds < 0:
		return bad("duration_seconds: expected 0 or more, got %g", s.DurationSeconds)
	}
	switch s.Recording.State {
	case "", RecordingPending, RecordingStored, RecordingFailed:
	default:
		return bad("recording state: expected pending, stored or failed, got %q", s.Recording.State)
	}
	if err := s.portable(); err != nil {
		return bad("%v", err)
	}
	for i, e := range s.Events {
		switch e.Type {
		case EventChat, EventFileTransfer, EventDiagnostics, EventReboot, EventTransfer:
		default:
			return bad("events[%d].type: expected chat, file_transfer, diagnostics, reboot or transfer, got %q", i, e.Type)
		}
		if e.At.IsZero() {
			return bad("events[%d].at: expected a time, got none", i)
		}
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// The bounds every dialect keeps: MySQL's keys are VARCHAR(191)
// (characters; external_ref 256) and its TEXT columns 65,535 bytes; PostgreSQL's text takes
// no NUL; INT is 32 bits in PostgreSQL and MySQL; SQLite's fixed-width
// times sort only for years 0001 to 9999 (MySQL's DATETIME from 1000).
const (
	maxKeyChars    = 191
	maxExternalRef = 256 // the source's bound (256 bytes)
	maxTextSize    = 65535
)

// portable checks that the session fits every dialect's columns, so that
// what SQLite keeps PostgreSQL and MySQL keep alike, and a record none
// would keep is refused alone instead of failing its whole batch.
func (s *Session) portable() error {
	keyOf := func(name, v string, max int) error {
		if n := utf8.RuneCountInString(v); n > max {
			return fmt.Errorf("%s: expected at most %d characters, got %d", name, max, n)
		}
		return text(name, v)
	}
	key := func(name, v string) error { return keyOf(name, v, maxKeyChars) }
	when := func(name string, t time.Time) error {
		if y := t.UTC().Year(); y < 1000 || y > 9999 {
			return fmt.Errorf("%s: expected a time in the years 1000 to 9999, got %s", name, t.UTC().Format(time.RFC3339))
		}
		return nil
	}
	errs := []error{
		key("id", s.ID), key("request_id", s.RequestID), key("agent_id", s.AgentID), key("queue", s.Queue),
		keyOf("external_ref", s.ExternalRef, maxExternalRef), text("customer.name", s.CustomerName), text("customer.email", s.CustomerEmail),
		text("replay_url", s.ReplayURL), text("recording.url", s.Recording.URL),
		when("started_at", s.StartedAt), when("ended_at", s.EndedAt),
	}
	for _, k := range sortedKeys(s.Fields) {
		errs = append(errs, key("fields name", k), text("fields["+truncated(k)+"]", s.Fields[k]))
	}
	if v := s.Survey; v != nil {
		errs = append(errs, text("survey.comment", v.Comment))
	}
	for i, e := range s.Events {
		at := fmt.Sprintf("events[%d]", i)
		errs = append(errs, when(at+".at", e.At), key(at+".from", e.From), key(at+".to", e.To), text(at+".text", e.Text))
		if f := e.File; f != nil {
			errs = append(errs, text(at+".file.name", f.Name))
		}
		if g := e.Diagnostics; g != nil {
			errs = append(errs, text(at+".diagnostics.os", g.OS), text(at+".diagnostics.hostname", g.Hostname))
			if g.MemoryMB < 0 || g.MemoryMB > math.MaxInt32 {
				errs = append(errs, fmt.Errorf("%s.diagnostics.memory_mb: expected 0 to %d, got %d", at, math.MaxInt32, g.MemoryMB))
			}
			// Kept as JSON in one TEXT column (write.go), where \u0000
			// stays escaped.
			if js, err := json.Marshal(g.Software); err != nil {
				errs = append(errs, fmt.Errorf("%s.diagnostics.software: %w", at, err))
			} else if len(js) > maxTextSize {
				errs = append(errs, fmt.Errorf("%s.diagnostics.software: expected at most %d bytes of JSON, got %d", at, maxTextSize, len(js)))
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// text checks a value for a TEXT column.
func text(name, v string) error {
	if len(v) > maxTextSize {
		return fmt.Errorf("%s: expected at most %d bytes, got %d", name, maxTextSize, len(v))
	}
	if strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("%s: expected text without NUL characters (PostgreSQL keeps none), got one at byte %d", name, strings.IndexByte(v, 0))
	}
	return nil
}

func truncated(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
