package bus

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults.
const (
	DefaultListen   = "127.0.0.1:4222"
	DefaultMaxAge   = 7 * 24 * time.Hour
	DefaultReplicas = 1
	// NoListener as Config.Listen runs the embedded server without a client
	// port: only this process reaches it (tests).
	NoListener = "-"
)

// dedupWindow is how long EVENTS remembers Nats-Msg-Ids: long enough to
// cover a bridge restart that replays the source's recent events.
const dedupWindow = time.Hour

// Config says where the bus is. An empty URL runs an embedded server.
type Config struct {
	URL       string        // external server or cluster ("nats://a:4222,nats://b:4222"); empty: embedded server
	CredsFile string        // NATS credentials file (external)
	TLS       TLSFiles      // external; client certificates optional
	DataDir   string        // embedded: JetStream store in DataDir/nats
	Listen    string        // embedded: client address, default "127.0.0.1:4222"; port -1 or 0: any free port; "-": no listener
	Replicas  int           // KV/stream replicas for a cluster (default 1)
	MaxAge    time.Duration // EVENTS: how long messages are kept (default 7 days)
}

// TLSFiles are the PEM files for TLS to an external server.
type TLSFiles struct {
	CAFile   string // verify the server with this CA instead of the system's
	CertFile string // client certificate, with KeyFile
	KeyFile  string
}

func (t TLSFiles) set() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// withDefaults fills in what was left empty.
func (c Config) withDefaults() Config {
	if c.URL == "" && c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	return c
}

// Validate checks the settings without touching the network or the disk.
// Errors name the setting as the config file spells it (bus.url, ...).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("bus.replicas is %d: expected 1 to 5", c.Replicas))
	}
	if c.MaxAge < time.Minute {
		errs = append(errs, fmt.Errorf("bus.max_age is %s: expected 1m or more", c.MaxAge))
	}
	if c.URL != "" {
		if err := checkURLs(c.URL); err != nil {
			errs = append(errs, err)
		}
		if c.Listen != "" {
			errs = append(errs, errors.New("bus.listen is for the embedded server: remove it, or remove bus.url to run the embedded server"))
		}
		if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
			errs = append(errs, errors.New("bus.tls: cert_file and key_file go together: set both or neither"))
		}
		return errors.Join(errs...)
	}
	if c.CredsFile != "" {
		errs = append(errs, errors.New("bus.creds_file is for an external server: set bus.url too, or remove it"))
	}
	if c.TLS.set() {
		errs = append(errs, errors.New("bus.tls is for an external server: set bus.url too, or remove it"))
	}
	if c.Replicas != 1 {
		errs = append(errs, fmt.Errorf("bus.replicas is %d: the embedded server is a single node, so expected 1; replicas need a NATS cluster in bus.url", c.Replicas))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty: the embedded NATS server keeps its JetStream store in data_dir/nats"))
	}
	if _, _, err := parseListen(c.Listen); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseListen reads Listen: "-" (no listener) or a loopback host:port.
// Port -1 or 0 is any free port.
func parseListen(listen string) (host string, port int, err error) {
	if listen == NoListener {
		return "127.0.0.1", 0, nil
	}
	h, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("bus.listen %q: expected host:port such as %q, or %q: %w", listen, DefaultListen, NoListener, err)
	}
	ip := net.ParseIP(h)
	if ip == nil || !ip.IsLoopback() {
		return "", 0, fmt.Errorf("bus.listen %q: expected a loopback address such as 127.0.0.1: the embedded server is for this machine only; for other machines run a NATS server and set bus.url", listen)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("bus.listen %q: port %q: expected 1 to 65535, or -1 for any free port", listen, p)
	}
	if port == 0 {
		port = -1 // nats-server reads 0 as its default, 4222
	}
	return h, port, nil
}

// checkURLs checks a comma-separated list of server URLs as nats.Connect
// takes them.
func checkURLs(list string) error {
	for raw := range strings.SplitSeq(list, ",") {
		s := strings.TrimSpace(raw)
		if s == "" {
			return fmt.Errorf("bus.url %q: empty entry: expected nats://host:port[,nats://host:port...]", redactURLs(list))
		}
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("bus.url %q: expected nats://host:port: %w", redactURLs(raw), errors.Unwrap(err))
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("bus.url %q: scheme %q: expected nats, tls, ws or wss", redactURLs(raw), u.Scheme)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("bus.url %q: expected a host, as in nats://host:4222", redactURLs(raw))
		}
	}
	return nil
}

// redactURLs hides user information (user and password, or a token) in a
// comma-separated list of URLs, for logs and errors.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		at := strings.LastIndex(p, "@")
		if at < 0 {
			continue
		}
		start := 0
		if k := strings.Index(p, "://"); k >= 0 && k < at {
			start = k + 3
		}
		parts[i] = p[:start] + "REDACTED" + p[at:]
	}
	return strings.Join(parts, ",")
}

// ClientOptions are the credentials and TLS options for connecting to the
// configured external server, for outside tools such as `events tail`.
func (c Config) ClientOptions() []nats.Option {
	var opts []nats.Option
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLS.CAFile))
	}
	if c.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLS.CertFile, c.TLS.KeyFile))
	}
	return opts
}
