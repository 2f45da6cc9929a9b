package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/hashicorp/go-hclog"
)

// pprofEnv names the environment variable that turns on Go's profiling
// endpoints (/debug/pprof/) for `acdbridge run`. It is off unless set, and
// the address must be a loopback one: profiles expose the process's memory.
const pprofEnv = "ACDBRIDGE_PPROF"

// startPprof serves net/http/pprof on the loopback address in
// ACDBRIDGE_PPROF, if set. It returns a function that stops the server.
func startPprof(log hclog.Logger) (stop func(), err error) {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return func() {}, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: expected host:port on a loopback address (e.g. 127.0.0.1:6060), got %q: %w", pprofEnv, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s: expected a loopback address (127.0.0.1, ::1 or localhost), got %q", pprofEnv, host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pprofEnv, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	log.Warn("profiling endpoints are on", "addr", ln.Addr().String(), "env", pprofEnv)
	return func() { _ = srv.Close() }, nil
}
