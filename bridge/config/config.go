// Package config reads the bridge's HCL configuration: the schema, defaults,
// the env() and file() functions for secrets, and validation whose errors
// name the file, line, column and field. Unknown blocks and attributes are
// errors.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/bridge/directory"
	"github.com/acdbridge/acdbridge/monitors"
)

// Config is the bridge's configuration, validated and with defaults applied.
type Config struct {
	File         string
	DataDir      string
	Source       *Source    // nil: the in-process simulator is the source
	Simulator    Simulator  // the in-process simulator's settings
	Bus          bus.Config // DataDir is set from data_dir
	Availability availability.Rules
	API          API
	PluginsDir   string    // external adapter executables
	Adapters     []Adapter // adapter "TYPE" "NAME" blocks
	Directory    directory.Config
	Archive      Archive         // the archive block (archive.go); paths resolved with Resolved
	Rules        []monitors.Rule // rule and session_rule blocks (rules.go); read-only through the API
}

// Source is a remote-support service speaking the Remote Support API v1.
type Source struct {
	URL               string
	Token             string
	Stream            bool
	PollInterval      time.Duration
	ReconcileInterval time.Duration
	Timeout           time.Duration
	RateLimit         float64
	StaleAfter        time.Duration
}

// Simulator sizes the in-process simulator used when there is no source.
type Simulator struct {
	Agents, Queues int
	Seed           uint64
	Speed          float64
	History        time.Duration
}

// API is the bridge's own HTTP server.
type API struct {
	Listen string
	Tokens []Token // API bearer tokens; none: `run` makes an admin token for the run and prints it
}

// Token is one API bearer token: only its SHA-256 is kept.
type Token struct {
	Name   string
	Role   string // viewer, supervisor or admin
	SHA256 string // hex of the token's SHA-256
}

// Defaults is the configuration with no file: the in-process simulator, the
// embedded NATS server and everything on 127.0.0.1.
func Defaults() Config {
	return Config{
		DataDir:      "./data",
		Simulator:    Simulator{Agents: 50, Queues: 6, Seed: 1, Speed: 10},
		Bus:          bus.Config{Listen: bus.DefaultListen, DataDir: "./data"},
		Availability: availability.DefaultRules(),
		API:          API{Listen: "127.0.0.1:8080"},
		PluginsDir:   "./plugins",
		Adapters:     DefaultAdapters(),
		Archive:      DefaultArchive(),
	}
}

func defaultSource() Source {
	return Source{Stream: true, PollInterval: 10 * time.Second, ReconcileInterval: 60 * time.Second, Timeout: 10 * time.Second, RateLimit: 10, StaleAfter: 30 * time.Second}
}

// The file's raw form.
type file struct {
	DataDir      *string            `hcl:"data_dir"`
	Sources      []sourceBlock      `hcl:"source,block"`
	Simulator    *simulatorBlock    `hcl:"simulator,block"`
	Bus          *busBlock          `hcl:"bus,block"`
	Availability *availabilityBlock `hcl:"availability,block"`
	API          *apiBlock          `hcl:"api,block"`
	PluginsDir   *string            `hcl:"plugins_dir"`
	Adapters     []adapterBlock     `hcl:"adapter,block"`
	Directory    *directoryBlock    `hcl:"directory,block"`
	Archive      *archiveBlock      `hcl:"archive,block"`
	Rules        []ruleBlock        `hcl:"rule,block"`
	SessionRules []sessionRuleBlock `hcl:"session_rule,block"`
	Body         hcl.Body           `hcl:",body"`
}

type sourceBlock struct {
	Type              string    `hcl:"type,label"`
	URL               string    `hcl:"url"`
	Token             string    `hcl:"token"`
	Stream            *bool     `hcl:"stream"`
	PollInterval      *string   `hcl:"poll_interval"`
	ReconcileInterval *string   `hcl:"reconcile_interval"`
	Timeout           *string   `hcl:"timeout"`
	RateLimit         *float64  `hcl:"rate_limit"`
	StaleAfter        *string   `hcl:"stale_after"`
	Body              hcl.Body  `hcl:",body"`
	DefRange          hcl.Range `hcl:",def_range"`
}

type simulatorBlock struct {
	Agents  *int     `hcl:"agents"`
	Queues  *int     `hcl:"queues"`
	Seed    *int64   `hcl:"seed"`
	Speed   *float64 `hcl:"speed"`
	History *string  `hcl:"history"`
	Body    hcl.Body `hcl:",body"`
}

type busBlock struct {
	URL       *string   `hcl:"url"`
	CredsFile *string   `hcl:"creds_file"`
	Listen    *string   `hcl:"listen"`
	Replicas  *int      `hcl:"replicas"`
	MaxAge    *string   `hcl:"max_age"`
	TLS       *tlsBlock `hcl:"tls,block"`
	Body      hcl.Body  `hcl:",body"`
}

type tlsBlock struct {
	CAFile   *string  `hcl:"ca_file"`
	CertFile *string  `hcl:"cert_file"`
	KeyFile  *string  `hcl:"key_file"`
	Body     hcl.Body `hcl:",body"`
}

type availabilityBlock struct {
	UnavailableWhen *[]string          `hcl:"unavailable_when"`
	Precedence      *[]string          `hcl:"precedence"`
	Reason          *string            `hcl:"reason"`
	Reasons         *map[string]string `hcl:"reasons"`
	MinDwell        *string            `hcl:"min_dwell"`
	Body            hcl.Body           `hcl:",body"`
}

type apiBlock struct {
	Listen *string      `hcl:"listen"`
	Tokens []tokenBlock `hcl:"token,block"`
	Body   hcl.Body     `hcl:",body"`
}

type tokenBlock struct {
	Name     string    `hcl:"name,label"`
	Role     string    `hcl:"role"`
	SHA256   string    `hcl:"sha256"`
	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// Load reads and validates a configuration file.
func Load(path string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(src, path)
}

// EvalContext has the functions a configuration may call: env("NAME") reads
// an environment variable (an unset one is an error), file("PATH") reads a
// file's contents without the trailing newline. Both keep secrets out of the
// file.
func EvalContext() *hcl.EvalContext {
	return &hcl.EvalContext{Functions: map[string]function.Function{
		"env": stringFunc("name", func(name string) (string, error) {
			v, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set", name)
			}
			return v, nil
		}),
		"file": stringFunc("path", func(path string) (string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("read %s: %w", path, err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}),
	}}
}

// stringFunc is an HCL function of one string, named param, that returns a
// string.
func stringFunc(param string, impl func(string) (string, error)) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: param, Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := impl(args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(v), nil
		},
	})
}

// Parse reads and validates a configuration from HCL source.
func Parse(src []byte, filename string) (Config, error) {
	f, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return Config{}, diags
	}
	var raw file
	if diags := gohcl.DecodeBody(f.Body, EvalContext(), &raw); diags.HasErrors() {
		return Config{}, diags
	}
	c := Defaults()
	c.File = filename
	v := &validator{}
	if raw.DataDir != nil {
		c.DataDir = *raw.DataDir
		if c.DataDir == "" {
			v.fail(raw.Body, "data_dir", "expected a folder for the bridge's data, got an empty string")
		}
	}
	if len(raw.Sources) > 1 {
		v.failAt(raw.Sources[1].DefRange, "only one source block is supported; remove the others")
	}
	for _, sb := range raw.Sources {
		s := defaultSource()
		if sb.Type != "remote_support" {
			v.failAt(sb.DefRange, fmt.Sprintf("unknown source type %q: expected remote_support", sb.Type))
		}
		s.URL, s.Token = sb.URL, sb.Token
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fail(sb.Body, "url", fmt.Sprintf("expected an http or https URL like http://127.0.0.1:8089, got %q", s.URL))
		}
		if s.Token == "" {
			v.fail(sb.Body, "token", `expected the source's bearer token, like token = env("ACDBRIDGE_SOURCE_TOKEN"); got an empty string`)
		}
		if sb.Stream != nil {
			s.Stream = *sb.Stream
		}
		v.duration(sb.Body, "poll_interval", sb.PollInterval, time.Second, &s.PollInterval)
		v.duration(sb.Body, "reconcile_interval", sb.ReconcileInterval, time.Second, &s.ReconcileInterval)
		v.duration(sb.Body, "timeout", sb.Timeout, 100*time.Millisecond, &s.Timeout)
		v.duration(sb.Body, "stale_after", sb.StaleAfter, time.Second, &s.StaleAfter)
		if sb.RateLimit != nil {
			s.RateLimit = *sb.RateLimit
			if s.RateLimit <= 0 || s.RateLimit > 10000 {
				v.fail(sb.Body, "rate_limit", fmt.Sprintf("expected requests per second above 0 and at most 10000, got %g", s.RateLimit))
			}
		}
		c.Source = &s
	}
	if b := raw.Simulator; b != nil {
		if c.Source != nil {
			v.fail(raw.Body, "simulator", "a simulator block sizes the in-process simulator, which runs only without a source block; remove one of them")
		}
		s := &c.Simulator
		if b.Agents != nil {
			s.Agents = *b.Agents
			if s.Agents < 0 || s.Agents > 1_000_000 {
				v.fail(b.Body, "agents", fmt.Sprintf("expected 0 to 1000000, got %d", s.Agents))
			}
		}
		if b.Queues != nil {
			s.Queues = *b.Queues
			if s.Queues < 1 || s.Queues > 100_000 {
				v.fail(b.Body, "queues", fmt.Sprintf("expected 1 to 100000, got %d", s.Queues))
			}
		}
		if b.Seed != nil {
			if *b.Seed < 0 {
				v.fail(b.Body, "seed", fmt.Sprintf("expected 0 or more, got %d", *b.Seed))
			}
			s.Seed = uint64(*b.Seed)
		}
		if b.Speed != nil {
			s.Speed = *b.Speed
			if s.Speed <= 0 || s.Speed > 1e6 {
				v.fail(b.Body, "speed", fmt.Sprintf("expected more than 0 and at most 1000000, got %g", s.Speed))
			}
		}
		v.duration(b.Body, "history", b.History, 0, &s.History)
		if s.History > 90*24*time.Hour {
			v.fail(b.Body, "history", fmt.Sprintf("expected at most the 90-day retention, got %s", s.History))
		}
	}
	c.Bus.DataDir = c.DataDir
	if b := raw.Bus; b != nil {
		bc := &c.Bus
		set := func(dst *string, p *string) {
			if p != nil {
				*dst = *p
			}
		}
		set(&bc.URL, b.URL)
		if b.URL != nil && b.Listen == nil {
			bc.Listen = "" // the default listener is the embedded server's
		}
		set(&bc.Listen, b.Listen)
		set(&bc.CredsFile, b.CredsFile)
		if b.Replicas != nil {
			bc.Replicas = *b.Replicas
		}
		v.duration(b.Body, "max_age", b.MaxAge, 0, &bc.MaxAge)
		if t := b.TLS; t != nil {
			set(&bc.TLS.CAFile, t.CAFile)
			set(&bc.TLS.CertFile, t.CertFile)
			set(&bc.TLS.KeyFile, t.KeyFile)
		}
		// bus.Config knows its rules; each error names bus.<attribute>,
		// which points at the attribute in the block.
		if err := bc.Validate(); err != nil {
			for _, e := range unjoin(err) {
				attr, _, _ := strings.Cut(strings.TrimPrefix(e.Error(), "bus."), " ")
				attr = strings.TrimRight(attr, ":")
				v.failNamed(b.Body, attr, e.Error())
			}
		}
	}
	if b := raw.Availability; b != nil {
		states := []monitors.Status{monitors.InSession, monitors.Away, monitors.Offline}
		if b.UnavailableWhen != nil {
			states = nil
			for _, s := range *b.UnavailableWhen {
				states = append(states, monitors.Status(s))
			}
		}
		reason := availability.DefaultReason
		if b.Reason != nil {
			reason = *b.Reason
		}
		per := map[monitors.Status]string{}
		if b.Reasons != nil {
			for k, r := range *b.Reasons {
				per[monitors.Status(k)] = r
			}
		}
		var dwell time.Duration
		v.duration(b.Body, "min_dwell", b.MinDwell, 0, &dwell)
		rules, err := availability.NewRules(states, reason, per, dwell)
		if err != nil {
			v.fail(b.Body, "unavailable_when", err.Error())
		}
		if b.Precedence != nil {
			var order []monitors.Status
			for _, s := range *b.Precedence {
				order = append(order, monitors.Status(s))
			}
			if rules, err = rules.WithPrecedence(order); err != nil {
				v.fail(b.Body, "precedence", err.Error())
			}
		}
		c.Availability = rules
	}
	if b := raw.API; b != nil {
		if b.Listen != nil {
			c.API.Listen = *b.Listen
			v.listen(b.Body, "listen", c.API.Listen)
		}
		seen := map[string]bool{}
		for _, tb := range b.Tokens {
			switch {
			case seen[tb.Name]:
				v.failAt(tb.DefRange, fmt.Sprintf("token %q is declared twice", tb.Name))
			case tb.Role != "viewer" && tb.Role != "supervisor" && tb.Role != "admin":
				v.fail(tb.Body, "role", fmt.Sprintf("expected viewer, supervisor or admin, got %q", tb.Role))
			case !isSHA256Hex(tb.SHA256):
				v.fail(tb.Body, "sha256", "expected the token's SHA-256 as 64 hex digits (sha256sum of the token), never the token itself")
			}
			seen[tb.Name] = true
			c.API.Tokens = append(c.API.Tokens, Token{Name: tb.Name, Role: tb.Role, SHA256: strings.ToLower(tb.SHA256)})
		}
	}
	if raw.PluginsDir != nil {
		c.PluginsDir = *raw.PluginsDir
	}
	// A file says which adapters to run; only no file at all means the
	// default log adapter.
	c.Adapters = v.adapters(raw.Adapters)
	if raw.Directory != nil {
		c.Directory = v.directory(raw.Directory, filename)
	}
	if raw.Archive != nil {
		c.Archive = v.archive(raw.Archive)
	}
	c.Rules = v.rules(src, filename, raw.Rules, raw.SessionRules)
	if v.diags.HasErrors() {
		return Config{}, v.diags
	}
	return c, nil
}

type validator struct{ diags hcl.Diagnostics }

func (v *validator) failAt(rng hcl.Range, msg string) {
	v.diags = append(v.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: msg, Subject: rng.Ptr()})
}

// fail reports a bad attribute at its place in body (or the body's start).
func (v *validator) fail(body hcl.Body, attr, msg string) {
	v.failNamed(body, attr, attr+": "+msg)
}

// failNamed is fail with a message that names the attribute itself.
func (v *validator) failNamed(body hcl.Body, attr, msg string) {
	rng := body.MissingItemRange()
	if sb, ok := body.(*hclsyntax.Body); ok {
		if a, ok := sb.Attributes[attr]; ok {
			rng = a.Expr.Range()
		} else {
			for _, b := range sb.Blocks {
				if b.Type == attr {
					rng = b.DefRange()
				}
			}
		}
	}
	v.failAt(rng, msg)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (v *validator) duration(body hcl.Body, attr string, s *string, min time.Duration, dst *time.Duration) {
	if s == nil {
		return
	}
	d, err := parseDuration(*s)
	if err != nil {
		v.fail(body, attr, err.Error())
		return
	}
	if d < min {
		v.fail(body, attr, fmt.Sprintf("expected at least %s, got %s", min, *s))
		return
	}
	*dst = d
}

// parseDuration reads a Go duration, or days with d ("30d").
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days float64
		if _, err := fmt.Sscanf(n, "%g", &days); err == nil && days >= 0 && days <= 3650 && fmt.Sprint(days) == n {
			return time.Duration(days * float64(24*time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("expected a duration like 500ms, 10s, 5m, 2h or 30d, got %q", s)
	}
	return d, nil
}

func (v *validator) listen(body hcl.Body, attr, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		v.fail(body, attr, fmt.Sprintf("expected host:port like 127.0.0.1:8080, got %q", addr))
		return
	}
	if host == "" {
		v.fail(body, attr, fmt.Sprintf("expected an explicit host (127.0.0.1 keeps it private; 0.0.0.0 opens it to the network), got %q", addr))
	}
}

// Format renders an error from Load or Parse as lines of
// file:line:col: message, the way editors and CI annotate them.
func Format(err error) string {
	diags, ok := err.(hcl.Diagnostics)
	if !ok {
		return err.Error()
	}
	var b strings.Builder
	for _, d := range diags {
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: %s\n", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
		} else {
			fmt.Fprintln(&b, msg)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range strings.ToLower(s) {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
