package simulator

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// MaxBodyBytes is the largest request body the API accepts.
const MaxBodyBytes = 1 << 20

// Options are the HTTP side's settings.
type Options struct {
	Token        string        // required on every call
	Logger       hclog.Logger  // nil: discard
	Heartbeat    time.Duration // stream heartbeat; 0: 15 s
	WriteTimeout time.Duration // a stream client that cannot take a write this long is dropped; 0: 10 s
}

// Server serves the Remote Support API v1 from an Engine.
type Server struct {
	e    *Engine
	opts Options
	log  hclog.Logger
	done chan struct{}
	once sync.Once

	faultMu sync.Mutex
	faults  Faults
	frng    *rand.Rand
}

// NewServer serves e's API. It starts with the scenario's faults.
func NewServer(e *Engine, opts Options) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("simulator: a token is required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	return &Server{
		e: e, opts: opts, log: opts.Logger, done: make(chan struct{}),
		faults: e.sc.Faults, frng: rand.New(rand.NewPCG(e.sc.Seed, 0xfa017)),
	}, nil
}

// Close ends every open stream; call it before shutting the HTTP server down.
func (s *Server) Close() { s.once.Do(func() { close(s.done) }) }

type methods map[string]http.HandlerFunc

// Handler is the API's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := map[string]methods{
		"/v1/monitors/agents":              {"GET": s.getAgents},
		"/v1/monitors/queues":              {"GET": s.getQueues},
		"/v1/monitors/stream":              {"GET": s.getStream},
		"/v1/requests":                     {"POST": s.postRequest},
		"/v1/requests/{id}":                {"GET": s.getRequest},
		"/v1/connection-codes":             {"POST": s.postCode},
		"/v1/connection-codes/{code}":      {"DELETE": s.deleteCode},
		"/v1/connection-codes/{code}/join": {"POST": s.joinCode},
		"/v1/sessions":                     {"GET": s.getSessions},
		"/v1/sessions/{id}":                {"GET": s.getSession},
		"/v1/sessions/{id}/recording":      {"GET": s.getRecording},
		"/v1/admin/faults":                 {"GET": s.getFaults, "POST": s.postFaults},
	}
	for path, m := range routes {
		admin := strings.HasPrefix(path, "/v1/admin/")
		mux.Handle(path, s.wrap(m, admin))
	}
	mux.Handle("/", s.wrap(nil, true))
	return mux
}

type faultKey struct{}

// wrap adds what every call goes through: panics become 500s, the token is
// checked, the body is bounded, the method is checked, and faults are
// injected (not on /v1/admin).
func (s *Server) wrap(m methods, admin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, &APIError{Status: 500, ErrorBody: ErrorBody{Code: "internal", Message: "internal error; the simulator's log has the details"}})
			}
		}()
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="acdbridge-simulator"`)
			writeError(w, &APIError{Status: http.StatusUnauthorized, ErrorBody: ErrorBody{Code: "unauthenticated",
				Message: "expected the header Authorization: Bearer <token>, with the token the simulator printed at start"}})
			return
		}
		if m == nil {
			writeError(w, notFound("no such call: %s %s; the calls are listed in openapi.yaml", r.Method, r.URL.Path))
			return
		}
		h, ok := m[r.Method]
		if !ok {
			allowed := slices.Sorted(maps.Keys(m))
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, &APIError{Status: http.StatusMethodNotAllowed, ErrorBody: ErrorBody{Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s; expected %s", r.Method, r.URL.Path, strings.Join(allowed, " or "))}})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if !admin {
			f := s.currentFaults()
			if f.LatencyMS > 0 {
				select {
				case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			switch s.roll(f) {
			case faultError:
				writeError(w, &APIError{Status: http.StatusServiceUnavailable, ErrorBody: ErrorBody{Code: "unavailable", Message: "injected fault: service unavailable, try again"}})
				return
			case faultMalformed:
				r = r.WithContext(contextWithFault(r, faultMalformed))
			case faultErrorBody:
				r = r.WithContext(contextWithFault(r, faultErrorBody))
			}
		}
		h(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.opts.Token)) == 1
}

// writeJSON answers with v as JSON, or with the fault the call drew.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &APIError{Status: 500, ErrorBody: ErrorBody{Code: "internal", Message: "encode response: " + err.Error()}})
		return
	}
	if status == http.StatusOK {
		switch faultOf(r) {
		case faultMalformed:
			b = b[:len(b)/2]
		case faultErrorBody:
			b, _ = json.Marshal(ErrorJSON{Error: ErrorBody{Code: "internal", Message: "injected fault: an error body behind a 200"}})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// answer writes out as JSON with status, or err when the call failed.
func answer(w http.ResponseWriter, r *http.Request, status int, out any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, r, status, out)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = &APIError{Status: 500, ErrorBody: ErrorBody{Code: "internal", Message: err.Error()}}
	}
	b, _ := json.Marshal(ErrorJSON{Error: ae.ErrorBody})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(ae.Status)
	w.Write(append(b, '\n'))
}

func (s *Server) getAgents(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, s.e.Agents())
}

func (s *Server) getQueues(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, s.e.Queues())
}

func (s *Server) postRequest(w http.ResponseWriter, r *http.Request) {
	in, err := decodeNewRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := s.e.CreateRequest(in)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/requests/"+out.ID)
	writeJSON(w, r, http.StatusCreated, out)
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) {
	out, err := s.e.Request(r.PathValue("id"))
	answer(w, r, http.StatusOK, out, err)
}

func (s *Server) postCode(w http.ResponseWriter, r *http.Request) {
	var in NewCode
	if err := decodeJSON(r, &in, false); err != nil {
		writeError(w, err)
		return
	}
	out, err := s.e.CreateCode(in)
	answer(w, r, http.StatusCreated, out, err)
}

func (s *Server) deleteCode(w http.ResponseWriter, r *http.Request) {
	if err := s.e.CancelCode(r.PathValue("code")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) joinCode(w http.ResponseWriter, r *http.Request) {
	var in JoinRequest
	if err := decodeJSON(r, &in, true); err != nil {
		writeError(w, err)
		return
	}
	out, err := s.e.JoinCode(r.PathValue("code"), in)
	answer(w, r, http.StatusCreated, out, err)
}

func (s *Server) getSessions(w http.ResponseWriter, r *http.Request) {
	q, err := parseSessionQuery(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := s.e.Sessions(q)
	answer(w, r, http.StatusOK, out, err)
}

func parseSessionQuery(v url.Values) (SessionQuery, error) {
	var q SessionQuery
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, invalid(name, "expected an RFC 3339 time like 2026-11-01T00:00:00Z, got %q", s)
			}
			*dst = t
		}
	}
	q.After = v.Get("after")
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return q, invalid("limit", "expected a whole number from 1 to 1000, got %q", s)
		}
		q.Limit = n
	}
	for k := range v {
		switch k {
		case "since", "until", "after", "limit":
		default:
			return q, invalid(k, "unknown parameter %q; expected since, until, after or limit", k)
		}
	}
	return q, nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	out, err := s.e.Session(r.PathValue("id"))
	answer(w, r, http.StatusOK, out, err)
}

func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) {
	rs, rec, err := s.e.Recording(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+rec.Recording.SHA256+`"`)
	w.Header().Set("Content-Disposition", `attachment; filename="`+rec.ID+`.rec"`)
	http.ServeContent(&rangeErrorWriter{ResponseWriter: w}, r, "", rec.EndedAt, rs)
}

// rangeErrorWriter turns http.ServeContent's plain-text 416 into the API's
// error shape.
type rangeErrorWriter struct {
	http.ResponseWriter
	swallow bool
}

func (w *rangeErrorWriter) WriteHeader(code int) {
	if code == http.StatusRequestedRangeNotSatisfiable {
		w.swallow = true
		h := w.Header()
		h.Del("Content-Length")
		h.Del("X-Content-Type-Options")
		writeError(w.ResponseWriter, &APIError{Status: code, ErrorBody: ErrorBody{Code: "out_of_range", Field: "Range",
			Message: "the requested range is outside the recording; its size is in Content-Range"}})
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rangeErrorWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, s.currentFaults())
}

// postFaults changes the faults; properties left out keep their value.
func (s *Server) postFaults(w http.ResponseWriter, r *http.Request) {
	s.faultMu.Lock()
	f := s.faults
	s.faultMu.Unlock()
	if err := decodeJSON(r, &f, false); err != nil {
		writeError(w, err)
		return
	}
	for name, v := range map[string]float64{"error_rate": f.ErrorRate, "malformed_rate": f.MalformedRate, "error_body_rate": f.ErrorBodyRate, "stream_drop_rate": f.StreamDropRate} {
		if v < 0 || v > 1 {
			writeError(w, invalid(name, "expected a share from 0 to 1, got %g", v))
			return
		}
	}
	if f.LatencyMS < 0 || f.LatencyMS > 60000 {
		writeError(w, invalid("latency_ms", "expected 0 to 60000 milliseconds, got %d", f.LatencyMS))
		return
	}
	s.faultMu.Lock()
	s.faults = f
	s.faultMu.Unlock()
	s.log.Info("faults changed", "error_rate", f.ErrorRate, "latency_ms", f.LatencyMS, "malformed_rate", f.MalformedRate, "error_body_rate", f.ErrorBodyRate, "stream_drop_rate", f.StreamDropRate)
	writeJSON(w, r, http.StatusOK, f)
}

// decodeJSON reads a JSON body into v, strictly: unknown fields, wrong
// types and trailing data are errors that say where. With optional, an
// empty body leaves v as it is.
func decodeJSON(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if optional && len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &APIError{Status: http.StatusUnsupportedMediaType, ErrorBody: ErrorBody{Code: "unsupported_media_type",
				Message: fmt.Sprintf("expected Content-Type application/json, got %q", ct)}}
		}
	}
	return unmarshalStrict(body, v)
}

func unmarshalStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return invalid("", "expected one JSON object, got more data after it")
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		return invalid("", "expected one JSON object, got more data after it")
	}
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &APIError{Status: http.StatusRequestEntityTooLarge, ErrorBody: ErrorBody{Code: "too_large",
			Message: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)}}
	}
	return invalid("", "could not read the body: %v", err)
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return invalid("", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		return invalid(field, "expected %s for %q, got a JSON %s", te.Type, field, te.Value)
	case errors.Is(err, io.EOF):
		return invalid("", "expected a JSON object, got an empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "malformed JSON: the body ends in the middle of a value")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "unknown field %q", name)
	}
	return invalid("", "malformed JSON: %v", err)
}

// decodeNewRequest reads a customer request posted as JSON or as a web form
// (application/x-www-form-urlencoded), where fields[NAME] carries the free
// and hidden fields.
func decodeNewRequest(r *http.Request) (NewRequest, error) {
	var in NewRequest
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "application/json":
		return in, decodeJSON(r, &in, false)
	case "application/x-www-form-urlencoded":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return in, bodyError(err)
		}
		return parseRequestForm(string(body))
	default:
		return in, &APIError{Status: http.StatusUnsupportedMediaType, ErrorBody: ErrorBody{Code: "unsupported_media_type",
			Message: fmt.Sprintf("expected Content-Type application/json or application/x-www-form-urlencoded, got %q", ct)}}
	}
}

func parseRequestForm(body string) (NewRequest, error) {
	var in NewRequest
	vals, err := url.ParseQuery(body)
	if err != nil {
		return in, invalid("", "malformed form body: %v", err)
	}
	for k, vs := range vals {
		if len(vs) != 1 {
			return in, invalid(k, "expected %q once, got it %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "queue":
			in.Queue = v
		case "name":
			in.Name = v
		case "email":
			in.Email = v
		case "problem":
			in.Problem = v
		default:
			name, ok := strings.CutPrefix(k, "fields[")
			if !ok || !strings.HasSuffix(name, "]") {
				return in, invalid(k, "unknown form field %q; expected queue, name, email, problem or fields[NAME]", k)
			}
			if in.Fields == nil {
				in.Fields = map[string]string{}
			}
			in.Fields[strings.TrimSuffix(name, "]")] = v
		}
	}
	return in, nil
}
