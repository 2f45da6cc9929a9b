package reconnect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var errRefused = errors.New("refused")

// The loop's whole story, scripted: each attempt's outcome, and the
// waits it announces, which must follow the policy exactly.
func TestRunFollowsThePolicy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// d: a failed dial; r: a refusal; s: a dial that succeeds and a
	// connection that ends at once; l: one that ends after lasting Max;
	// x: a dial that succeeds, served until the loop stops.
	script := "ddddrrrsdrrlsssllx"
	var clock time.Time // moved by Serve only: the time connections last
	var mu sync.Mutex
	var log []string
	step := 0
	p := Policy{Min: time.Microsecond, Max: 4 * time.Microsecond, RefusedMin: 10 * time.Microsecond, RefusedMax: 30 * time.Microsecond}
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, fmt.Sprintf(format, args...))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop[int]{
			Policy: p,
			Dial: func(context.Context) (int, error) {
				s := script[step]
				step++
				switch s {
				case 'd':
					return 0, errors.New("connection refused")
				case 'r':
					return 0, errRefused
				}
				return step, nil
			},
			Refused: func(err error) bool { return errors.Is(err, errRefused) },
			Failed:  func(err error, refused bool, in time.Duration) { note("failed refused=%v in %s", refused, in) },
			Serve: func(ctx context.Context, c int) error {
				note("serve %d", c)
				if script[c-1] == 'l' {
					clock = clock.Add(p.Max)
				}
				if script[c-1] == 'x' {
					cancel()
					<-ctx.Done()
					return ctx.Err()
				}
				return errors.New("dropped")
			},
			Lost: func(err error, in time.Duration) { note("lost %v in %s", err, in) },
			Now:  func() time.Time { return clock },
		}.Run(ctx)
	}()
	<-done
	want := []string{
		"failed refused=false in 1µs", "failed refused=false in 2µs", "failed refused=false in 4µs", "failed refused=false in 4µs",
		"failed refused=true in 10µs", "failed refused=true in 20µs", "failed refused=true in 30µs",
		// A connection that ends at once does not reset the wait of the
		// failures before it; refusals start again from RefusedMin.
		"serve 8", "lost dropped in 4µs",
		"failed refused=false in 4µs", "failed refused=true in 10µs", "failed refused=true in 20µs",
		// One that lasted Max does; then quick drops double it again.
		"serve 12", "lost dropped in 1µs",
		"serve 13", "lost dropped in 2µs",
		"serve 14", "lost dropped in 4µs",
		"serve 15", "lost dropped in 4µs",
		"serve 16", "lost dropped in 1µs",
		"serve 17", "lost dropped in 1µs",
		"serve 18",
	}
	if got := strings.Join(log, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("the loop did:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// A loop stopped while it waits returns without another attempt.
func TestRunStopsWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	Loop[int]{
		Policy:  Policy{Min: time.Hour, Max: time.Hour, RefusedMin: time.Hour, RefusedMax: time.Hour},
		Dial:    func(context.Context) (int, error) { attempts++; return 0, errRefused },
		Refused: func(error) bool { return true },
		Failed:  func(error, bool, time.Duration) { cancel() },
	}.Run(ctx)
	if attempts != 1 {
		t.Fatalf("%d attempts, want 1", attempts)
	}
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep on an ended context slept")
	}
}
