package testutil

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSyncBufferTakesConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}

// fatalTB records Fatalf and stops the caller, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, "the third call", time.Minute, time.Millisecond, func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}

	f := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		WaitFor(f, "nothing", 20*time.Millisecond, time.Millisecond, func() bool { return false })
	}()
	if f.msg != "gave up waiting for nothing" {
		t.Errorf("after the guard: %q, want it to give up", f.msg)
	}
}

func TestZeroFieldsNamesEveryZeroField(t *testing.T) {
	type inner struct {
		N     int
		S     []string
		M     map[string]int
		inner int // unexported: not looked at
	}
	type outer struct {
		A  string
		P  *inner
		In inner
		L  []inner
	}
	v := outer{A: "x", P: &inner{N: 1, S: []string{"", "y"}}, L: []inner{{N: 2, S: []string{"z"}, M: map[string]int{"k": 0}}}}
	got := strings.Join(ZeroFields(&v), " ")
	if want := "P.S[0] P.M In"; got != want {
		t.Fatalf("ZeroFields = %q, want %q", got, want)
	}
	full := outer{A: "x", P: &inner{N: 1, S: []string{"y"}, M: map[string]int{"k": 1}}, In: inner{N: 1, S: []string{"y"}, M: map[string]int{"k": 1}}, L: []inner{{N: 1, S: []string{"y"}, M: map[string]int{"k": 1}}}}
	if z := ZeroFields(full); len(z) != 0 {
		t.Fatalf("ZeroFields of a full value = %v, want none", z)
	}
}
