package source

import (
	"errors"
	"strings"
	"testing"
)

const goodPage = `{"sessions":[{"id":"s-1","request_id":"r-1","agent_id":"a-0001","queue":"support","external_ref":"","started_at":"2026-11-02T09:00:00Z","ended_at":"2026-11-02T09:05:00Z","duration_seconds":300},{"id":"s-2","request_id":"r-2","agent_id":"a-0002","queue":"sales","external_ref":"CRM-1","started_at":"2026-11-02T09:01:00Z","ended_at":"2026-11-02T09:06:00Z","duration_seconds":300}],"next":"MTc2MjA3NDM2MDAwMDAwMDAwMC5zLTI"}`

func TestDecodeSessionsPage(t *testing.T) {
	p, err := decodeSessionsPage([]byte(goodPage), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sessions) != 2 || p.Next != "MTc2MjA3NDM2MDAwMDAwMDAwMC5zLTI" || p.Sessions[1].ID != "s-2" || p.Sessions[1].ExternalRef != "CRM-1" || p.Sessions[0].DurationSeconds != 300 {
		t.Fatalf("decoded %+v", p)
	}
	last := strings.Replace(goodPage, `"next":"MTc2MjA3NDM2MDAwMDAwMDAwMC5zLTI"`, `"next":""`, 1)
	if p, err := decodeSessionsPage([]byte(last), "x"); err != nil || p.Next != "" {
		t.Fatalf("the last page: %+v, %v", p, err)
	}
	for _, tc := range []struct{ name, body, after, kind, msg string }{
		{"the same cursor again", goodPage, "MTc2MjA3NDM2MDAwMDAwMDAwMC5zLTI", KindBadValue, "next: expected a cursor past this page's"},
		{"no list", `{"next":""}`, "", KindBadValue, "sessions: expected a list, got none"},
		{"a session without id", strings.Replace(goodPage, `"id":"s-2"`, `"id":""`, 1), "", KindMissingID, "sessions[1]"},
		{"error body", `{"error":{"code":"out_of_range","message":"sessions are kept for 2160h0m0s"}}`, "", KindErrorBody, "sessions are kept"},
		{"truncated", goodPage[:60], "", KindMalformedJSON, "expected a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeSessionsPage([]byte(tc.body), tc.after)
			var pe *PayloadError
			if !errors.As(err, &pe) || pe.Kind != tc.kind || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v; want a %s error saying %q", err, tc.kind, tc.msg)
			}
		})
	}
}

// FuzzDecodeSessionsPage: never a panic; a failure is a PayloadError of a
// known kind; an accepted page has sessions with ids and UTC times, and a
// next cursor other than the one asked after.
func FuzzDecodeSessionsPage(f *testing.F) {
	f.Add([]byte(goodPage), "")
	f.Add([]byte(goodPage), "MTc2MjA3NDM2MDAwMDAwMDAwMC5zLTI")
	f.Add([]byte(`{"sessions":[],"next":""}`), "")
	f.Add([]byte(`null`), "")
	f.Fuzz(func(t *testing.T, body []byte, after string) {
		p, err := decodeSessionsPage(body, after)
		if err != nil {
			checkPayloadError(t, err)
			return
		}
		if p.Next != "" && p.Next == after {
			t.Fatalf("a page whose next is the cursor it was asked after: %q", after)
		}
		for _, s := range p.Sessions {
			if s.ID == "" {
				t.Fatal("a session without id accepted")
			}
			checkUTC(t, s.StartedAt, s.EndedAt)
		}
	})
}
