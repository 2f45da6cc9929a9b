package host

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Under go test, os.Executable is the test binary: when asked through the
// environment, it serves a built-in adapter instead of running the tests.
func TestMain(m *testing.M) {
	if os.Getenv("ACDBRIDGE_TEST_SERVE") == "envcheck" {
		sdk.Serve(envCheck{})
		os.Exit(0)
	}
	if os.Getenv("ACDBRIDGE_TEST_SERVE") == "closecheck" {
		sdk.Serve(closeCheck{mark: os.Getenv("ACDBRIDGE_TEST_CLOSE_MARK")})
		os.Exit(0)
	}
	if typ := os.Getenv("ACDBRIDGE_TEST_SERVE"); typ != "" {
		if err := ServeBuiltin(typ); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// launchLog starts the built-in log adapter as a real process.
func launchLog(t *testing.T, logs *testutil.SyncBuffer) *Plugin {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: "bridge", Output: logs, Level: hclog.Trace})
	p, err := Launch(context.Background(), Source{Type: "log", Origin: Builtin, Path: os.Args[0], Env: []string{"ACDBRIDGE_TEST_SERVE=log"}}, logger.Named("console"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func TestBuiltinLogAdapterProcess(t *testing.T) {
	var logs testutil.SyncBuffer
	p := launchLog(t, &logs)
	ctx := context.Background()
	info, err := p.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "log" || info.Version == "" || len(info.Capabilities) != 4 {
		t.Fatalf("describe: %+v", info)
	}
	errs, err := p.Configure(ctx, sdk.Settings{Instance: "console", JSON: []byte(`{"level":"loud"}`)})
	if err != nil || len(errs) != 1 || errs[0].Field != "level" || !strings.Contains(errs[0].Message, `expected info or debug, got "loud"`) {
		t.Fatalf("a bad level: %+v %v", errs, err)
	}
	if errs, err := p.Configure(ctx, sdk.Settings{Instance: "console", JSON: []byte(`{"level":"info"}`)}); err != nil || len(errs) != 0 {
		t.Fatalf("a good level: %+v %v", errs, err)
	}
	a := sdk.Availability{AgentID: "a-1", AgentName: "Ada", State: "in_session", Reason: "remote-support", Version: 3}
	older := a
	older.Version = 2
	steps := []struct {
		items []sdk.Availability
		want  []sdk.Outcome
	}{
		{[]sdk.Availability{a}, []sdk.Outcome{sdk.Applied}},
		{[]sdk.Availability{a}, []sdk.Outcome{sdk.Ignored}},     // the same version again
		{[]sdk.Availability{older}, []sdk.Outcome{sdk.Ignored}}, // an older one
	}
	for i, s := range steps {
		rs, err := p.SetAvailability(ctx, s.items)
		if err != nil || len(rs) != len(s.want) || rs[0].Outcome != s.want[0] {
			t.Fatalf("step %d: %+v %v, want %v", i, rs, err, s.want)
		}
	}
	if rs, err := p.Reconcile(ctx, []sdk.Availability{a}); err != nil || rs[0].Outcome != sdk.Applied {
		t.Fatalf("reconcile: %+v %v", rs, err)
	}
	if h, err := p.Health(ctx); err != nil || h.Status != sdk.Up {
		t.Fatalf("health: %+v %v", h, err)
	}
	// The adapter's own log lines come through the bridge's logger, under
	// the instance's name.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "bridge.console") || !strings.Contains(logs.String(), "agent=a-1") {
		if time.Now().After(deadline) {
			t.Fatalf("the adapter's log was not relayed:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKill9AndRelaunch(t *testing.T) {
	var logs testutil.SyncBuffer
	p := launchLog(t, &logs)
	pid := p.Pid()
	if pid == 0 {
		t.Fatal("no pid")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !p.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("the killed process is not seen as exited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := p.Health(context.Background()); err == nil {
		t.Fatal("a call to a killed adapter succeeded")
	}
	q := launchLog(t, &logs)
	if q.Pid() == pid {
		t.Fatal("relaunched into the same pid")
	}
	if h, err := q.Health(context.Background()); err != nil || h.Status != sdk.Up {
		t.Fatalf("after relaunch: %+v %v", h, err)
	}
}

func TestLaunchFailsClearly(t *testing.T) {
	dir := t.TempDir()
	notPlugin := filepath.Join(dir, "not-a-plugin")
	os.WriteFile(notPlugin, []byte("#!/bin/sh\necho hello\n"), 0o755)
	_, err := Launch(context.Background(), Source{Type: "x", Path: notPlugin}, hclog.NewNullLogger())
	if err == nil || !strings.Contains(err.Error(), "start adapter x") {
		t.Fatalf("a program that is not a plugin: %v", err)
	}
	_, err = Launch(context.Background(), Source{Type: "y", Path: filepath.Join(dir, "missing")}, hclog.NewNullLogger())
	if err == nil || !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("a missing program: %v", err)
	}
}

func TestCatalog(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"log":                          0o755, // overrides the built-in
		"acdbridge-adapter-freeswitch": 0o755, // overrides the built-in, by the prefixed name
		"acdbridge-adapter-genesys":    0o755, // an external adapter of its own type
		"README.txt":                   0o644, // not executable: not an adapter
	} {
		os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	c := Catalog{Self: "/usr/bin/acdbridge", PluginsDir: dir}
	list, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s.Type+":"+string(s.Origin)+":"+filepath.Base(s.Path))
	}
	// Every built-in, but for the two the folder overrides, and the
	// folder's own adapter.
	byType := map[string]string{"genesys": "genesys:external:acdbridge-adapter-genesys"}
	for n := range Builtins() {
		byType[n] = n + ":built-in:acdbridge"
	}
	byType["log"] = "log:external:log"
	byType["freeswitch"] = "freeswitch:external:acdbridge-adapter-freeswitch"
	var want []string
	for _, n := range slices.Sorted(maps.Keys(byType)) {
		want = append(want, byType[n])
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("list %v, want %v", got, want)
	}
	if src, err := c.Resolve("freeswitch"); err != nil || src.Origin != External || filepath.Base(src.Path) != "acdbridge-adapter-freeswitch" {
		t.Fatalf("an external freeswitch overriding the built-in: %+v %v", src, err)
	}
	src, err := (Catalog{Self: "/usr/bin/acdbridge"}).Resolve("log")
	if err != nil || src.Origin != Builtin || strings.Join(src.Args, " ") != "plugin serve log" || src.Path != "/usr/bin/acdbridge" {
		t.Fatalf("built-in log: %+v %v", src, err)
	}
	if _, err := c.Resolve("avaya"); err == nil || !strings.Contains(err.Error(), `no adapter of type "avaya"`) || !strings.Contains(err.Error(), fmt.Sprint(slices.Sorted(maps.Keys(Builtins())))) {
		t.Fatalf("unknown type: %v", err)
	}
	if list, err := (Catalog{Self: "x", PluginsDir: filepath.Join(dir, "missing")}).List(); err != nil || len(list) != len(Builtins()) {
		t.Fatalf("a missing plugins folder: %v %v", list, err)
	}
}

// envCheck reports, as its health message, the source token it can see.
type envCheck struct{}

func (envCheck) Info() sdk.Info                                { return sdk.Info{Name: "envcheck", Version: "1"} }
func (envCheck) Configure(context.Context, sdk.Settings) error { return nil }
func (envCheck) Health(context.Context) sdk.Health {
	return sdk.Health{Status: sdk.Up, Message: "token=" + os.Getenv("ACDBRIDGE_SOURCE_TOKEN") + " home=" + os.Getenv("HOME")}
}

func TestAdaptersDoNotInheritSecrets(t *testing.T) {
	t.Setenv("ACDBRIDGE_SOURCE_TOKEN", "s3cret-source-token")
	p, err := Launch(context.Background(), Source{Type: "envcheck", Path: os.Args[0], Env: []string{"ACDBRIDGE_TEST_SERVE=envcheck"}}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	h, err := p.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "token= home=" + os.Getenv("HOME"); h.Message != want {
		t.Fatalf("the adapter sees %q, want %q", h.Message, want)
	}
}

// closeCheck writes "closed" to mark when Close is called.
type closeCheck struct {
	envCheck
	mark string
}

func (c closeCheck) Close() error { return os.WriteFile(c.mark, []byte("closed"), 0o600) }

// TestStoppedAdapterIsClosed: when the bridge stops a plugin, sdk.Serve
// calls the adapter's Close before the process exits, so an adapter can
// take back what it set (a SIP publication, an AMI login).
func TestStoppedAdapterIsClosed(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "closed")
	p, err := Launch(context.Background(), Source{Type: "closecheck", Path: os.Args[0],
		Env: []string{"ACDBRIDGE_TEST_SERVE=closecheck", "ACDBRIDGE_TEST_CLOSE_MARK=" + mark}}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("closed before the bridge stopped it")
	}
	p.Kill()
	if b, err := os.ReadFile(mark); err != nil || string(b) != "closed" {
		t.Fatalf("the adapter was not closed when stopped: %q, %v", b, err)
	}
}
