package monitors

import (
	"fmt"
	"testing"
	"time"
)

// benchRules evaluates 200 queue rules over 5,000 queues, once per
// iteration, the way the runtime does on every tick. wide: every rule
// watches every queue ("*": one million evaluations per pass); narrow: each
// rule watches its own department ("dept-NN/*": 25 queues each, the
// realistic case).
func benchRules(b *testing.B, wide bool) {
	const queues, rules = 5000, 200
	figs := make([]Figures, queues)
	for i := range figs {
		figs[i] = Figures{Queue: fmt.Sprintf("dept-%03d/q-%04d", i%rules, i), Waiting: i % 9, LongestWait: time.Duration(i%300) * time.Second,
			AgentsLoggedIn: i % 7, AgentsAvailable: i % 3}
	}
	e := NewEngine(0)
	for i := range rules {
		pattern := fmt.Sprintf("dept-%03d/*", i)
		if wide {
			pattern = "*/*"
		}
		r := Rule{Name: fmt.Sprintf("r%03d", i), Queues: []string{pattern}, When: fmt.Sprintf("waiting >= %d || longest_wait > %d", 5+i%4, 100+i),
			For: 30 * time.Second, KeepFiringFor: time.Minute}
		if _, err := e.Set(r, t0); err != nil {
			b.Fatal(err)
		}
	}
	now := t0
	e.Evaluate(figs, now) // the first pass builds the queue → rules cache
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(time.Second)
		e.Evaluate(figs, now)
	}
}

func BenchmarkRules5000Queues200RulesNarrow(b *testing.B) { benchRules(b, false) }
func BenchmarkRules5000Queues200RulesWide(b *testing.B)   { benchRules(b, true) }
