package bus

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

func TestCodecRoundTrip(t *testing.T) {
	bare := monitors.Agent{ID: "a-2", Status: monitors.Offline} // no queues, no status_since
	empty := monitors.Queue{ID: "q", AsOf: at("2026-03-02T09:14:05Z")}
	subMs := sampleQueue()
	subMs.LongestWait = 1500*time.Millisecond + 400*time.Microsecond // kept to the millisecond
	subMsWant := sampleQueue()
	subMsWant.LongestWait = 1500 * time.Millisecond
	local := sampleAgent()
	local.StatusSince = time.Date(2026, 3, 2, 10, 14, 5, 0, time.FixedZone("CET", 3600)) // comes back in UTC
	localWant := sampleAgent()
	minimal := monitors.Request{ID: "r", Queue: "q", Status: "waiting", CreatedAt: at("2026-03-02T09:13:22Z")}
	phone := sampleSession()
	phone.RequestID = ""

	tests := []struct {
		name       string
		encode     func() ([]byte, error)
		decode     func([]byte) (any, error)
		want       any
		wantSubstr string // a part of the JSON
	}{
		{"agent", func() ([]byte, error) { return EncodeAgent(sampleAgent()) }, decodeAny(DecodeAgent), sampleAgent(), `"queues":["support","support/printers"]`},
		{"agent bare", func() ([]byte, error) { return EncodeAgent(bare) }, decodeAny(DecodeAgent), bare, `"queues":[],"active_sessions":0,"max_sessions":0}`},
		{"agent local time", func() ([]byte, error) { return EncodeAgent(local) }, decodeAny(DecodeAgent), localWant, `"status_since":"2026-03-02T09:14:05Z"`},
		{"queue", func() ([]byte, error) { return EncodeQueue(sampleQueue()) }, decodeAny(DecodeQueue), sampleQueue(), `"longest_wait_seconds":42.5`},
		{"queue nobody waits", func() ([]byte, error) { return EncodeQueue(empty) }, decodeAny(DecodeQueue), empty, `"waiting":0,"longest_wait_seconds":0,"agents_logged_in"`},
		{"queue sub-millisecond", func() ([]byte, error) { return EncodeQueue(subMs) }, decodeAny(DecodeQueue), subMsWant, `"longest_wait_seconds":1.5,`},
		{"availability", func() ([]byte, error) { return EncodeAvailability(sampleAvailability()) }, decodeAny(DecodeAvailability), sampleAvailability(), `"available":false`},
		{"request", func() ([]byte, error) { return EncodeRequest(sampleRequest()) }, decodeAny(DecodeRequest), sampleRequest(), `"fields":{"account":"ACME-42"`},
		{"request minimal", func() ([]byte, error) { return EncodeRequest(minimal) }, decodeAny(DecodeRequest), minimal, `"problem":""}`},
		{"session", func() ([]byte, error) { return EncodeSession(sampleSession()) }, decodeAny(DecodeSession), sampleSession(), `"duration_seconds":1062}`},
		{"session phone mode", func() ([]byte, error) { return EncodeSession(phone) }, decodeAny(DecodeSession), phone, `{"v":1,"id":"s-9b02","agent_id"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.encode()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), `{"v":1,`) || !strings.Contains(string(data), tc.wantSubstr) {
				t.Errorf("JSON %s: want it to start with {\"v\":1, and contain %s", data, tc.wantSubstr)
			}
			got, err := tc.decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func decodeAny[T any](f func([]byte) (T, error)) func([]byte) (any, error) {
	return func(b []byte) (any, error) { return f(b) }
}

func TestDecodeErrors(t *testing.T) {
	agent := decodeAny(DecodeAgent)
	queue := decodeAny(DecodeQueue)
	avail := decodeAny(DecodeAvailability)
	request := decodeAny(DecodeRequest)
	session := decodeAny(DecodeSession)
	const ts = `"2026-03-02T09:14:05Z"`
	tests := []struct {
		name, data string
		decode     func([]byte) (any, error)
		want       string
		version    bool // errors.Is ErrVersion
	}{
		{"empty", ``, agent, "decode agent message: expected a JSON object with \"v\": 1: unexpected end of JSON input", false},
		{"array", `[]`, agent, "expected a JSON object", false},
		{"no v", `{"id":"a","status":"away"}`, agent, `"v" is 0: expected 1`, true},
		{"v 2", `{"v":2,"id":"a","status":"away"}`, agent, `"v" is 2: expected 1`, true},
		{"v string", `{"v":"1","id":"a","status":"away"}`, agent, `cannot unmarshal string`, false},
		{"agent no id", `{"v":1,"status":"away"}`, agent, `"id" is missing or empty: expected the agent's id`, false},
		{"agent bad status", `{"v":1,"id":"a","status":"busy"}`, agent, `unknown agent status "busy": expected available, in_session, away or offline`, false},
		{"agent negative sessions", `{"v":1,"id":"a","status":"away","active_sessions":-1}`, agent, `"active_sessions" is -1: expected 0 or more`, false},
		{"agent queues not a list", `{"v":1,"id":"a","status":"away","queues":"support"}`, agent, `cannot unmarshal string into Go struct field AgentMsg.queues`, false},
		{"agent bad time", `{"v":1,"id":"a","status":"away","status_since":"yesterday"}`, agent, `cannot parse "yesterday"`, false},
		{"queue no as_of", `{"v":1,"id":"q"}`, queue, `"as_of" is missing or empty: expected the time of the figures`, false},
		{"queue negative wait", `{"v":1,"id":"q","as_of":` + ts + `,"longest_wait_seconds":-1}`, queue, `"longest_wait_seconds" is -1: expected 0 to 1e+09 seconds`, false},
		{"queue huge wait", `{"v":1,"id":"q","as_of":` + ts + `,"longest_wait_seconds":1e300}`, queue, `expected 0 to 1e+09 seconds`, false},
		{"queue negative waiting", `{"v":1,"id":"q","as_of":` + ts + `,"waiting":-3}`, queue, `"waiting" is -3`, false},
		{"availability no available", `{"v":1,"agent_id":"a","state":"away","version":1,"since":` + ts + `}`, avail, `"available" is missing or empty: expected true or false`, false},
		{"availability null available", `{"v":1,"agent_id":"a","available":null,"state":"away","version":1,"since":` + ts + `}`, avail, `"available" is missing`, false},
		{"availability version 0", `{"v":1,"agent_id":"a","available":true,"state":"available","since":` + ts + `}`, avail, `version is 0: expected 1 or more`, false},
		{"availability negative version", `{"v":1,"agent_id":"a","available":true,"state":"available","version":-1,"since":` + ts + `}`, avail, `cannot unmarshal number -1`, false},
		{"availability no since", `{"v":1,"agent_id":"a","available":true,"state":"available","version":1}`, avail, `"since" is missing`, false},
		{"availability bad state", `{"v":1,"agent_id":"a","available":true,"state":"lunch","version":1,"since":` + ts + `}`, avail, `state: unknown agent status "lunch"`, false},
		{"request no status", `{"v":1,"id":"r","queue":"q","created_at":` + ts + `}`, request, `"status" is missing or empty: expected waiting, in_session, abandoned or completed`, false},
		{"request fields not strings", `{"v":1,"id":"r","queue":"q","status":"waiting","created_at":` + ts + `,"fields":{"n":1}}`, request, `cannot unmarshal number`, false},
		{"session no ended_at", `{"v":1,"id":"s","agent_id":"a","queue":"q","started_at":` + ts + `}`, session, `"ended_at" is missing`, false},
		{"session negative duration", `{"v":1,"id":"s","agent_id":"a","queue":"q","started_at":` + ts + `,"ended_at":` + ts + `,"duration_seconds":-2}`, session, `"duration_seconds" is -2`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.decode([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %+v, %v; want an error with %q", got, err, tc.want)
			}
			if errors.Is(err, ErrVersion) != tc.version {
				t.Errorf("errors.Is(err, ErrVersion) = %v, want %v", !tc.version, tc.version)
			}
			if !reflect.ValueOf(got).IsZero() {
				t.Errorf("value %+v with an error, want the zero value", got)
			}
		})
	}
}

// TestDecodeIgnoresUnknownFields: fields added within version 1 must not
// break older readers.
func TestDecodeIgnoresUnknownFields(t *testing.T) {
	data := `{"v":1,"id":"a-2","status":"away","queues":["q"],"team":"blue","skills":{"fr":3}}`
	got, err := DecodeAgent([]byte(data))
	want := monitors.Agent{ID: "a-2", Status: monitors.Away, Queues: []string{"q"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	huge := sampleQueue()
	huge.LongestWait = 40 * 365 * 24 * time.Hour
	farFuture := sampleSession()
	farFuture.EndedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	badID := sampleAgent()
	badID.ID = "a\xff"
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"queue wait over the bound", func() error { _, err := EncodeQueue(huge); return err }, "encode queue message: \"longest_wait_seconds\" is 1.26144e+09"},
		{"year 10000", func() error { _, err := EncodeSession(farFuture); return err }, `encode session message: "ended_at" is 10000-01-01T00:00:00Z: expected a time in the years 0 to 9999 UTC`},
		{"id not UTF-8", func() error { _, err := EncodeAgent(badID); return err }, `encode agent message: "id" is "a\xff": expected UTF-8`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
