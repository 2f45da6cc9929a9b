package simulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// archive reads every ended session's record, as a client would, into one
// byte string.
func archive(t *testing.T, e *Engine, since, until time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	after := ""
	for {
		page, err := e.Sessions(SessionQuery{Since: since, Until: until, After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Sessions {
			rec, err := e.Session(s.ID)
			if err != nil {
				t.Fatalf("record %s: %v", s.ID, err)
			}
			b, _ := json.Marshal(rec)
			buf.Write(b)
			buf.WriteByte('\n')
		}
		if page.Next == "" {
			return buf.Bytes()
		}
		after = page.Next
	}
}

func runFor(t *testing.T, sc Scenario, d time.Duration) *Engine {
	t.Helper()
	clock := NewManualClock(testStart)
	e, err := NewEngine(sc, clock, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for step := time.Duration(0); step < d; step += 7 * time.Minute {
		clock.Add(7 * time.Minute)
		e.Agents()
	}
	// A phone-mode session too, so that external_ref is covered.
	var on string
	for _, a := range e.Agents().Agents {
		if a.Status != StatusOffline {
			on = a.ID
			break
		}
	}
	c, err := e.CreateCode(NewCode{AgentID: on, ExternalRef: "TICKET-42"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.JoinCode(c.Code, JoinRequest{Name: "Caller"}); err != nil {
		t.Fatal(err)
	}
	clock.Add(9 * time.Hour)
	e.Agents()
	return e
}

func TestSameSeedSameRecords(t *testing.T) {
	sc := DefaultScenario(40, 6)
	sc.Seed = 1234
	sc.History = 6 * time.Hour
	sc.Sessions.RecordingMax = 256 << 10 // hashing 4 MiB recordings would only slow the test
	since, until := testStart.Add(-6*time.Hour), testStart.Add(24*time.Hour)

	a := archive(t, runFor(t, sc, 12*time.Hour), since, until)
	b := archive(t, runFor(t, sc, 12*time.Hour), since, until)
	if n := bytes.Count(a, []byte("\n")); n < 200 {
		t.Fatalf("only %d sessions to compare", n)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("same seed, different records (%d and %d bytes)", len(a), len(b))
	}
	if !bytes.Contains(a, []byte(`"external_ref":"TICKET-42"`)) {
		t.Fatal("the phone-mode session's record does not carry its external_ref")
	}

	sc.Seed = 1235
	c := archive(t, runFor(t, sc, 12*time.Hour), since, until)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same records")
	}
}

func TestRecordingMatchesItsHash(t *testing.T) {
	sc := DefaultScenario(10, 3)
	sc.History = 2 * time.Hour
	sc.Sessions.RecordingMin, sc.Sessions.RecordingMax = 100<<10, 300<<10 // spans several blocks
	e, err := NewEngine(sc, NewManualClock(testStart), 64)
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.Sessions(SessionQuery{Since: testStart.Add(-2 * time.Hour), Until: testStart})
	if err != nil || len(page.Sessions) == 0 {
		t.Fatalf("history: %d sessions, %v", len(page.Sessions), err)
	}
	for _, s := range page.Sessions[:min(5, len(page.Sessions))] {
		rs, rec, err := e.Recording(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, _ := io.Copy(h, rs)
		if n != rec.Recording.Size || hex.EncodeToString(h.Sum(nil)) != rec.Recording.SHA256 {
			t.Fatalf("%s: read %d bytes hashing to %x; record says %d bytes, %s", s.ID, n, h.Sum(nil), rec.Recording.Size, rec.Recording.SHA256)
		}
		// Any slice read after a seek equals the same slice of the whole.
		whole := make([]byte, n)
		rs.Seek(0, io.SeekStart)
		io.ReadFull(rs, whole)
		for _, off := range []int64{0, 1, recordingBlock - 3, recordingBlock, n - 10} {
			part := make([]byte, 10)
			rs.Seek(off, io.SeekStart)
			io.ReadFull(rs, part)
			if !bytes.Equal(part, whole[off:off+10]) {
				t.Fatalf("%s: bytes at %d differ after a seek", s.ID, off)
			}
		}
	}
}
