package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

// The threshold rules and their alerts:
//
//	GET    /api/v1/rules          viewer      {"rules": [RuleDoc...]}
//	GET    /api/v1/rules/{name}   viewer      RuleDoc
//	PUT    /api/v1/rules/{name}   supervisor  RuleDoc (the name comes from the path) → 201 created, 200 replaced
//	DELETE /api/v1/rules/{name}   supervisor  204
//	GET    /api/v1/alerts         viewer      {"alerts": [AlertDoc...]}: firing, then recently resolved, newest first
//
// Rules from the config file are read-only: changing or deleting one is 409.

// Rules is what the rule and alert calls use; the runtime implements it.
type Rules interface {
	List() []RuleInfo
	Get(name string) (RuleInfo, bool)
	// Put adds or replaces an API rule on behalf of the token named by;
	// created says it is new. An invalid rule is a *monitors.RuleError.
	Put(r monitors.Rule, by string) (info RuleInfo, created bool, err error)
	Delete(name, by string) error
	Alerts() []monitors.Alert
}

// RuleInfo is a rule with its state and where it came from.
type RuleInfo struct {
	monitors.RuleStatus
	Origin string // OriginConfig or OriginAPI
}

// Where a rule came from.
const (
	OriginConfig = "config"
	OriginAPI    = "api"
)

// Errors a Rules implementation returns for 404 and 409.
var (
	ErrRuleNotFound = errors.New("no rule by that name")
	ErrReadOnly     = errors.New("the rule comes from the config file and is read-only; change it there")
)

// RuleDoc is a rule as JSON, in the API and in the file that keeps the
// API's rules across restarts.
type RuleDoc struct {
	Name          string            `json:"name"`
	Kind          string            `json:"kind"`
	Queues        []string          `json:"queues,omitempty"`
	When          string            `json:"when,omitempty"`
	For           string            `json:"for,omitempty"`
	KeepFiringFor string            `json:"keep_firing_for,omitempty"`
	RatingAtMost  int               `json:"rating_at_most,omitempty"`
	Unresolved    bool              `json:"unresolved,omitempty"`
	Severity      string            `json:"severity"`
	Labels        map[string]string `json:"labels"`
	Annotations   map[string]string `json:"annotations"`
	Origin        string            `json:"origin,omitempty"`     // output only
	ReadOnly      bool              `json:"read_only"`            // output only
	State         string            `json:"state,omitempty"`      // output only: inactive, pending or firing
	LastError     string            `json:"last_error,omitempty"` // output only: the last evaluation error
}

// NewRuleDoc is a rule's JSON.
func NewRuleDoc(r monitors.Rule) RuleDoc {
	d := RuleDoc{Name: r.Name, Kind: string(r.Kind), Queues: r.Queues, When: r.When, RatingAtMost: r.RatingAtMost, Unresolved: r.Unresolved,
		Severity: r.Severity, Labels: r.Labels, Annotations: r.Annotations, KeepFiringFor: FormatDuration(r.KeepFiringFor)}
	if r.Kind != monitors.SessionRuleKind {
		d.For = FormatDuration(r.For)
	}
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	return d
}

func ruleInfoDoc(i RuleInfo) RuleDoc {
	d := NewRuleDoc(i.Rule)
	d.Origin, d.ReadOnly, d.State, d.LastError = i.Origin, i.Origin == OriginConfig, string(i.State), i.LastError
	return d
}

// Rule is the rule a document describes; durations that do not parse are
// a *monitors.RuleError naming the field. The output-only fields are ignored.
func (d RuleDoc) Rule() (monitors.Rule, error) {
	r := monitors.Rule{Name: d.Name, Kind: monitors.RuleKind(d.Kind), Queues: d.Queues, When: d.When, RatingAtMost: d.RatingAtMost,
		Unresolved: d.Unresolved, Severity: d.Severity, Labels: d.Labels, Annotations: d.Annotations}
	for _, f := range []struct {
		name string
		s    string
		dst  *time.Duration
	}{{"for", d.For, &r.For}, {"keep_firing_for", d.KeepFiringFor, &r.KeepFiringFor}} {
		if f.s == "" {
			continue
		}
		v, err := time.ParseDuration(f.s)
		if err != nil || v < 0 {
			return monitors.Rule{}, &monitors.RuleError{Field: f.name, Msg: fmt.Sprintf("expected a duration like 30s, 5m or 1h, got %q", f.s)}
		}
		*f.dst = v
	}
	return r, nil
}

// FormatDuration writes a duration the short way: 1m rather than 1m0s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// AlertDoc is an alert as JSON.
type AlertDoc struct {
	Rule        string             `json:"rule"`
	Queue       string             `json:"queue"`
	Session     string             `json:"session,omitempty"`
	Status      string             `json:"status"`
	Severity    string             `json:"severity"`
	Labels      map[string]string  `json:"labels"`
	Annotations map[string]string  `json:"annotations"`
	StartsAt    time.Time          `json:"starts_at"`
	EndsAt      *time.Time         `json:"ends_at"` // null while firing
	Value       map[string]float64 `json:"value"`
}

// NewAlertDoc is an alert's JSON.
func NewAlertDoc(a monitors.Alert) AlertDoc {
	d := AlertDoc{Rule: a.Rule, Queue: a.Queue, Session: a.Session, Status: string(a.Status), Severity: a.Severity,
		Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt.UTC(), Value: a.Value}
	if !a.EndsAt.IsZero() {
		t := a.EndsAt.UTC()
		d.EndsAt = &t
	}
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	if d.Value == nil {
		d.Value = map[string]float64{}
	}
	return d
}

// maxRuleBody bounds a PUT's body.
const maxRuleBody = 64 << 10

func routeRules(mux *http.ServeMux, a auth, rules Rules) {
	if rules == nil {
		return
	}
	mux.Handle("GET /api/v1/rules", a.require("viewer", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		list := rules.List()
		docs := make([]RuleDoc, 0, len(list))
		for _, i := range list {
			docs = append(docs, ruleInfoDoc(i))
		}
		writeJSON(w, http.StatusOK, map[string]any{"rules": docs})
	})))
	mux.Handle("GET /api/v1/rules/{name}", a.require("viewer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, ok := rules.Get(r.PathValue("name"))
		if !ok {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no rule %q", r.PathValue("name")))
			return
		}
		writeJSON(w, http.StatusOK, ruleInfoDoc(i))
	})))
	mux.Handle("PUT /api/v1/rules/{name}", a.require("supervisor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", fmt.Sprintf("expected Content-Type: application/json, got %q", ct))
			return
		}
		var doc RuleDoc
		dec := json.NewDecoder(io.LimitReader(r.Body, maxRuleBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			field := ""
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				field = te.Field
			}
			writeErrorField(w, http.StatusBadRequest, "invalid_argument", "expected a rule as a JSON object: "+err.Error(), field)
			return
		}
		if doc.Name != "" && doc.Name != name {
			writeErrorField(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("name: the body says %q, the path %q; they must agree (or leave name out)", doc.Name, name), "name")
			return
		}
		doc.Name = name
		rule, err := doc.Rule()
		if err == nil {
			var info RuleInfo
			var created bool
			info, created, err = rules.Put(rule, principalName(r))
			if err == nil {
				status := http.StatusOK
				if created {
					status = http.StatusCreated
				}
				writeJSON(w, status, ruleInfoDoc(info))
				return
			}
		}
		writeRuleError(w, err)
	})))
	mux.Handle("DELETE /api/v1/rules/{name}", a.require("supervisor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := rules.Delete(r.PathValue("name"), principalName(r)); err != nil {
			writeRuleError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	mux.Handle("GET /api/v1/alerts", a.require("viewer", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		list := rules.Alerts()
		docs := make([]AlertDoc, 0, len(list))
		for _, al := range list {
			docs = append(docs, NewAlertDoc(al))
		}
		writeJSON(w, http.StatusOK, map[string]any{"alerts": docs})
	})))
}

// principalName is the name of the token (or dashboard login) that made
// the request, for the log of rule changes.
func principalName(r *http.Request) string {
	if p, ok := principalFrom(r.Context()); ok {
		return p.Name
	}
	return "unknown"
}

func writeRuleError(w http.ResponseWriter, err error) {
	if re, ok := monitors.IsRuleError(err); ok {
		writeErrorField(w, http.StatusBadRequest, "invalid_argument", re.Error(), re.Field)
		return
	}
	switch {
	case errors.Is(err, ErrRuleNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrReadOnly):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}
