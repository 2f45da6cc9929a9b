package cli

import (
	"strconv"
	"strings"
	"testing"
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
		{"256", 0, `expected a size such as 256MiB, 1GiB or 300MB (or 0 for none), got "256"`},
		{"-1GiB", 0, `expected a size such as 256MiB, 1GiB or 300MB (or 0 for none), got "-1GiB"`},
		{"lots", 0, `expected a size such as 256MiB, 1GiB or 300MB (or 0 for none), got "lots"`},
		{"99999999999GiB", 0, `expected a size such as`},
		{"", 0, `expected a size such as`},
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
			_, _ = applyMemoryLimit("0", true)
		} else {
			_, _ = applyMemoryLimit(formatMiB(before), true)
		}
	})
	t.Setenv("GOMEMLIMIT", "")
	if got, err := applyMemoryLimit("240MiB", false); err != nil || got != defaultMemoryLimit || currentMemoryLimit() != defaultMemoryLimit {
		t.Fatalf("default: expected %d, got %d (runtime %d), %v", defaultMemoryLimit, got, currentMemoryLimit(), err)
	}
	if got, err := applyMemoryLimit("512MiB", true); err != nil || got != 512<<20 || currentMemoryLimit() != 512<<20 {
		t.Fatalf("--memory-limit 512MiB: got %d (runtime %d), %v", got, currentMemoryLimit(), err)
	}
	if got, err := applyMemoryLimit("0", true); err != nil || got != 0 || currentMemoryLimit() != 0 {
		t.Fatalf("--memory-limit 0: got %d (runtime %d), %v", got, currentMemoryLimit(), err)
	}
	// GOMEMLIMIT set and no flag: the runtime's own reading stands.
	t.Setenv("GOMEMLIMIT", "300MiB")
	if got, err := applyMemoryLimit("240MiB", false); err != nil || got != 0 {
		t.Fatalf("with GOMEMLIMIT: expected the limit left as it was (none), got %d, %v", got, err)
	}
	if _, err := applyMemoryLimit("a lot", true); err == nil || !strings.HasPrefix(err.Error(), "--memory-limit: ") {
		t.Fatalf("expected an error naming --memory-limit, got %v", err)
	}
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
