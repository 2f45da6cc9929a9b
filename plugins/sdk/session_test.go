package sdk

import (
	"context"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/acdbridge/acdbridge/internal/testutil"
	pb "github.com/acdbridge/acdbridge/plugins/proto/v1"
)

// fullSession sets every field of a Session, each event type's details
// included.
func fullSession() Session {
	return Session{
		ID: "s-9b02", RequestID: "r-5f1c", AgentID: "a-0001", Queue: "support/printers", ExternalRef: "42",
		StartedAt: when, EndedAt: when.Add(1062 * time.Second), DurationSeconds: 1062.5,
		Customer: Customer{Name: "Grace Hopper", Email: "grace@example.com"},
		Fields:   map[string]string{"problem": "blank pages", "serial_number": "PRN-0042"},
		Events: []SessionEvent{
			{At: when, Type: EventChat, From: "customer", To: "agent", Text: "hello"},
			{At: when.Add(time.Second), Type: EventFileTransfer, From: "agent", To: "customer", Text: "driver",
				File: &FileInfo{Name: "driver.zip", Size: 1 << 20, Direction: "to_customer"},
				Diagnostics: &Diagnostics{OS: "Windows 11", Hostname: "PC-1", MemoryMB: 16384,
					Software: []Software{{Name: "Office", Version: "16.0"}, {Name: "Chrome", Version: "120"}}}},
		},
		Resolution: "resolved",
		Survey:     &Survey{Rating: 4, Comment: "quick"},
		Recording:  &Recording{Size: 123456, SHA256: "ab12", URL: "http://127.0.0.1:8089/v1/sessions/s-9b02/recording", Path: "2026/03/02/s-9b02.rec"},
		ReplayURL:  "http://127.0.0.1:8089/replay/s-9b02",
	}
}

func TestFullSessionFixtureSetsEveryField(t *testing.T) {
	// The chat event has no file and no diagnostics on purpose: absent
	// details must stay absent.
	if z := testutil.ZeroFields(fullSession()); !reflect.DeepEqual(z, []string{"Events[0].File", "Events[0].Diagnostics"}) {
		t.Fatalf("the fixture leaves fields unset, so a conversion dropping them would pass: %v", z)
	}
}

// TestSessionRoundTripsThroughProto: SDK → protobuf (and its wire bytes) →
// SDK keeps every field; a summary stays a summary.
func TestSessionRoundTripsThroughProto(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Session
	}{
		{"full record", fullSession()},
		{"summary only", Session{ID: "s-1", AgentID: "a-1", Queue: "q", StartedAt: when, EndedAt: when, DurationSeconds: 0}},
		{"zero", Session{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire, err := proto.Marshal(sessionToPB(tc.s))
			if err != nil {
				t.Fatal(err)
			}
			var back pb.Session
			if err := proto.Unmarshal(wire, &back); err != nil {
				t.Fatal(err)
			}
			if got := sessionFromPB(&back); !reflect.DeepEqual(got, tc.s) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, tc.s)
			}
		})
	}
}

// TestFullSessionCrossesTheShim: the whole record reaches the adapter
// through gRPC.
func TestFullSessionCrossesTheShim(t *testing.T) {
	var got Session
	c := connect(t, &mock{t: t, session: func(s Session) Result { got = s; return Result{Outcome: Applied, Reference: "ticket 42"} }})
	want := fullSession()
	r, err := c.HandleSession(context.Background(), want)
	if err != nil || r.Outcome != Applied || r.Reference != "ticket 42" {
		t.Fatalf("HandleSession = %+v, %v", r, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the adapter got\n%+v\nwant\n%+v", got, want)
	}
}
