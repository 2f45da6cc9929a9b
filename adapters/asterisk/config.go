package asterisk

import (
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/check"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Config is the asterisk adapter's settings.
type Config struct {
	// Address is the AMI's host:port (manager.conf's bindaddr and port, 5038).
	Address string `json:"address"`
	// Username is the manager.conf user ([bridge]).
	Username string `json:"username"`
	// Secret is its secret; never logged.
	Secret string `json:"secret"`
	// Queues restricts pauses to these queues; empty: all the member's.
	Queues []string `json:"queues"`
	// InterfaceIdentity is the identity key naming the member's interface
	// (default "interface").
	InterfaceIdentity *string `json:"interface_identity"`
	// Auth is how to log in: "plain" (the secret, default) or "md5" (an
	// MD5 challenge: the secret does not cross the network).
	Auth *string `json:"auth"`
	// Timeout bounds each action and each wait for a connection (default 5s).
	Timeout *string `json:"timeout"`
}

// Defaults and bounds.
const (
	DefaultTimeout  = 5 * time.Second
	MinTimeout      = 100 * time.Millisecond
	MaxTimeout      = time.Minute
	DefaultIdentity = "interface"
	// MaxReason is the longest pause reason Asterisk keeps (char[80]).
	MaxReason = 79
)

var settings = []sdk.Setting{
	{Name: "address", Type: "string", Required: true, Description: "the AMI's host:port, e.g. pbx.example.com:5038"},
	{Name: "username", Type: "string", Required: true, Description: "the manager.conf user, with read = agent and write = agent"},
	{Name: "secret", Type: "string", Required: true, Secret: true, Description: "its secret"},
	{Name: "queues", Type: "list", Description: "pause in these queues only; default all the member's queues"},
	{Name: "interface_identity", Type: "string", Description: `the agent identity naming the queue member's interface (default "interface")`},
	{Name: "auth", Type: "string", Description: `"plain" (default: the secret is sent) or "md5" (an MD5 challenge: it is not)`},
	{Name: "timeout", Type: "duration", Description: "per action and per wait for the connection, 100ms to 1m (default 5s)"},
}

// settingsOf is a validated configuration.
type settingsOf struct {
	address, username, secret string
	queues                    []string
	identity                  string
	auth                      string
	timeout                   time.Duration
}

// Login methods.
const (
	AuthPlain = "plain"
	AuthMD5   = "md5"
)

func parseConfig(s sdk.Settings) (settingsOf, error) {
	var c Config
	if err := check.Decode(s, &c, "address, username, secret, queues, interface_identity, auth, timeout"); err != nil {
		return settingsOf{}, err
	}
	return c.validate()
}

// Validate checks the settings; every bad one is a *sdk.FieldError.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

func (c Config) validate() (settingsOf, error) {
	var errs check.Errors
	fail := errs.Fail
	out := settingsOf{address: c.Address, username: c.Username, secret: c.Secret, identity: DefaultIdentity, auth: AuthPlain, timeout: DefaultTimeout}
	if c.Address == "" {
		fail("address", `expected the AMI's host:port, like "pbx.example.com:5038"; got nothing (address is required)`)
	} else {
		errs.Address("address", c.Address, "pbx.example.com:5038")
	}
	if c.Username == "" {
		fail("username", "expected the manager.conf user name, like \"bridge\"; got nothing (username is required)")
	} else if strings.ContainsAny(c.Username, "\r\n") {
		fail("username", "expected a name without line breaks; got one with them")
	}
	if c.Secret == "" {
		fail("secret", "expected the user's secret; got nothing (secret is required; is the environment variable empty?)")
	} else if strings.ContainsAny(c.Secret, "\r\n") {
		fail("secret", "expected a secret without line breaks; got one with them (not shown)")
	}
	seen := map[string]bool{}
	for _, q := range c.Queues {
		switch {
		case q == "" || strings.ContainsAny(q, "\r\n"):
			fail("queues", "expected queue names as in queues.conf; got %q", q)
		case seen[q]:
			fail("queues", "expected each queue once; got %q twice", q)
		}
		seen[q] = true
	}
	out.queues = c.Queues
	if c.InterfaceIdentity != nil {
		if *c.InterfaceIdentity == "" {
			fail("interface_identity", `expected an identity key, like "interface"; got an empty string`)
		}
		out.identity = *c.InterfaceIdentity
	}
	if c.Auth != nil {
		switch *c.Auth {
		case AuthPlain, AuthMD5:
			out.auth = *c.Auth
		default:
			fail("auth", `expected "plain" or "md5"; got %q`, *c.Auth)
		}
	}
	if c.Timeout != nil {
		out.timeout = errs.Duration("timeout", *c.Timeout, MinTimeout, MaxTimeout, out.timeout)
	}
	return out, errs.Err()
}
