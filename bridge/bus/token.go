package bus

import (
	"fmt"
	"strings"
)

// Names of what the bridge keeps on NATS. docs/events.md describes each.
const (
	// SubjectPrefix starts every subject the bridge publishes on.
	SubjectPrefix = "acdbridge"

	BucketAgents       = "agents"       // KV: last status per agent
	BucketQueues       = "queues"       // KV: last status per queue
	BucketAvailability = "availability" // KV: desired availability per agent

	StreamEvents = "EVENTS" // stream: requests, sessions, alerts
)

// Subject kinds: the second token of every subject.
const (
	KindAgent        = "agent"
	KindQueue        = "queue"
	KindAvailability = "availability"
	KindRequest      = "request"
	KindSession      = "session"
	KindAlert        = "alert"
)

// AgentSubject is where an agent's status is republished.
func AgentSubject(agentID string) string { return subject(KindAgent, agentID) }

// QueueSubject is where a queue's status is republished.
func QueueSubject(queueID string) string { return subject(KindQueue, queueID) }

// AvailabilitySubject is where an agent's desired availability is republished.
func AvailabilitySubject(agentID string) string { return subject(KindAvailability, agentID) }

// RequestSubject is where a queue's customer requests are published.
func RequestSubject(queueID string) string { return subject(KindRequest, queueID) }

// SessionSubject is where a queue's ended sessions are published.
func SessionSubject(queueID string) string { return subject(KindSession, queueID) }

// AlertSubject is where a threshold rule's alerts are published.
func AlertSubject(rule string) string { return subject(KindAlert, rule) }

func subject(kind, id string) string { return SubjectPrefix + "." + kind + "." + Token(id) }

const upperHex = "0123456789ABCDEF"

// plain says whether b stands for itself in a token.
func plain(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-'
}

// Token escapes an id into one subject token that is also a valid KV key.
// Bytes in [A-Za-z0-9_-] stand for themselves; every other byte ('.', '/',
// '*', '>', '=', spaces, each byte of a non-ASCII character, ...) becomes '='
// and two upper-case hex digits: "support/printers" is "support=2Fprinters",
// "jo.doe@example.com" is "jo=2Edoe=40example=2Ecom". Ids must not be empty:
// Token("") is "", which is no token.
//
// NATS would take '.' as a token separator, '*' and '>' as wildcards and
// white space as the end of the subject; a KV key allows only
// [-/_=.A-Za-z0-9]. '=' is in both alphabets and rare in ids, so it makes a
// good escape character.
func Token(id string) string {
	n := 0
	for i := 0; i < len(id); i++ {
		if !plain(id[i]) {
			n++
		}
	}
	if n == 0 {
		return id
	}
	var b strings.Builder
	b.Grow(len(id) + 2*n)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0x0f])
	}
	return b.String()
}

// Untoken reverses Token. It accepts only what Token writes (upper-case hex,
// no escaped plain bytes), so Token(Untoken(tok)) == tok whenever it
// succeeds.
func Untoken(tok string) (string, error) {
	if tok == "" {
		return "", fmt.Errorf("empty token: expected an escaped id")
	}
	if !strings.Contains(tok, "=") {
		for i := 0; i < len(tok); i++ {
			if !plain(tok[i]) {
				return "", fmt.Errorf("token %q: byte %s at %d: expected A-Z, a-z, 0-9, '_', '-' or =XX", tok, showByte(tok[i]), i)
			}
		}
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case plain(c):
			out = append(out, c)
		case c == '=':
			if i+2 >= len(tok) {
				return "", fmt.Errorf("token %q: '=' at %d: expected two upper-case hex digits after it", tok, i)
			}
			hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("token %q: '=' at %d is followed by %q: expected two upper-case hex digits", tok, i, tok[i+1:i+3])
			}
			v := byte(hi<<4 | lo)
			if plain(v) {
				return "", fmt.Errorf("token %q: %q at %d escapes %q, which stands for itself", tok, tok[i:i+3], i, v)
			}
			out = append(out, v)
			i += 2
		default:
			return "", fmt.Errorf("token %q: byte %s at %d: expected A-Z, a-z, 0-9, '_', '-' or =XX", tok, showByte(c), i)
		}
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// showByte writes a byte for an error message: 'x' when printable ASCII,
// else 0xXX.
func showByte(c byte) string {
	if ' ' <= c && c <= '~' {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("0x%02X", c)
}
