package bus

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func TestToken(t *testing.T) {
	tests := []struct{ id, tok string }{
		{"a-0001", "a-0001"},
		{"Agent_42", "Agent_42"},
		{"support/printers", "support=2Fprinters"},
		{"jo.doe@example.com", "jo=2Edoe=40example=2Ecom"},
		{"a b", "a=20b"},
		{"*", "=2A"},
		{">", "=3E"},
		{"x=y", "x=3Dy"},
		{"=", "=3D"},
		{"=2F", "=3D2F"}, // an id that looks escaped is escaped again
		{"...", "=2E=2E=2E"},
		{"tab\there", "tab=09here"},
		{"\x00", "=00"},
		{"\xff", "=FF"}, // not UTF-8: bytes all the same
		{"Zoë", "Zo=C3=AB"},
		{"東京", "=E6=9D=B1=E4=BA=AC"},
		{"$KV", "=24KV"},
	}
	for _, tc := range tests {
		t.Run(tc.tok, func(t *testing.T) {
			if got := Token(tc.id); got != tc.tok {
				t.Errorf("Token(%q) = %q, want %q", tc.id, got, tc.tok)
			}
			id, err := Untoken(tc.tok)
			if err != nil || id != tc.id {
				t.Errorf("Untoken(%q) = %q, %v; want %q", tc.tok, id, err, tc.id)
			}
			checkToken(t, tc.tok)
		})
	}
}

// checkToken asserts that tok is one subject token and a valid KV key.
func checkToken(t *testing.T, tok string) {
	t.Helper()
	subj := "acdbridge.agent." + tok
	if !server.IsValidPublishSubject(subj) || strings.Count(subj, ".") != 2 {
		t.Errorf("%q is not a valid subject of three tokens", subj)
	}
	if !keyValid(tok) {
		t.Errorf("%q is not a valid KV key", tok)
	}
}

// keyValid is nats.go's check of a KV key (jetstream/kv.go).
func keyValid(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") {
		return false
	}
	for _, c := range []byte(key) {
		if !plain(c) && c != '/' && c != '=' && c != '.' {
			return false
		}
	}
	return true
}

func TestUntokenErrors(t *testing.T) {
	tests := []struct{ tok, want string }{
		{"", "empty token"},
		{"a.b", `byte '.' at 1`},
		{"a b", `byte ' ' at 1`},
		{"=", "expected two upper-case hex digits after it"},
		{"a=2", "expected two upper-case hex digits after it"},
		{"=2f", `followed by "2f"`},
		{"=G0", `followed by "G0"`},
		{"=41", `"=41" at 0 escapes 'A', which stands for itself`},
		{"=2D", `escapes '-'`},
		{"Zoë", "byte 0xC3 at 2"},
	}
	for _, tc := range tests {
		t.Run(tc.tok, func(t *testing.T) {
			id, err := Untoken(tc.tok)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Untoken(%q) = %q, %v; want an error with %q", tc.tok, id, err, tc.want)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	tests := []struct{ got, want string }{
		{AgentSubject("jo.doe"), "acdbridge.agent.jo=2Edoe"},
		{QueueSubject("support/printers"), "acdbridge.queue.support=2Fprinters"},
		{AvailabilitySubject("a-0001"), "acdbridge.availability.a-0001"},
		{RequestSubject("support"), "acdbridge.request.support"},
		{SessionSubject("support/printers"), "acdbridge.session.support=2Fprinters"},
		{AlertSubject("support_backlog"), "acdbridge.alert.support_backlog"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
