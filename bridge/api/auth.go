package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/bridge/config"
)

// Roles, weakest first: a role may do what the weaker ones may.
var roles = map[string]int{"viewer": 1, "supervisor": 2, "admin": 3}

// auth checks bearer tokens against their SHA-256s; the tokens themselves
// are never kept. It also takes the dashboard's session cookie (login.go).
type auth struct {
	tokens   []config.Token
	sessions *sessions // nil: no cookie is taken
}

// principal is who made a request: a token's name and role, and the
// session when it came with the dashboard's cookie.
type principal struct {
	Name, Role string
	session    string // the session id; empty for a bearer token
	expires    time.Time
}

type principalKey struct{}

// principalFrom is who made the request, as require found it.
func principalFrom(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p, ok
}

// lookup is the configured token whose SHA-256 matches tok, or nil.
func (a auth) lookup(tok string) *config.Token {
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	got := hex.EncodeToString(sum[:])
	var found *config.Token
	for i := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(a.tokens[i].SHA256)) == 1 {
			found = &a.tokens[i]
		}
	}
	return found
}

// identify finds who made r: the bearer token when there is an
// Authorization header (a wrong one is not retried with the cookie), else
// the session cookie.
func (a auth) identify(r *http.Request) (principal, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return principal{}, false
		}
		if t := a.lookup(tok); t != nil {
			return principal{Name: t.Name, Role: t.Role}, true
		}
		return principal{}, false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if ss, ok := a.sessions.get(c.Value); ok {
			return principal{Name: ss.name, Role: ss.role, session: c.Value, expires: ss.expires}, true
		}
	}
	return principal{}, false
}

// require wraps h: 401 without a known token or session, 403 with a role
// too weak, and 403 for a cookie-authenticated change without the CSRF
// checks.
func (a auth) require(role string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.identify(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="acdbridge"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "expected Authorization: Bearer <token> with a token configured in api { token ... }, or the dashboard's session cookie (POST /api/v1/login)")
			return
		}
		if p.session != "" && !safeMethod(r.Method) {
			if err := checkCSRF(r); err != nil {
				writeError(w, http.StatusForbidden, "permission_denied", err.Error())
				return
			}
		}
		if roles[p.Role] < roles[role] {
			writeError(w, http.StatusForbidden, "permission_denied", "token "+p.Name+" has the role "+p.Role+"; this call needs "+role)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// writeErrorField is writeError naming the field at fault.
func writeErrorField(w http.ResponseWriter, status int, code, msg, field string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg, "field": field}})
}
