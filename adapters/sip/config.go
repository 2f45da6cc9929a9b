package sip

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Config is the sip adapter's settings.
type Config struct {
	// Mode is "publish" (PUBLISH to a presence server, default) or
	// "server" (be the presence server: answer SUBSCRIBE, send NOTIFY).
	Mode *string `json:"mode"`

	// Address is the presence server's host:port (publish mode).
	Address string `json:"address"`
	// Transport is udp (default), tcp or tls (publish mode).
	Transport *string `json:"transport"`
	// TLSCAFile is a PEM file of CAs to trust for tls; default the system's.
	TLSCAFile string `json:"tls_ca_file"`
	// TLSServerName is the name expected in the server's certificate;
	// default the address's host.
	TLSServerName string `json:"tls_server_name"`
	// Username and Password are shared digest credentials.
	Username string `json:"username"`
	Password string `json:"password"`
	// UserIdentity and PasswordIdentity name the per-agent credentials in
	// the directory (default "sip_user", "sip_password"); they win over the
	// shared ones.
	UserIdentity     *string `json:"user_identity"`
	PasswordIdentity *string `json:"password_identity"`
	// Expires is the publication's lifetime (default 1h).
	Expires *string `json:"expires"`
	// DialogInfo also publishes dialog-info (Event: dialog) for BLF.
	DialogInfo bool `json:"dialog_info"`
	// Rate bounds PUBLISH requests per second (default 100).
	Rate *float64 `json:"rate"`

	// URIIdentity names the agent's SIP URI in the directory (default
	// "sip_uri"); Domain completes a value without "sip:" (a user part).
	URIIdentity *string `json:"uri_identity"`
	Domain      string  `json:"domain"`
	// BusyActivity is the RPID activity while in a session: on-the-phone
	// (default) or busy.
	BusyActivity *string `json:"busy_activity"`
	// Timeout bounds each transaction (default 5s).
	Timeout *string `json:"timeout"`

	// Listen is the server mode's host:port (default 127.0.0.1:5070).
	Listen *string `json:"listen"`
	// ListenTransports are the server mode's transports (default udp, tcp).
	ListenTransports []string `json:"listen_transports"`
	// MinExpires and MaxExpires bound subscriptions (default 60s, 1h).
	MinExpires *string `json:"min_expires"`
	MaxExpires *string `json:"max_expires"`
	// MaxSubscriptions bounds the subscriptions held (default 50,000); a
	// new one beyond it is answered 503 with Retry-After.
	MaxSubscriptions *int `json:"max_subscriptions"`
	// Watchers, when set, are the only subscribers let in, by digest user
	// name and password; Realm is the digest realm (default the domain,
	// else "acdbridge").
	Watchers map[string]string `json:"watchers"`
	Realm    string            `json:"realm"`
}

// Modes, transports, defaults and bounds.
const (
	ModePublish = "publish"
	ModeServer  = "server"

	DefaultURIIdentity      = "sip_uri"
	DefaultUserIdentity     = "sip_user"
	DefaultPasswordIdentity = "sip_password"
	DefaultListen           = "127.0.0.1:5070"
	DefaultExpires          = time.Hour
	MinPublishExpires       = 60 * time.Second
	DefaultMinExpires       = 60 * time.Second
	DefaultMaxExpires       = time.Hour
	DefaultRate             = 100
	DefaultTimeout          = 5 * time.Second
	MinTimeout              = 100 * time.Millisecond
	MaxTimeout              = time.Minute
	DefaultMaxSubscriptions = 50000
	MaxMaxSubscriptions     = 1000000
)

var settings = []sdk.Setting{
	{Name: "mode", Type: "string", Description: `"publish" (default: PUBLISH to a presence server) or "server" (be the presence server)`},
	{Name: "address", Type: "string", Description: "publish mode: the presence server's host:port, e.g. kamailio.example.com:5060 (required there)"},
	{Name: "transport", Type: "string", Description: `publish mode: "udp" (default), "tcp" or "tls"`},
	{Name: "tls_ca_file", Type: "string", Description: "tls: a PEM file of CAs to trust (default the system's)"},
	{Name: "tls_server_name", Type: "string", Description: "tls: the name in the server's certificate (default the address's host)"},
	{Name: "username", Type: "string", Description: "shared digest user name for 401/407 challenges"},
	{Name: "password", Type: "string", Secret: true, Description: "its password"},
	{Name: "user_identity", Type: "string", Description: `the identity with an agent's own digest user name (default "sip_user"); wins over username`},
	{Name: "password_identity", Type: "string", Description: `the identity with an agent's own digest password (default "sip_password")`},
	{Name: "expires", Type: "duration", Description: "publication lifetime, refreshed before it ends, 60s to 24h (default 1h)"},
	{Name: "dialog_info", Type: "bool", Description: "also PUBLISH dialog-info (Event: dialog) for BLF lamps"},
	{Name: "rate", Type: "number", Description: "at most this many PUBLISH per second (default 100)"},
	{Name: "uri_identity", Type: "string", Description: `the identity with the agent's SIP URI (default "sip_uri")`},
	{Name: "domain", Type: "string", Description: "completes an identity without sip: (a user part) into sip:user@domain"},
	{Name: "busy_activity", Type: "string", Description: `RPID activity while in a session: "on-the-phone" (default) or "busy"`},
	{Name: "timeout", Type: "duration", Description: "per transaction, 100ms to 1m (default 5s)"},
	{Name: "listen", Type: "string", Description: "server mode: host:port to listen on (default 127.0.0.1:5070; port 0: any free port)"},
	{Name: "listen_transports", Type: "list", Description: `server mode: "udp", "tcp" or both (default both)`},
	{Name: "min_expires", Type: "duration", Description: "server mode: shortest subscription (default 60s; shorter gets 423)"},
	{Name: "max_expires", Type: "duration", Description: "server mode: longest subscription (default 1h; longer is cut)"},
	{Name: "max_subscriptions", Type: "number", Description: "server mode: subscriptions held at most (default 50000); a new one beyond is answered 503 with Retry-After"},
	{Name: "watchers", Type: "map", Secret: true, Description: "server mode: digest user name = password of the subscribers let in; none: anyone"},
	{Name: "realm", Type: "string", Description: `server mode: the digest realm (default the domain, else "acdbridge")`},
}

// settingsOf is a validated configuration.
type settingsOf struct {
	mode                     string
	address, transport       string
	tls                      *tls.Config
	username, password       string
	userIdentity, passIdent  string
	expires                  time.Duration
	dialogInfo               bool
	rate                     float64
	uriIdentity, domain      string
	busyActivity             string
	timeout                  time.Duration
	listen                   string
	listenTransports         []string
	minExpires, maxExpires   time.Duration
	maxSubscriptions         int
	watchers                 map[string]string
	realm                    string
	addressHost, addressPort string
}

func parseConfig(s sdk.Settings) (settingsOf, error) {
	var c Config
	if err := s.Decode(&c); err != nil {
		var fe *sdk.FieldError
		if errors.As(err, &fe) && strings.HasPrefix(fe.Message, "unknown setting") {
			names := make([]string, len(settings))
			for i, st := range settings {
				names[i] = st.Name
			}
			fe.Message = fmt.Sprintf("expected one of %s; got the unknown setting %q", strings.Join(names, ", "), fe.Field)
		}
		return settingsOf{}, err
	}
	return c.validate()
}

// Validate checks the settings; every bad one is a *sdk.FieldError.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

func hostPort(v string, anyPort bool) (string, string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" {
		return "", "", fmt.Errorf(`expected host:port, like "kamailio.example.com:5060"; got %q`, v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 && !(anyPort && n == 0) || n > 65535 {
		return "", "", fmt.Errorf("expected a port from 1 to 65535 after the colon; got %q", port)
	}
	return host, port, nil
}

func (c Config) validate() (settingsOf, error) {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &sdk.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	out := settingsOf{
		mode: ModePublish, transport: "udp", username: c.Username, password: c.Password,
		userIdentity: DefaultUserIdentity, passIdent: DefaultPasswordIdentity, expires: DefaultExpires,
		dialogInfo: c.DialogInfo, rate: DefaultRate, uriIdentity: DefaultURIIdentity, domain: c.Domain,
		busyActivity: "on-the-phone", timeout: DefaultTimeout, listen: DefaultListen, listenTransports: []string{"udp", "tcp"},
		minExpires: DefaultMinExpires, maxExpires: DefaultMaxExpires, maxSubscriptions: DefaultMaxSubscriptions, watchers: c.Watchers, realm: c.Realm,
	}
	if c.Mode != nil {
		switch *c.Mode {
		case ModePublish, ModeServer:
			out.mode = *c.Mode
		default:
			fail("mode", `expected "publish" or "server"; got %q`, *c.Mode)
		}
	}
	dur := func(field string, v *string, lo, hi time.Duration, into *time.Duration) {
		if v == nil {
			return
		}
		d, err := time.ParseDuration(*v)
		switch {
		case err != nil:
			fail(field, `expected a duration such as "1h"; got %q`, *v)
		case d < lo || d > hi:
			fail(field, "expected a duration from %s to %s; got %s", lo, hi, *v)
		default:
			*into = d
		}
	}
	ident := func(field string, v *string, into *string) {
		if v == nil {
			return
		}
		if *v == "" {
			fail(field, "expected an identity key; got an empty string")
		}
		*into = *v
	}
	line := func(field, v string) {
		if strings.ContainsAny(v, "\r\n\x00") {
			fail(field, "expected a value without line breaks; got one with them")
		}
	}
	line("username", c.Username)
	line("password", c.Password)
	line("domain", c.Domain)
	line("realm", c.Realm)
	if c.Domain != "" && strings.ContainsAny(c.Domain, " @;<>\"") {
		fail("domain", `expected a host name like "example.test"; got %q`, c.Domain)
	}
	if c.Password != "" && c.Username == "" {
		fail("username", "expected a user name to go with the password; got none")
	}
	ident("uri_identity", c.URIIdentity, &out.uriIdentity)
	ident("user_identity", c.UserIdentity, &out.userIdentity)
	ident("password_identity", c.PasswordIdentity, &out.passIdent)
	dur("expires", c.Expires, MinPublishExpires, 24*time.Hour, &out.expires)
	dur("timeout", c.Timeout, MinTimeout, MaxTimeout, &out.timeout)
	dur("min_expires", c.MinExpires, time.Second, 24*time.Hour, &out.minExpires)
	dur("max_expires", c.MaxExpires, time.Second, 24*time.Hour, &out.maxExpires)
	if out.minExpires > out.maxExpires {
		fail("min_expires", "expected min_expires (%s) at most max_expires (%s)", out.minExpires, out.maxExpires)
	}
	if c.Rate != nil {
		if *c.Rate <= 0 || *c.Rate > 100000 {
			fail("rate", "expected PUBLISH requests per second from more than 0 to 100000; got %v", *c.Rate)
		}
		out.rate = *c.Rate
	}
	if c.BusyActivity != nil {
		switch *c.BusyActivity {
		case "on-the-phone", "busy":
			out.busyActivity = *c.BusyActivity
		default:
			fail("busy_activity", `expected "on-the-phone" or "busy"; got %q`, *c.BusyActivity)
		}
	}
	if c.Transport != nil {
		switch *c.Transport {
		case "udp", "tcp", "tls":
			out.transport = *c.Transport
		default:
			fail("transport", `expected "udp", "tcp" or "tls"; got %q`, *c.Transport)
		}
	}
	switch out.mode {
	case ModePublish:
		if c.Address == "" {
			fail("address", `expected the presence server's host:port, like "kamailio.example.com:5060"; got nothing (address is required in publish mode)`)
		} else if h, p, err := hostPort(c.Address, false); err != nil {
			fail("address", "%v", err)
		} else {
			out.address, out.addressHost, out.addressPort = c.Address, h, p
		}
		for _, f := range []struct {
			name string
			set  bool
		}{{"listen", c.Listen != nil}, {"listen_transports", c.ListenTransports != nil}, {"min_expires", c.MinExpires != nil}, {"max_expires", c.MaxExpires != nil}, {"max_subscriptions", c.MaxSubscriptions != nil}, {"watchers", c.Watchers != nil}, {"realm", c.Realm != ""}} {
			if f.set {
				fail(f.name, `expected %s only with mode = "server"; got it in publish mode`, f.name)
			}
		}
		if out.transport == "tls" && out.addressHost != "" {
			conf := &tls.Config{ServerName: out.addressHost, MinVersion: tls.VersionTLS12}
			if c.TLSServerName != "" {
				conf.ServerName = c.TLSServerName
			}
			if c.TLSCAFile != "" {
				pem, err := os.ReadFile(c.TLSCAFile)
				pool := x509.NewCertPool()
				switch {
				case err != nil:
					fail("tls_ca_file", "expected a readable PEM file; got %v", err)
				case !pool.AppendCertsFromPEM(pem):
					fail("tls_ca_file", "expected PEM certificates in %s; found none", c.TLSCAFile)
				}
				conf.RootCAs = pool
			}
			out.tls = conf
		} else if c.TLSCAFile != "" || c.TLSServerName != "" {
			fail("transport", `expected transport = "tls" with tls_ca_file or tls_server_name; got %q`, out.transport)
		}
	case ModeServer:
		if c.Address != "" {
			fail("address", `expected no address with mode = "server" (it listens on listen); got %q`, c.Address)
		}
		if c.Listen != nil {
			if _, _, err := hostPort(*c.Listen, true); err != nil {
				fail("listen", "%v", err)
			}
			out.listen = *c.Listen
		}
		if c.ListenTransports != nil {
			if len(c.ListenTransports) == 0 {
				fail("listen_transports", `expected "udp", "tcp" or both; got an empty list`)
			}
			for i, t := range c.ListenTransports {
				if t != "udp" && t != "tcp" || slices.Index(c.ListenTransports, t) != i {
					fail("listen_transports", `expected "udp" and "tcp" at most once each; got %q`, c.ListenTransports)
					break
				}
			}
			out.listenTransports = c.ListenTransports
		}
		if c.MaxSubscriptions != nil {
			if n := *c.MaxSubscriptions; n < 1 || n > MaxMaxSubscriptions {
				fail("max_subscriptions", "expected a number of subscriptions from 1 to %d; got %d", MaxMaxSubscriptions, n)
			} else {
				out.maxSubscriptions = n
			}
		}
		for u, p := range c.Watchers {
			if u == "" || strings.ContainsAny(u, "\r\n\"") || p == "" || strings.ContainsAny(p, "\r\n") {
				fail("watchers", "expected user name = password pairs, neither empty nor with line breaks; got a bad one for %q", u)
			}
		}
		if out.realm == "" {
			out.realm = c.Domain
		}
		if out.realm == "" {
			out.realm = "acdbridge"
		}
		if c.Transport != nil || c.Username != "" || c.Rate != nil || c.DialogInfo || c.Expires != nil {
			fail("mode", `expected no publish settings (transport, username, rate, dialog_info, expires) with mode = "server"; got some`)
		}
	}
	return out, errors.Join(errs...)
}
