package runtime

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/dispatch"
)

// agentView is one row of GET /api/v1/agents: the agent as last seen, the
// availability the bridge wants, and the version each adapter confirmed.
type agentView struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Status         string            `json:"status"`
	ActiveSessions int               `json:"active_sessions"`
	Queues         []string          `json:"queues"`
	StatusSince    time.Time         `json:"status_since"`
	Availability   *availabilityView `json:"availability"`
	Adapters       map[string]uint64 `json:"adapters_applied"`
}

type availabilityView struct {
	Available bool      `json:"available"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	Version   uint64    `json:"version"`
	Since     time.Time `json:"since"`
}

type queueView struct {
	ID                 string  `json:"id"`
	Waiting            int     `json:"waiting"`
	LongestWaitSeconds float64 `json:"longest_wait_seconds"`
	AgentsLoggedIn     int     `json:"agents_logged_in"`
	AgentsAvailable    int     `json:"agents_available"`
}

type adapterView struct {
	Type string `json:"type"`
	dispatch.Status
}

func (b *Bridge) views() api.Views {
	return api.Views{
		Agents: func() any {
			applied := map[string]map[string]uint64{}
			for _, w := range b.workers {
				applied[w.Status().Name] = w.Applied()
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			out := []agentView{}
			for _, a := range b.agents.All() {
				v := agentView{ID: a.ID, Name: a.Name, Status: string(a.Status), ActiveSessions: a.ActiveSessions, Queues: a.Queues,
					StatusSince: a.StatusSince, Adapters: map[string]uint64{}}
				if d, ok := b.avail.Get(a.ID); ok {
					v.Availability = &availabilityView{Available: d.Available, State: string(d.State), Reason: d.Reason, Version: d.Version, Since: d.Since}
				}
				for name, m := range applied {
					v.Adapters[name] = m[a.ID]
				}
				out = append(out, v)
			}
			return map[string]any{"agents": out, "stale": b.agents.Stale()}
		},
		Queues: func() any {
			out := []queueView{}
			for _, f := range b.QueueFigures() {
				out = append(out, queueView{ID: f.Queue, Waiting: f.Waiting, LongestWaitSeconds: f.LongestWait.Seconds(),
					AgentsLoggedIn: f.AgentsLoggedIn, AgentsAvailable: f.AgentsAvailable})
			}
			return map[string]any{"queues": out}
		},
		Adapters: func() any {
			out := []adapterView{}
			for i, w := range b.workers {
				out = append(out, adapterView{Type: b.opts.Config.Adapters[i].Type, Status: w.Status()})
			}
			return map[string]any{"adapters": out}
		},
	}
}

// apiTokens are the configured tokens, or, with none, an admin token made
// for this run; the token itself is shown once, on the console.
func (b *Bridge) apiTokens() []config.Token {
	if len(b.opts.Config.API.Tokens) > 0 {
		return b.opts.Config.API.Tokens
	}
	raw := make([]byte, 20)
	rand.Read(raw)
	tok := hex.EncodeToString(raw)
	sum := sha256.Sum256([]byte(tok))
	b.say("api: no token configured; one for this run, with the admin role: %s", tok)
	return []config.Token{{Name: "this-run", Role: "admin", SHA256: hex.EncodeToString(sum[:])}}
}
