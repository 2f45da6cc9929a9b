package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/acdbridge/acdbridge/bridge/config"
)

// Roles, weakest first: a role may do what the weaker ones may.
var roles = map[string]int{"viewer": 1, "supervisor": 2, "admin": 3}

// auth checks bearer tokens against their SHA-256s; the tokens themselves
// are never kept.
type auth struct{ tokens []config.Token }

// require wraps h: 401 without a known token, 403 with a role too weak.
func (a auth) require(role string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		var found *config.Token
		if ok && strings.EqualFold(scheme, "Bearer") {
			sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
			got := hex.EncodeToString(sum[:])
			for i := range a.tokens {
				if subtle.ConstantTimeCompare([]byte(got), []byte(a.tokens[i].SHA256)) == 1 {
					found = &a.tokens[i]
				}
			}
		}
		if found == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="acdbridge"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "expected Authorization: Bearer <token> with a token configured in api { token ... }")
			return
		}
		if roles[found.Role] < roles[role] {
			writeError(w, http.StatusForbidden, "permission_denied", "token "+found.Name+" has the role "+found.Role+"; this call needs "+role)
			return
		}
		p := principal{Name: found.Name, Role: found.Role}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// principal is who made a request: the token's name and role.
type principal struct{ Name, Role string }

type principalKey struct{}

// principalFrom is who made the request, as require found it.
func principalFrom(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p, ok
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// writeErrorField is writeError naming the field at fault.
func writeErrorField(w http.ResponseWriter, status int, code, msg, field string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg, "field": field}})
}
