// Package host is the bridge's side of adapters: it finds them (built into
// this binary, or executables in the plugins folder), starts them as
// go-plugin processes over gRPC with mutual TLS, relays their logs, and gives
// the bridge an sdk.Client for each.
//
// Every adapter runs out of process, built-ins too: they run this same
// binary again as `acdbridge plugin serve NAME`, so a crash in an adapter
// never takes the bridge down.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/acdbridge/acdbridge/adapters/alertmanager"
	"github.com/acdbridge/acdbridge/adapters/asterisk"
	"github.com/acdbridge/acdbridge/adapters/freeswitch"
	logadapter "github.com/acdbridge/acdbridge/adapters/log"
	"github.com/acdbridge/acdbridge/adapters/rt"
	"github.com/acdbridge/acdbridge/adapters/sip"
	"github.com/acdbridge/acdbridge/adapters/webhook"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Builtins are the adapters compiled into acdbridge, by type: one explicit
// map, no init() registration. Each makes a fresh adapter logging to logger.
func Builtins() map[string]func(logger hclog.Logger) sdk.Adapter {
	return map[string]func(logger hclog.Logger) sdk.Adapter{
		"alertmanager": func(l hclog.Logger) sdk.Adapter { return alertmanager.New(l) },
		"asterisk":     func(l hclog.Logger) sdk.Adapter { return asterisk.New(l) },
		"freeswitch":   func(l hclog.Logger) sdk.Adapter { return freeswitch.New(l) },
		"log":          func(l hclog.Logger) sdk.Adapter { return logadapter.New(l) },
		"rt":           func(l hclog.Logger) sdk.Adapter { return rt.New(l) },
		"sip":          func(l hclog.Logger) sdk.Adapter { return sip.New(l) },
		"webhook":      func(l hclog.Logger) sdk.Adapter { return webhook.New(l) },
	}
}

// ServeBuiltin serves the built-in adapter typ in this process: the work of
// the hidden `acdbridge plugin serve NAME`.
func ServeBuiltin(typ string) error {
	mk, ok := Builtins()[typ]
	if !ok {
		return fmt.Errorf("no built-in adapter %q", typ)
	}
	sdk.Serve(mk(sdk.Logger(typ)))
	return nil
}

// Origin says where an adapter comes from.
type Origin string

// Origins.
const (
	Builtin  Origin = "built-in"
	External Origin = "external"
)

// Source is how to start one adapter type.
type Source struct {
	Type   string
	Origin Origin
	Path   string   // the executable
	Args   []string // its arguments
	Env    []string // added to the few variables every adapter gets (see Launch)
}

// Catalog finds adapters: the built-ins, served by Self, and the executables
// in PluginsDir, named after their type (an executable "asterisk" or
// "acdbridge-adapter-asterisk"). An external adapter overrides a built-in of
// the same type.
type Catalog struct {
	Self       string // this binary; built-ins run it as Self plugin serve TYPE
	PluginsDir string // may be empty
}

// NewCatalog finds this binary and uses pluginsDir.
func NewCatalog(pluginsDir string) (Catalog, error) {
	self, err := os.Executable()
	if err != nil {
		return Catalog{}, fmt.Errorf("find this binary to run built-in adapters: %w", err)
	}
	return Catalog{Self: self, PluginsDir: pluginsDir}, nil
}

const externalPrefix = "acdbridge-adapter-"

// Resolve finds how to start typ.
func (c Catalog) Resolve(typ string) (Source, error) {
	ext, err := c.external()
	if err != nil {
		return Source{}, err
	}
	if s, ok := ext[typ]; ok {
		return s, nil
	}
	if _, ok := Builtins()[typ]; ok {
		return Source{Type: typ, Origin: Builtin, Path: c.Self, Args: []string{"plugin", "serve", typ}}, nil
	}
	return Source{}, fmt.Errorf("no adapter of type %q: not built in (built-ins: %v) and no executable %q or %q in the plugins folder %q",
		typ, c.builtinNames(), typ, externalPrefix+typ, c.PluginsDir)
}

func (c Catalog) builtinNames() []string {
	var names []string
	for n := range Builtins() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// List is every adapter type found, by type: external ones override
// built-ins.
func (c Catalog) List() ([]Source, error) {
	ext, err := c.external()
	if err != nil {
		return nil, err
	}
	var out []Source
	for _, n := range c.builtinNames() {
		if _, over := ext[n]; !over {
			out = append(out, Source{Type: n, Origin: Builtin, Path: c.Self, Args: []string{"plugin", "serve", n}})
		}
	}
	for _, s := range ext {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out, nil
}

// external lists the executables in the plugins folder.
func (c Catalog) external() (map[string]Source, error) {
	out := map[string]Source{}
	if c.PluginsDir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(c.PluginsDir)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the plugins folder: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
			continue
		}
		typ := e.Name()
		if t, ok := cutPrefix(typ, externalPrefix); ok {
			typ = t
		}
		out[typ] = Source{Type: typ, Origin: External, Path: filepath.Join(c.PluginsDir, e.Name())}
	}
	return out, nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// Plugin is one running adapter process.
type Plugin struct {
	sdk.Client
	Source Source
	client *plugin.Client
}

// Launch starts src's process, does the handshake (protocol 1, the magic
// cookie, gRPC only, mutual TLS with certificates made for this run) and
// relays the adapter's stderr to logger. On any error the process is killed.
//
// An adapter does not inherit the bridge's environment, which holds the
// source's token and other adapters' secrets: it gets only PATH, HOME,
// TMPDIR, the locale, TZ and the CA settings, plus src.Env. Its settings
// (with the secrets its block reads through env() or file()) come in
// Configure. Starting gives up when ctx ends or after 30 s.
func Launch(ctx context.Context, src Source, logger hclog.Logger) (*Plugin, error) {
	cmd := exec.Command(src.Path, src.Args...)
	cmd.Env = append(passedEnv(), src.Env...)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          plugin.PluginSet{sdk.PluginName: &sdk.Plugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		StartTimeout:     30 * time.Second,
		Logger:           logger,
	})
	stop := context.AfterFunc(ctx, client.Kill)
	defer stop()
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start adapter %s (%s): %w", src.Type, src.Path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("adapter %s: %w", src.Type, err)
	}
	c, ok := raw.(sdk.Client)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("adapter %s: dispensed %T, not an adapter client", src.Type, raw)
	}
	return &Plugin{Client: c, Source: src, client: client}, nil
}

// passedEnv is the part of the bridge's environment an adapter gets.
func passedEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Exited says whether the process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Pid is the adapter process's id, or 0.
func (p *Plugin) Pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Kill ends the process (gracefully first, then by force).
func (p *Plugin) Kill() { p.client.Kill() }

// CleanupAll kills every adapter process still running; call it when the
// bridge exits.
func CleanupAll() { plugin.CleanupClients() }
