package source

import (
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// logEvery is how often at most one kind of repeated trouble is logged.
const logEvery = 10 * time.Second

// limitedLogger logs a kind of trouble at most once per logEvery, and says
// how many lines it held back since, so that a source sending garbage
// thousands of times a second cannot flood the log.
type limitedLogger struct {
	log   hclog.Logger
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	kinds map[string]*logState
}

type logState struct {
	last       time.Time
	suppressed int
}

func newLimitedLogger(log hclog.Logger) *limitedLogger {
	return &limitedLogger{log: log, every: logEvery, now: time.Now, kinds: make(map[string]*logState)}
}

// Log logs msg at level unless a line of the same kind was logged less
// than every ago. It reports whether it logged.
func (l *limitedLogger) Log(level hclog.Level, kind, msg string, args ...any) bool {
	l.mu.Lock()
	now := l.now()
	st := l.kinds[kind]
	if st == nil {
		st = &logState{}
		l.kinds[kind] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < l.every {
		st.suppressed++
		l.mu.Unlock()
		return false
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.log.Log(level, msg, args...)
	return true
}
