// Package api is the bridge's own HTTP server: /metrics, /healthz,
// /readyz, and the /api/v1 calls that read the monitors and the adapters,
// behind bearer tokens with roles, and the dashboard (GET /, its stream
// and its login: dashboard.go, stream.go, login.go). It binds 127.0.0.1
// unless told otherwise.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/acdbridge/acdbridge/bridge/config"
)

// Check is one readiness condition: nil when ready, else why not.
type Check func() error

// Server serves the bridge's HTTP API.
type Server struct {
	hs  *http.Server
	ln  net.Listener
	log hclog.Logger
}

// Views are what /api/v1 serves; each returns a value encoded as JSON.
type Views struct {
	Agents   func() any
	Queues   func() any
	Adapters func() any
	Stream   *Stream // the dashboard's GET /api/v1/stream; nil: none
	Rules    Rules   // /api/v1/rules and /api/v1/alerts (rules.go); nil: none
	Codes    Codes   // POST /api/v1/connection-codes (codes.go); nil: none
}

// New listens on addr and builds the handler: metrics from gatherer,
// readiness from checks (by name), /api/v1 from views behind tokens.
func New(addr string, gatherer prometheus.Gatherer, checks map[string]Check, views Views, tokens []config.Token, logger hclog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w (set api.listen to a free address)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: logger.StandardLogger(nil)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		failing := map[string]string{}
		for name, check := range checks {
			if err := check(); err != nil {
				failing[name] = err.Error()
			}
		}
		if len(failing) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failing": failing})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	a := auth{tokens: tokens, sessions: newSessions()}
	routeDashboard(mux, a, views.Stream, logger)
	routeRules(mux, a, views.Rules)
	routeCodes(mux, a, views.Codes)
	for path, view := range map[string]func() any{"/api/v1/agents": views.Agents, "/api/v1/queues": views.Queues, "/api/v1/adapters": views.Adapters} {
		if view == nil {
			continue
		}
		mux.Handle("GET "+path, a.require("viewer", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, view())
		})))
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if views.Stream != nil {
		hs.RegisterOnShutdown(views.Stream.Close) // streams never end by themselves
	}
	return &Server{
		hs:  hs,
		ln:  ln,
		log: logger,
	}, nil
}

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.hs.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
