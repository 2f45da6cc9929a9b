package testutil

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// StartProcess starts cmd (a binary the integration suite built, with a
// subcommand) and returns a scanner of its standard output; at t's end it
// is killed, and its standard error logged when t failed.
func StartProcess(t *testing.T, cmd *exec.Cmd) *bufio.Scanner {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s %s stderr:\n%s", filepath.Base(cmd.Path), cmd.Args[1], stderr.String())
		}
	})
	sc := bufio.NewScanner(out)
	return sc
}

// WaitLine is the first group of re in the first line of sc that matches
// it; t fails when the output ends or 60 s pass without one.
func WaitLine(t *testing.T, sc *bufio.Scanner, re *regexp.Regexp) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case s, ok := <-found:
		if !ok {
			t.Fatalf("the output ended without a line like %s", re)
		}
		return s
	case <-time.After(60 * time.Second):
		t.Fatalf("no line like %s in 60 s", re)
	}
	return ""
}
