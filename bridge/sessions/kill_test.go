package sessions_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/cli"
)

// TestMain runs acdbridge itself when a test re-executes this binary with
// ACDBRIDGE_CLI_ARGS (a JSON list of arguments), so that the kill test has
// a real process to kill.
func TestMain(m *testing.M) {
	if a := os.Getenv("ACDBRIDGE_CLI_ARGS"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(cli.Main(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestKillDuringRangeSync kills `acdbridge sessions sync` with SIGKILL in
// the middle of a range, runs it again, and checks that every session of
// the range is archived exactly once, as the simulator has it, with its
// recording's sha256 right.
func TestKillDuringRangeSync(t *testing.T) {
	eng := newSim(t, 12)
	ts := serve(t, eng, nil)
	since, until := simNow.Add(-11*time.Hour), simNow.Add(-time.Hour)
	want := truth(t, eng, since, until)
	if len(want) < 300 {
		t.Fatalf("the simulator made %d sessions; the test wants more", len(want))
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bridge.hcl")
	// A low rate limit keeps the first run going long enough to be killed
	// in the middle.
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %q
source "remote_support" {
  url        = %q
  token      = %q
  rate_limit = 150
}
archive {
  concurrency = 4
}
`, filepath.Join(dir, "data"), ts.URL, token)), 0o600)
	args, _ := json.Marshal([]string{"sessions", "sync", "--config", cfg, "--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339), "--page-size", "25"})
	cmd := func() *exec.Cmd {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), "ACDBRIDGE_CLI_ARGS="+string(args))
		return c
	}

	first := cmd()
	out, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Stderr = os.Stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^sessions (\d+)/(\d+)`)
	sc := bufio.NewScanner(out)
	killedAt := -1
	for sc.Scan() {
		t.Log("first run: " + sc.Text())
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		done, _ := strconv.Atoi(m[1])
		total, _ := strconv.Atoi(m[2])
		if done > 0 && done < total {
			first.Process.Signal(syscall.SIGKILL)
			killedAt = done
			break
		}
	}
	first.Wait()
	if killedAt < 0 {
		t.Fatal("the first run ended before it could be killed in the middle")
	}
	st, err := archive.Open(context.Background(), archive.DriverSQLite, filepath.Join(dir, "data", "archive.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, _ := st.Count(context.Background())
	t.Logf("killed after %d sessions reported; %d in the archive; %d in the range", killedAt, n, len(want))
	if n >= int64(len(want)) {
		t.Fatalf("the archive already holds all %d sessions: the kill came too late", n)
	}

	second := cmd()
	second.Env = append(second.Env, "X=1")
	b, err := second.CombinedOutput()
	t.Logf("second run:\n%s", b)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if !regexp.MustCompile(`done: \d+ sessions in the range`).Match(b) {
		t.Fatal("the second run did not say it was done")
	}
	// It resumed: its first progress line already counts what the first
	// run archived (from the checkpoint).
	first2 := regexp.MustCompile(`(?m)^sessions (\d+)/(\d+)`).FindSubmatch(b)
	if first2 == nil {
		t.Fatal("the second run printed no progress")
	}
	if resumed, _ := strconv.Atoi(string(first2[1])); resumed == 0 || int64(resumed) > n {
		t.Fatalf("the second run started at %d sessions; want it to resume from the first run's checkpoint (%d archived)", resumed, n)
	}
	checkAgainstTruth(t, st, filepath.Join(dir, "data", "recordings"), want)
	if m := tempFiles(t, filepath.Join(dir, "data", "recordings")); len(m) != 0 {
		t.Fatalf("temporary files of the killed run left: %v", m)
	}
	// Exactly once in every table holding a row per session.
	for _, table := range []string{"sessions", "recordings"} {
		var rows, distinct int
		st.DB().QueryRow("SELECT COUNT(*), COUNT(DISTINCT "+map[string]string{"sessions": "id", "recordings": "session_id"}[table]+") FROM "+table).Scan(&rows, &distinct)
		if rows != len(want) || distinct != len(want) {
			t.Fatalf("%s: %d rows, %d distinct; want %d", table, rows, distinct, len(want))
		}
	}
}
