package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// recorder is an adapter, run as a real process (this test binary), that
// writes what it has applied to a file after every call: the test reads the
// adapter's own state, not the bridge's idea of it.
type recorder struct {
	mu      sync.Mutex
	file    string
	applied map[string]uint64
}

type recorderState struct {
	Pid     int               `json:"pid"`
	Applied map[string]uint64 `json:"applied"`
}

func (r *recorder) Info() sdk.Info {
	return sdk.Info{Name: "recorder", Version: "1", Identities: []string{"interface"}}
}
func (r *recorder) Health(context.Context) sdk.Health {
	return sdk.Health{Status: sdk.Up}
}
func (r *recorder) Configure(_ context.Context, s sdk.Settings) error {
	var c struct {
		StateFile string `json:"state_file"`
	}
	if err := s.Decode(&c); err != nil {
		return err
	}
	if c.StateFile == "" {
		return &sdk.FieldError{Field: "state_file", Message: "required"}
	}
	r.mu.Lock()
	r.file = c.StateFile
	r.mu.Unlock()
	return r.save()
}

func (r *recorder) save() error {
	b, _ := json.Marshal(recorderState{Pid: os.Getpid(), Applied: r.applied})
	tmp := r.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, r.file)
}

func (r *recorder) SetAvailability(_ context.Context, items []sdk.Availability) []sdk.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Ignored}
		if it.Version > r.applied[it.AgentID] {
			r.applied[it.AgentID] = it.Version
			out[i].Outcome = sdk.Applied
		}
	}
	if err := r.save(); err != nil {
		for i := range out {
			out[i] = sdk.Result{AgentID: items[i].AgentID, Version: items[i].Version, Outcome: sdk.Retryable, Message: err.Error()}
		}
	}
	return out
}

func (r *recorder) Reconcile(ctx context.Context, desired []sdk.Availability) []sdk.Result {
	return r.SetAvailability(ctx, desired)
}

func readRecorder(t *testing.T, file string) recorderState {
	t.Helper()
	var st recorderState
	b, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read the adapter's state: %v", err)
	}
	return st
}

// TestAdapterKilledUnderAStreamOfChanges kills the adapter process with
// SIGKILL while changes flow; after its restart the adapter's own applied
// state equals the desired state for every agent, and the restart shows in
// the metrics.
func TestAdapterKilledUnderAStreamOfChanges(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "recorder.json")
	script := fmt.Sprintf("#!/bin/sh\nACDBRIDGE_TEST_RECORDER=1 exec %q \"$@\"\n", os.Args[0])
	if err := os.WriteFile(filepath.Join(dir, "recorder"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, 300, 10, 1<<16, func(c *config.Config) {
		c.PluginsDir = dir
		c.Adapters = []config.Adapter{{Type: "recorder", Name: "rec", Settings: []byte(fmt.Sprintf(`{"state_file":%q}`, state))}}
	})
	r.converge(fresh(r))
	// The process that delivers is the one that has reconciled (the check
	// at start ran the adapter once before, and stopped it).
	var first recorderState
	deadline := time.Now().Add(20 * time.Second)
	for first = readRecorder(t, state); len(first.Applied) < 300; first = readRecorder(t, state) {
		if time.Now().After(deadline) {
			t.Fatalf("the adapter never reconciled: %d agents applied", len(first.Applied))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; i < 12; i++ {
		allowed := fresh(r)
		r.step(20*time.Second, allowed)
		if i == 4 {
			if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		r.converge(allowed)
	}
	kv := r.kv()
	deadline = time.Now().Add(30 * time.Second)
	for {
		st := readRecorder(t, state)
		behind := 0
		for id, d := range kv {
			if st.Applied[id] != d.Version {
				behind++
			}
		}
		if st.Pid != first.Pid && behind == 0 && len(st.Applied) == len(kv) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart (pid %d, was %d) the adapter differs from the desired state on %d of %d agents", st.Pid, first.Pid, behind, len(kv))
		}
		time.Sleep(20 * time.Millisecond)
	}
	restarts, err := testutil.GatherAndCount(r.reg, "acdbridge_adapter_restarts_total")
	if err != nil || restarts != 1 {
		t.Fatalf("restart series: %d %v", restarts, err)
	}
	if v := testutil.ToFloat64(r.bridge.workers[0].Restarts()); v < 1 {
		t.Fatalf("acdbridge_adapter_restarts_total = %g, want at least 1", v)
	}
}

// TestDirectoryIdentities: agents with a directory row get their identities;
// the others are counted and listed against the adapter that needs one.
func TestDirectoryIdentities(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "recorder.json")
	script := fmt.Sprintf("#!/bin/sh\nACDBRIDGE_TEST_RECORDER=1 exec %q \"$@\"\n", os.Args[0])
	os.WriteFile(filepath.Join(dir, "recorder"), []byte(script), 0o755)
	csv := "agent_id,extension\n"
	for i := 1; i <= 10; i += 2 { // a-0001, a-0003, ... a-0009 have a row
		csv += fmt.Sprintf("a-%04d,%d\n", i, 1000+i)
	}
	os.WriteFile(filepath.Join(dir, "agents.csv"), []byte(csv), 0o644)
	cfgSrc := fmt.Sprintf("directory {\n  file = %q\n  template {\n    interface = \"PJSIP/${extension}\"\n  }\n}\n", filepath.Join(dir, "agents.csv"))
	parsed, err := config.Parse([]byte(cfgSrc), filepath.Join(dir, "bridge.hcl"))
	if err != nil {
		t.Fatal(config.Format(err))
	}
	r := newRig(t, 10, 2, 1<<12, func(c *config.Config) {
		c.PluginsDir = dir
		c.Directory = parsed.Directory
		c.Adapters = []config.Adapter{{Type: "recorder", Name: "rec", Settings: []byte(fmt.Sprintf(`{"state_file":%q}`, state))}}
	})
	r.converge(fresh(r))
	want := "a-0002 a-0004 a-0006 a-0008 a-0010"
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := strings.Join(r.bridge.workers[0].WithoutIdentity(), " ")
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents without an interface: %q, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := r.bridge.workers[0].Status()
	if st.MissingCount != 5 || strings.Join(st.WithoutIdentity, " ") != want {
		t.Fatalf("status: %+v", st)
	}
	// Every agent gets a row; a reload (what SIGHUP does) reconciles the
	// adapter with the new identities, without any agent changing.
	csv = "agent_id,extension\n"
	for i := 1; i <= 10; i++ {
		csv += fmt.Sprintf("a-%04d,%d\n", i, 1000+i)
	}
	os.WriteFile(filepath.Join(dir, "agents.csv"), []byte(csv), 0o644)
	r.bridge.reloadDirectory()
	deadline = time.Now().Add(20 * time.Second)
	for len(r.bridge.workers[0].WithoutIdentity()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the reload, still without an interface: %v", r.bridge.workers[0].WithoutIdentity())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
