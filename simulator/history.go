package simulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// history is the sessions that ended before the simulator started
// (--history). They are not stored: each hour of history is a pure function
// of the seed, the scenario and the hour, made when a client asks for it and
// kept in a small cache, so 90 days of history for 100,000 agents cost no
// memory until read.
type history struct {
	e        *Engine
	from, to int64 // [from, to) in simulated Unix nanoseconds
	members  [][]*agent

	mu    sync.Mutex
	cache map[int64][]histSession
	order []int64
}

type histSession struct {
	id         string
	agent      *agent
	queue      *queue
	start, end int64
	extRef     string
}

const historyCacheHours = 4

func newHistory(e *Engine) *history {
	h := &history{e: e, to: e.start, from: e.start - int64(e.sc.History), cache: map[int64][]histSession{}}
	h.members = make([][]*agent, len(e.queues))
	for _, a := range e.agents {
		for _, q := range a.queues {
			h.members[q.idx] = append(h.members[q.idx], a)
		}
	}
	return h
}

// hour returns the history sessions that ended in the hour starting at
// hourIdx*3600 s, sorted by end time then id.
func (h *history) hour(hourIdx int64) []histSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.cache[hourIdx]; ok {
		return s
	}
	s := h.generate(hourIdx)
	if len(h.order) >= historyCacheHours {
		delete(h.cache, h.order[0])
		h.order = h.order[1:]
	}
	h.cache[hourIdx] = s
	h.order = append(h.order, hourIdx)
	return s
}

func (h *history) generate(hourIdx int64) []histSession {
	e := h.e
	rng := rand.New(rand.NewPCG(e.sc.Seed^0x486973746f7279, uint64(hourIdx)))
	begin := hourIdx * int64(time.Hour)
	var out []histSession
	for _, q := range e.queues {
		members := h.members[q.idx]
		lambda := q.rate * 3600 * q.factor(begin) * 0.95 // about 5 % give up
		n := poisson(rng, lambda)
		if len(members) == 0 {
			continue
		}
		for range n {
			end := begin + rng.Int64N(int64(time.Hour))
			d := math.Exp(e.durMu + e.durSigma*rng.NormFloat64())
			d = min(max(d, 30), 8*3600)
			s := histSession{agent: members[rng.IntN(len(members))], queue: q, start: end - int64(d*1e9), end: end}
			if rng.Float64() < 0.1 {
				s.extRef = fmt.Sprintf("CRM-%06d", rng.IntN(1000000))
			}
			if end >= h.from && end < h.to {
				out = append(out, s)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b histSession) int {
		switch {
		case a.end < b.end:
			return -1
		case a.end > b.end:
			return 1
		}
		return 0
	})
	stamp := time.Unix(0, begin).UTC().Format("2006010215")
	for i := range out {
		out[i].id = fmt.Sprintf("s-h%s-%06d", stamp, i)
	}
	return out
}

// lookup finds a history session by id.
func (h *history) lookup(id string) (histSession, bool) {
	rest, ok := strings.CutPrefix(id, "s-h")
	if !ok || len(rest) != 17 || rest[10] != '-' {
		return histSession{}, false
	}
	t, err := time.Parse("2006010215", rest[:10])
	if err != nil {
		return histSession{}, false
	}
	i, err := strconv.Atoi(rest[11:])
	if err != nil || i < 0 {
		return histSession{}, false
	}
	s := h.hour(t.Unix() / 3600)
	if i >= len(s) || s[i].id != id {
		return histSession{}, false
	}
	return s[i], true
}

func (h *history) info(s histSession) sessionInfo {
	return sessionInfo{
		id: s.id, requestID: "r-" + s.id[2:], agentID: s.agent.id, queue: s.queue.id,
		externalRef: s.extRef, start: s.start, end: s.end, history: true,
	}
}

// poisson draws from a Poisson distribution: Knuth's method for small means,
// the normal approximation for large ones.
func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(int(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())), 0)
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
