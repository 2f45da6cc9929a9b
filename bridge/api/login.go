package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"
)

// A browser cannot put a bearer token on an EventSource, and a token kept
// in the page's storage is one script injection away from being stolen. So
// the dashboard trades its token, once, for a session: POST /api/v1/login
// with the token in a JSON body sets an HttpOnly, SameSite=Strict cookie
// holding a random session id; the server maps the id's SHA-256 to the
// token's name and role until the session expires or logs out. The token
// never appears in a URL, a cookie or a log.
//
// Requests authenticated by the cookie that change something must carry
// the header X-ACDBridge-CSRF: 1 (a page on another origin cannot send a
// custom header without a CORS preflight, which this server never grants)
// and, when the browser sends them, an Origin naming this server and a
// Sec-Fetch-Site of same-origin. Bearer requests need none of this: a
// browser never adds a bearer header by itself.

const (
	sessionCookie = "acdbridge_session"
	csrfHeader    = "X-ACDBridge-CSRF"
	sessionTTL    = 8 * time.Hour
	maxSessions   = 10000
)

// session is one logged-in dashboard.
type session struct {
	name, role string
	expires    time.Time
}

// sessions maps the SHA-256 of a session id to its session.
type sessions struct {
	mu  sync.Mutex
	m   map[string]session
	ttl time.Duration
	now func() time.Time
	// failed holds, per client address, a bucket of failed logins:
	// loginFailBurst at once, then one per loginFailEvery.
	failed map[string]*rate.Limiter
}

// Failed logins a client address may make: a burst, then one a period.
const (
	loginFailBurst = 5
	loginFailEvery = 10 * time.Second
	maxFailedHosts = 10000
)

func newSessions() *sessions {
	return &sessions{m: map[string]session{}, ttl: sessionTTL, now: time.Now, failed: map[string]*rate.Limiter{}}
}

// loginBlocked says whether host has used up its failed logins, and how
// long until it may try again.
func (s *sessions) loginBlocked(host string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.failed[host]
	if l == nil {
		return 0, false
	}
	left := l.TokensAt(s.now())
	if left >= 1 {
		return 0, false
	}
	return time.Duration((1 - left) * float64(loginFailEvery)), true
}

// loginFailed counts a failed login from host.
func (s *sessions) loginFailed(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.failed[host]
	if l == nil {
		if len(s.failed) >= maxFailedHosts {
			clear(s.failed) // bounded: many hosts at once start afresh
		}
		l = rate.NewLimiter(rate.Every(loginFailEvery), loginFailBurst)
		s.failed[host] = l
	}
	l.AllowN(s.now(), 1)
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// create starts a session and returns its id.
func (s *sessions) create(name, role string) (string, session) {
	raw := make([]byte, 32)
	rand.Read(raw)
	id := base64.RawURLEncoding.EncodeToString(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= maxSessions {
		// Expired ones first; if none, the one that expires soonest.
		var oldest string
		for k, v := range s.m {
			if !now.Before(v.expires) {
				delete(s.m, k)
			} else if oldest == "" || v.expires.Before(s.m[oldest].expires) {
				oldest = k
			}
		}
		if len(s.m) >= maxSessions {
			delete(s.m, oldest)
		}
	}
	ss := session{name: name, role: role, expires: now.Add(s.ttl)}
	s.m[sessionKey(id)] = ss
	return id, ss
}

// get is the session with that id, if it has not expired.
func (s *sessions) get(id string) (session, bool) {
	if s == nil || id == "" {
		return session{}, false
	}
	k := sessionKey(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[k]
	if ok && !s.now().Before(ss.expires) {
		delete(s.m, k)
		return session{}, false
	}
	return ss, ok
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	delete(s.m, sessionKey(id))
	s.mu.Unlock()
}

// checkCSRF refuses a cookie-authenticated request that changes something
// unless it shows it comes from the dashboard's own page.
func checkCSRF(r *http.Request) error {
	if r.Header.Get(csrfHeader) != "1" {
		return fmt.Errorf("a request with the session cookie that changes something needs the header %s: 1 (the dashboard sends it); got none", csrfHeader)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return fmt.Errorf("the request's Origin %q is not this server (%s)", o, r.Host)
		}
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return fmt.Errorf("the request comes from another site (Sec-Fetch-Site: %s); expected same-origin", site)
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

type whoami struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Via       string    `json:"via"` // cookie or bearer
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// login handles POST /api/v1/login: {"token": "..."} → the session cookie.
func (a auth) login(log hclog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := checkCSRF(r); err != nil {
			writeError(w, http.StatusForbidden, "permission_denied", err.Error())
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", fmt.Sprintf("expected Content-Type: application/json; got %q", r.Header.Get("Content-Type")))
			return
		}
		var body struct {
			Token string `json:"token"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || body.Token == "" {
			msg := `expected a JSON body {"token": "..."} with an API token`
			if err != nil {
				msg += "; " + err.Error()
			}
			writeErrorField(w, http.StatusBadRequest, "invalid_argument", msg, "token")
			return
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if wait, blocked := a.sessions.loginBlocked(host); blocked {
			secs := int(wait.Round(time.Second)/time.Second) + 1
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeError(w, http.StatusTooManyRequests, "resource_exhausted", fmt.Sprintf("too many failed logins from this address: try again in %d s", secs))
			return
		}
		tok := a.lookup(body.Token)
		if tok == nil {
			a.sessions.loginFailed(host)
			log.Warn("dashboard login refused: unknown token", "remote", r.RemoteAddr)
			writeErrorField(w, http.StatusUnauthorized, "unauthenticated", "this token is not one configured in api { token ... }", "token")
			return
		}
		if old, err := r.Cookie(sessionCookie); err == nil {
			// A login replaces the browser's session: the one it had ends
			// here rather than staying valid, unseen, until it expires.
			a.sessions.remove(old.Value)
		}
		id, ss := a.sessions.create(tok.Name, tok.Role)
		setSessionCookie(w, r, id, int(a.sessions.ttl.Seconds()))
		log.Info("dashboard login", "token", tok.Name, "role", tok.Role, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusOK, whoami{Name: tok.Name, Role: tok.Role, Via: "cookie", ExpiresAt: ss.expires.UTC()})
	}
}

// logout handles POST /api/v1/logout: the session ends and the cookie is
// cleared.
func (a auth) logout(log hclog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err == nil {
			if err := checkCSRF(r); err != nil {
				writeError(w, http.StatusForbidden, "permission_denied", err.Error())
				return
			}
			if ss, ok := a.sessions.get(c.Value); ok {
				log.Info("dashboard logout", "token", ss.name)
			}
			a.sessions.remove(c.Value)
		}
		setSessionCookie(w, r, "", -1)
		w.WriteHeader(http.StatusNoContent)
	}
}

// me handles GET /api/v1/session: who the caller is.
func me(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	out := whoami{Name: p.Name, Role: p.Role, Via: "bearer"}
	if p.session != "" {
		out.Via, out.ExpiresAt = "cookie", p.expires.UTC()
	}
	writeJSON(w, http.StatusOK, out)
}

// errSessionEnded ends a stream whose session logged out or expired.
var errSessionEnded = errors.New("the dashboard session ended (logged out or expired); log in again")
