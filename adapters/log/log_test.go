package log

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

func TestREADMEShowsSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```hcl\n"+Sample+"```") {
		t.Fatal("README.md does not show sample.hcl word for word")
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		json, field string
	}{
		{`{}`, ""},
		{`{"level":"debug"}`, ""},
		{`{"level":"loud"}`, "level"},
		{`{"level":1}`, "level"},
		{`{"colour":"red"}`, "colour"},
	}
	for _, tc := range tests {
		err := New(hclog.NewNullLogger()).Configure(context.Background(), sdk.Settings{JSON: []byte(tc.json)})
		var fe *sdk.FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("%s: %v, want an error naming %s", tc.json, err, tc.field)
		}
	}
}

func TestVersionsAndLines(t *testing.T) {
	var buf bytes.Buffer
	a := New(hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug}))
	ctx := context.Background()
	item := func(id string, v uint64) sdk.Availability {
		return sdk.Availability{AgentID: id, State: "away", Reason: "remote-support", Version: v}
	}
	rs := a.SetAvailability(ctx, []sdk.Availability{item("a-1", 2), item("a-2", 1), item("a-1", 1), item("a-1", 2), item("a-1", 3)})
	var got []string
	for _, r := range rs {
		got = append(got, r.Outcome.String())
	}
	if want := "applied applied ignored ignored applied"; strings.Join(got, " ") != want {
		t.Fatalf("outcomes %v, want %s", got, want)
	}
	if n := strings.Count(buf.String(), "availability:"); n != 3 {
		t.Fatalf("%d availability lines, want 3:\n%s", n, buf.String())
	}
	// Reconcile applies the whole state, the same versions included.
	rs = a.Reconcile(ctx, []sdk.Availability{item("a-1", 3), item("a-2", 1)})
	if rs[0].Outcome != sdk.Applied || rs[1].Outcome != sdk.Applied {
		t.Fatalf("reconcile: %+v", rs)
	}
	if got := a.Applied(); got["a-1"] != 3 || got["a-2"] != 1 || len(got) != 2 {
		t.Fatalf("applied %v", got)
	}
	for _, r := range []sdk.Result{
		a.HandleRequest(ctx, sdk.Request{ID: "r-1"}), a.HandleSession(ctx, sdk.Session{ID: "s-1"}), a.HandleAlert(ctx, sdk.Alert{Rule: "x"}),
	} {
		if r.Outcome != sdk.Applied {
			t.Fatalf("%+v", r)
		}
	}
	for _, want := range []string{"request: id=r-1", "session: id=s-1", "alert: rule=x", "reconcile: agents=2"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("no %q line:\n%s", want, buf.String())
		}
	}
}
