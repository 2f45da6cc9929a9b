//go:build integration

package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the built binary (ACDBRIDGE_BIN, set by make integration).

func binary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("ACDBRIDGE_BIN")
	if bin == "" {
		t.Fatal("ACDBRIDGE_BIN is not set; run make integration")
	}
	return bin
}

// runBinary runs the binary with args to its end and returns its exit
// status, stdout and stderr.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	status := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return status, out.String(), errb.String()
}

type simProc struct {
	cmd   *exec.Cmd
	base  string
	token string
	tries []string
}

// startSim starts `acdbridge simulate` on a free port and reads what it
// prints at start.
func startSim(t *testing.T, args ...string) *simProc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"simulate", "--listen", "127.0.0.1:0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("simulator's log:\n%s", stderr.String())
		}
	})
	p := &simProc{cmd: cmd}
	sc := bufio.NewScanner(out)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "listening on "):
				p.base = strings.TrimPrefix(line, "listening on ")
			case strings.HasPrefix(line, "token: "):
				p.token, _, _ = strings.Cut(strings.TrimPrefix(line, "token: "), " ")
			case strings.HasPrefix(line, "  curl "):
				p.tries = append(p.tries, strings.TrimSpace(line))
			case strings.HasPrefix(line, "Ctrl-C"):
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the simulator printed no start banner; log:\n%s", stderr.String())
	}
	go io.Copy(io.Discard, out)
	if p.base == "" {
		t.Fatalf("no address in the banner; log:\n%s", stderr.String())
	}
	return p
}

func (p *simProc) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// terminate sends cmd SIGTERM and fails the test unless it exits cleanly
// within d.
func terminate(t *testing.T, cmd *exec.Cmd, d time.Duration) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("still running %d s after SIGTERM", int(d.Seconds()))
	}
}

// runCurl runs a curl command line in bash and returns the body and the
// HTTP status; curl's exit status 28 (--max-time reached) is not a failure.
func runCurl(t *testing.T, line string, env ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", "-c", line+` -w '\n%{http_code}'`)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 28) { // 28: --max-time reached
		t.Fatalf("%s: %v", line, err)
	}
	s := strings.TrimSpace(string(out))
	i := strings.LastIndexByte(s, '\n')
	var code int
	fmt.Sscan(s[i+1:], &code)
	return s[:max(i, 0)], code
}

func TestSimulatorBannerAndItsExamples(t *testing.T) {
	p := startSim(t, "--speed", "60", "--history", "1d")
	if len(p.token) != 32 {
		t.Fatalf("generated token %q, want 32 hex digits", p.token)
	}
	if len(p.tries) != 5 {
		t.Fatalf("banner shows %d examples, want 5: %v", len(p.tries), p.tries)
	}
	for _, line := range p.tries {
		if strings.Contains(line, "/stream") {
			line += " --max-time 3"
		}
		out, code := runCurl(t, line)
		if strings.Contains(line, "/stream") {
			if !strings.Contains(out, "retry: 2000") {
				t.Errorf("%s: %q", line, out)
			}
			continue
		}
		if code/100 != 2 || !json.Valid([]byte(out)) {
			t.Errorf("%s: status %d, body %s", line, code, out)
		}
	}
}

var curlLine = regexp.MustCompile(`(?m)^curl .*$`)

func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "simulator", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	p := startSim(t, "--speed", "60", "--history", "1d", "--token", "readme-token")
	p.token = "readme-token"
	env := "TOKEN=readme-token"
	// Make sure a session has ended and a request exists.
	time.Sleep(3 * time.Second)
	lines := curlLine.FindAllString(string(readme), -1)
	if len(lines) < 12 {
		t.Fatalf("found %d curl examples in the README", len(lines))
	}
	var page struct {
		Sessions []struct{ ID string } `json:"sessions"`
	}
	_, b := p.get(t, "/v1/sessions")
	json.Unmarshal(b, &page)
	if len(page.Sessions) == 0 {
		t.Fatalf("no sessions to read: %s", b)
	}
	sess := page.Sessions[len(page.Sessions)-1].ID
	dir := t.TempDir()
	for _, line := range lines {
		line = strings.ReplaceAll(line, "http://127.0.0.1:8089", p.base)
		line = strings.ReplaceAll(line, "s-000000001", sess)
		if strings.Contains(line, "/stream") {
			line += " --max-time 2"
		}
		if strings.Contains(line, "123456789") {
			// A fresh code for each line that uses one.
			code, status := runCurl(t, `curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"agent_id":"a-0002"}' `+p.base+`/v1/connection-codes`, env)
			var c struct{ Code string }
			if status != 201 || json.Unmarshal([]byte(code), &c) != nil {
				t.Fatalf("create a code: %d %s", status, code)
			}
			line = strings.ReplaceAll(line, "123456789", c.Code)
		}
		t.Run(line, func(t *testing.T) {
			body, status := runCurl(t, "cd "+dir+" && "+line, env)
			switch {
			case strings.Contains(line, "/stream"):
				if !strings.Contains(body, "retry: 2000") {
					t.Fatalf("stream: %q", body)
				}
			case strings.Contains(line, "/join"):
				// The agent may be offline in this run: 409 says so clearly.
				if status != 201 && status != 409 {
					t.Fatalf("status %d, body %s", status, body)
				}
			case strings.Contains(line, "-o part.rec"):
				if status != 206 {
					t.Fatalf("status %d", status)
				}
				if st, err := os.Stat(filepath.Join(dir, "part.rec")); err != nil || st.Size() != 1024 {
					t.Fatalf("part.rec: %v %v", st, err)
				}
			default:
				if status/100 != 2 {
					t.Fatalf("status %d, body %s", status, body)
				}
				if body != "" && !json.Valid([]byte(body)) {
					t.Fatalf("not JSON: %s", body)
				}
			}
		})
	}
}

func TestSimulatorAuthAndShutdown(t *testing.T) {
	p := startSim(t, "--token", "s3cret")
	for _, h := range []string{"", "Bearer wrong", "s3cret", "Basic czNjcmV0"} {
		req, _ := http.NewRequest("GET", p.base+"/v1/monitors/agents", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error struct{ Code string } }
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 401 || e.Error.Code != "unauthenticated" {
			t.Errorf("Authorization %q: %d %q, want 401 unauthenticated", h, resp.StatusCode, e.Error.Code)
		}
	}
	p.token = "s3cret"
	if code, b := p.get(t, "/v1/monitors/queues"); code != 200 {
		t.Fatalf("with the token: %d %s", code, b)
	}
	// A stream is open while it shuts down: SIGTERM still ends it cleanly.
	req, _ := http.NewRequest("GET", p.base+"/v1/monitors/stream", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	terminate(t, p.cmd, 20*time.Second)
}

func TestSameSeedSameHistoryAcrossProcesses(t *testing.T) {
	args := []string{"--seed", "99", "--start", "2026-11-02T09:00:00Z", "--history", "2d", "--token", "t"}
	var bodies [2][]byte
	for i := range bodies {
		p := startSim(t, args...)
		p.token = "t"
		code, b := p.get(t, "/v1/sessions?since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00Z&limit=1000")
		if code != 200 {
			t.Fatalf("list: %d %s", code, b)
		}
		var page struct {
			Sessions []struct{ ID string } `json:"sessions"`
		}
		json.Unmarshal(b, &page)
		if len(page.Sessions) < 10 {
			t.Fatalf("only %d sessions: %s", len(page.Sessions), b)
		}
		bodies[i] = b
		for _, s := range page.Sessions[:10] {
			_, rec := p.get(t, "/v1/sessions/"+s.ID)
			bodies[i] = append(bodies[i], rec...)
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}
	if !bytes.Equal(bodies[0], bodies[1]) {
		t.Fatal("two runs with the same seed and start served different sessions")
	}
}

func TestExitStatuses(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("queue \"a\" {\n  rate_per_minute = -1\n}\n"), 0o644)
	tests := []struct {
		args   []string
		status int
		stderr string
		stdout string
	}{
		{[]string{"version"}, 0, "", "acdbridge "},
		{[]string{"simulate", "--agents", "-1"}, 2, "--agents: expected 0 to 1000000, got -1", ""},
		{[]string{"simulate", "--bogus"}, 2, "unknown flag: --bogus", ""},
		{[]string{"simulate", "--scenario", bad, "--agents", "5"}, 2, "with --scenario, set agents and queues in the file", ""},
		{[]string{"simulate", "--scenario", bad}, 1, "bad.hcl:2,21-23: Invalid rate_per_minute", ""},
		{[]string{"simulate", "--history", "soon"}, 2, `--history: invalid duration "soon"`, ""},
		{[]string{"simulate", "--history", "100d"}, 2, "longer than the retention", ""},
		{[]string{"nonsense"}, 2, `unknown command "nonsense"`, ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			status, out, errb := runBinary(t, tc.args...)
			if status != tc.status || !strings.Contains(errb, tc.stderr) || !strings.Contains(out, tc.stdout) {
				t.Fatalf("status %d, stderr %q, stdout %q; want %d, %q, %q", status, errb, out, tc.status, tc.stderr, tc.stdout)
			}
		})
	}
}
