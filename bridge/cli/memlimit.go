package cli

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultMemoryLimit is `acdbridge run`'s soft memory limit for the Go
// runtime unless --memory-limit or GOMEMLIMIT says otherwise. At 100,000
// agents the bridge's live heap is about 140 to 180 MB (the embedded NATS
// server's block caches and per-key index for 300,000 KV keys are about 90
// MB of it, the monitors' and availability's tables most of the rest); Go's
// default collector lets the heap grow to twice the live heap before
// collecting, which put the process at 340 to 440 MB. The limit makes the
// collector run, and return memory to the system, before that. It is soft:
// a live heap above it is never refused, the collector just works harder
// (at most about half the CPU), so a bridge following many more agents
// should raise it.
const defaultMemoryLimit = 240 << 20

// applyMemoryLimit sets the runtime's soft memory limit from --memory-limit
// (flag, when given) or else, unless the GOMEMLIMIT environment variable
// already set one, to defaultMemoryLimit. It returns the limit in force (0
// for none) for the log.
func applyMemoryLimit(flag string, given bool) (int64, error) {
	if !given && os.Getenv("GOMEMLIMIT") != "" {
		return currentMemoryLimit(), nil
	}
	limit := int64(defaultMemoryLimit)
	if given {
		n, err := parseBytes(flag)
		if err != nil {
			return 0, fmt.Errorf("--memory-limit: %w", err)
		}
		limit = n
	}
	if limit == 0 {
		debug.SetMemoryLimit(int64(^uint64(0) >> 1)) // none
		return 0, nil
	}
	debug.SetMemoryLimit(limit)
	return limit, nil
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
	return 0, fmt.Errorf("expected a size such as 256MiB, 1GiB or 300MB (or 0 for none), got %q", s)
}
