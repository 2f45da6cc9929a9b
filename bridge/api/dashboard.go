package api

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/hashicorp/go-hclog"
)

// The dashboard's files: plain HTML, CSS and JavaScript modules, served as
// they are (no build step), nothing loaded from anywhere else.
//
//go:embed dashboard
var dashboardFiles embed.FS

// pageHeaders are on every dashboard file: the page may load only its own
// files and talk only to this server, and may not be framed.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
}

// routeDashboard adds the page (GET /, its files under /assets/), login,
// logout, who-am-I, and the stream when there is one. The page is a shell:
// every piece of data comes from /api/v1 with a role.
func routeDashboard(mux *http.ServeMux, a auth, stream *Stream, log hclog.Logger) {
	sub, _ := fs.Sub(dashboardFiles, "dashboard")
	files := http.FileServerFS(sub)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w.Header())
		http.ServeFileFS(w, r, sub, "index.html")
	})
	mux.Handle("GET /assets/{file}", http.StripPrefix("/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w.Header())
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("POST /api/v1/login", a.login(log))
	mux.HandleFunc("POST /api/v1/logout", a.logout(log))
	mux.Handle("GET /api/v1/session", a.require("viewer", http.HandlerFunc(me)))
	if stream == nil {
		return
	}
	mux.Handle("GET /api/v1/stream", a.require("viewer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed func() error
		if p, _ := principalFrom(r.Context()); p.session != "" {
			allowed = func() error {
				if _, ok := a.sessions.get(p.session); !ok {
					return errSessionEnded
				}
				return nil
			}
		}
		stream.serve(w, r, allowed)
	})))
}
