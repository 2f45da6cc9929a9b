package cli

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// The soft memory limit for the Go runtime that `acdbridge run` sets unless
// --memory-limit or GOMEMLIMIT says otherwise ("auto"): the larger of
// minMemoryLimit and memoryPerAgent for each agent the bridge follows,
// adjusted as the fleet grows or shrinks. At 100,000 agents the bridge's
// live heap is about 140 to 180 MB (the embedded NATS server's block
// caches and per-key index for 300,000 KV keys are about 90 MB of it, the
// monitors' and availability's tables most of the rest), about 1.5 to 1.8
// KB an agent; Go's default collector lets the heap grow to twice the live
// heap before collecting, which put the process at 340 to 440 MB. The
// limit makes the collector run, and return memory to the system, before
// that, while staying 1.3 to 1.6 times the live heap at any fleet size, so
// the collector never runs without pause. It is soft: a live heap above it
// is never refused, the collector just works harder (at most about half
// the CPU).
const (
	minMemoryLimit = 240 << 20
	memoryPerAgent = 2458 // bytes (2.4 KiB): more than 240 MiB from 102,384 agents on
)

// autoMemoryLimit is the "auto" limit for a bridge following agents.
func autoMemoryLimit(agents int) int64 {
	return max(int64(minMemoryLimit), int64(agents)*memoryPerAgent)
}

// applyMemoryLimit sets the runtime's soft memory limit from --memory-limit
// ("auto", a size, or 0 for none) unless the flag was not given and the
// GOMEMLIMIT environment variable already set one. It returns the limit in
// force (0 for none) for the log, and whether it is "auto" (then follow
// keeps it in step with the agent count).
func applyMemoryLimit(flag string, given bool) (limit int64, auto bool, err error) {
	if !given && os.Getenv("GOMEMLIMIT") != "" {
		return currentMemoryLimit(), false, nil
	}
	if strings.EqualFold(strings.TrimSpace(flag), "auto") {
		limit = autoMemoryLimit(0)
		debug.SetMemoryLimit(limit)
		return limit, true, nil
	}
	n, err := parseBytes(flag)
	if err != nil {
		return 0, false, fmt.Errorf("--memory-limit: %w", err)
	}
	if n == 0 {
		debug.SetMemoryLimit(int64(^uint64(0) >> 1)) // none
		return 0, false, nil
	}
	debug.SetMemoryLimit(n)
	return n, false, nil
}

// followAgents keeps the "auto" limit in step with count() every interval
// until ctx ends.
func followAgents(ctx context.Context, count func() int, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	set := int64(-1)
	for {
		if l := autoMemoryLimit(count()); l != set {
			debug.SetMemoryLimit(l)
			set = l
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func currentMemoryLimit() int64 {
	n := debug.SetMemoryLimit(-1)
	if n == int64(^uint64(0)>>1) {
		return 0
	}
	return n
}

// parseBytes reads a size such as 256MiB, 1GiB, 300MB or 0 (none).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "0" || strings.EqualFold(t, "off") {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n < 0 || n > (1<<62)/u.mult {
				break
			}
			if n*u.mult < 32<<20 {
				return 0, fmt.Errorf("expected 32MiB or more (or 0 for none), got %q", s)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("expected auto, a size such as 256MiB, 1GiB or 300MB, or 0 for none, got %q", s)
}
