package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/internal/testutil"
)

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  string
	}{
		{"256MiB", 256 << 20, ""},
		{" 1GiB ", 1 << 30, ""},
		{"300MB", 300e6, ""},
		{"2GB", 2e9, ""},
		{"65536KiB", 64 << 20, ""},
		{"33554432B", 32 << 20, ""},
		{"0", 0, ""},
		{"off", 0, ""},
		{"16MiB", 0, `expected 32MiB or more (or 0 for none), got "16MiB"`},
		{"256", 0, `expected auto, a size such as 256MiB, 1GiB or 300MB, or 0 for none, got "256"`},
		{"-1GiB", 0, `expected auto, a size such as 256MiB, 1GiB or 300MB, or 0 for none, got "-1GiB"`},
		{"lots", 0, `expected auto, a size such as 256MiB, 1GiB or 300MB, or 0 for none, got "lots"`},
		{"99999999999GiB", 0, `expected auto, a size such as`},
		{"", 0, `expected auto, a size such as`},
	} {
		got, err := parseBytes(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseBytes(%q): expected error %q, got %d, %v", c.in, c.err, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseBytes(%q): expected %d, got %d, %v", c.in, c.want, got, err)
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	before := currentMemoryLimit()
	t.Cleanup(func() {
		if before == 0 {
			_, _, _ = applyMemoryLimit("0", true)
		} else {
			_, _, _ = applyMemoryLimit(formatMiB(before), true)
		}
	})
	t.Setenv("GOMEMLIMIT", "")
	for _, c := range []struct {
		flag  string
		given bool
		want  int64
		auto  bool
	}{
		{"auto", false, minMemoryLimit, true}, // the default
		{"AUTO", true, minMemoryLimit, true},
		{"512MiB", true, 512 << 20, false},
		{"0", true, 0, false},
	} {
		got, auto, err := applyMemoryLimit(c.flag, c.given)
		if err != nil || got != c.want || auto != c.auto || currentMemoryLimit() != c.want {
			t.Fatalf("--memory-limit %s: expected %d (auto %t), got %d (auto %t, runtime %d), %v", c.flag, c.want, c.auto, got, auto, currentMemoryLimit(), err)
		}
	}
	// GOMEMLIMIT set and no flag: the runtime's own reading stands.
	t.Setenv("GOMEMLIMIT", "300MiB")
	if got, auto, err := applyMemoryLimit("auto", false); err != nil || got != 0 || auto {
		t.Fatalf("with GOMEMLIMIT: expected the limit left as it was (none), got %d (auto %t), %v", got, auto, err)
	}
	if _, _, err := applyMemoryLimit("a lot", true); err == nil || !strings.HasPrefix(err.Error(), "--memory-limit: ") {
		t.Fatalf("expected an error naming --memory-limit, got %v", err)
	}
}

// TestAutoMemoryLimitFollowsTheFleet: 240 MiB up to about 100,000 agents,
// then 2,458 bytes an agent, set as the count changes.
func TestAutoMemoryLimitFollowsTheFleet(t *testing.T) {
	for _, c := range []struct {
		agents int
		want   int64
	}{{0, 240 << 20}, {1000, 240 << 20}, {102_383, 240 << 20}, {102_384, 102_384 * 2458}, {150_000, 150_000 * 2458}, {1_000_000, 1_000_000 * 2458}} {
		if got := autoMemoryLimit(c.agents); got != c.want {
			t.Errorf("%d agents: expected %d, got %d", c.agents, c.want, got)
		}
	}
	before := currentMemoryLimit()
	t.Cleanup(func() { _, _, _ = applyMemoryLimit(formatMiB(before), true) })
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); followAgents(ctx, func() int { return int(n.Load()) }, time.Millisecond) }()
	for _, agents := range []int64{10, 200_000, 50} {
		n.Store(agents)
		want := autoMemoryLimit(int(agents))
		testutil.WaitFor(t, fmt.Sprintf("the limit for %d agents", agents), 5*time.Second, time.Millisecond, func() bool { return currentMemoryLimit() == want })
	}
	cancel()
	<-done
}

func formatMiB(n int64) string { return strconv.FormatInt(n>>20, 10) + "MiB" }

func TestPprofAddressMustBeLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "192.0.2.1:6060", "example.com:6060", "6060"} {
		t.Setenv(pprofEnv, addr)
		if stop, err := startPprof(nil); err == nil {
			stop()
			t.Errorf("%s=%s: expected a refusal, got none", pprofEnv, addr)
		}
	}
}
