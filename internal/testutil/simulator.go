package testutil

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/acdbridge/acdbridge/simulator"
)

// ServeSimulator serves eng's Remote Support API v1 over an httptest
// server (its handler wrapped by wrap, when not nil) until t ends, and
// returns the server (its URL is the source's).
func ServeSimulator(t testing.TB, eng *simulator.Engine, opts simulator.Options, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	srv, err := simulator.NewServer(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs
}
