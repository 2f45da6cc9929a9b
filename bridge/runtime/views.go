package runtime

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/dispatch"
)

// The rows of GET /api/v1/agents and /queues are the dashboard's rows too.
type (
	agentView = api.AgentRow
	queueView = api.QueueRow
)

type adapterView struct {
	Type string `json:"type"`
	dispatch.Status
}

func (b *Bridge) views() api.Views {
	return api.Views{
		Agents: func() any {
			applied := b.appliedNow()
			b.mu.Lock()
			defer b.mu.Unlock()
			out := []agentView{}
			for _, a := range b.agents.All() {
				out = append(out, b.agentRowLocked(a, applied))
			}
			return map[string]any{"agents": out, "stale": b.agents.Stale()}
		},
		Queues: func() any {
			out := []queueView{}
			states := b.QueueAlertStates()
			for _, f := range b.QueueFigures() {
				out = append(out, queueView{ID: f.Queue, Waiting: f.Waiting, LongestWaitSeconds: f.LongestWait.Seconds(),
					AgentsLoggedIn: f.AgentsLoggedIn, AgentsAvailable: f.AgentsAvailable, RuleState: string(states[f.Queue])})
			}
			return map[string]any{"queues": out}
		},
		Adapters: func() any { return map[string]any{"adapters": b.adapterViews()} },
		Stream:   b.stream,
	}
}

// adapterViews are the rows of GET /api/v1/adapters.
func (b *Bridge) adapterViews() []adapterView {
	out := []adapterView{}
	for i, w := range b.workers {
		out = append(out, adapterView{Type: b.opts.Config.Adapters[i].Type, Status: w.Status()})
	}
	return out
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
