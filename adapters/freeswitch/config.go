package freeswitch

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/check"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Config is the freeswitch adapter's settings.
type Config struct {
	// Address is the event socket's host:port (event_socket.conf.xml's
	// listen-ip and listen-port; default 127.0.0.1:8021).
	Address *string `json:"address"`
	// Password is event_socket.conf.xml's password; never logged.
	Password string `json:"password"`
	// AgentIdentity is the identity key naming the mod_callcenter agent
	// (default "callcenter_agent", e.g. "1001@default").
	AgentIdentity *string `json:"agent_identity"`
	// AvailableStatus is set when the bridge gives an agent back:
	// "Available" (default) or "Available (On Demand)".
	AvailableStatus *string `json:"available_status"`
	// BusyStatus is set while the agent is busy in a remote-support
	// session: "On Break" (default) or "Logged Out".
	BusyStatus *string `json:"busy_status"`
	// StateFile keeps the agents the adapter set to BusyStatus across
	// restarts of the adapter; empty: kept in memory only.
	StateFile *string `json:"state_file"`
	// Timeout bounds each command and each wait for a connection (default 5s).
	Timeout *string `json:"timeout"`
}

// Defaults and bounds.
const (
	DefaultAddress  = "127.0.0.1:8021"
	DefaultTimeout  = 5 * time.Second
	MinTimeout      = 100 * time.Millisecond
	MaxTimeout      = time.Minute
	DefaultIdentity = "callcenter_agent"
)

var settings = []sdk.Setting{
	{Name: "address", Type: "string", Description: "the event socket's host:port (default 127.0.0.1:8021)"},
	{Name: "password", Type: "string", Required: true, Secret: true, Description: "event_socket.conf.xml's password"},
	{Name: "agent_identity", Type: "string", Description: `the agent identity naming the mod_callcenter agent, like "1001@default" (default "callcenter_agent")`},
	{Name: "available_status", Type: "string", Description: `set when an agent is given back: "Available" (default) or "Available (On Demand)"`},
	{Name: "busy_status", Type: "string", Description: `set while an agent is busy in a session: "On Break" (default) or "Logged Out"`},
	{Name: "state_file", Type: "string", Description: "a file keeping the agents the adapter set busy across its restarts (default: memory only)"},
	{Name: "timeout", Type: "duration", Description: "per command and per wait for the connection, 100ms to 1m (default 5s)"},
}

// settingsOf is a validated configuration.
type settingsOf struct {
	address, password string
	identity          string
	available, busy   string
	stateFile         string
	timeout           time.Duration
}

func parseConfig(s sdk.Settings) (settingsOf, error) {
	var c Config
	if err := check.Decode(s, &c, "address, password, agent_identity, available_status, busy_status, state_file, timeout"); err != nil {
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
	out := settingsOf{address: DefaultAddress, password: c.Password, identity: DefaultIdentity,
		available: StatusAvailable, busy: StatusOnBreak, timeout: DefaultTimeout}
	if c.Address != nil {
		out.address = *c.Address
		errs.Address("address", out.address, "127.0.0.1:8021")
	}
	switch {
	case c.Password == "":
		fail("password", "expected event_socket.conf.xml's password; got nothing (password is required; is the environment variable empty?)")
	case strings.ContainsAny(c.Password, "\r\n"):
		fail("password", "expected a password without line breaks; got one with them (not shown)")
	}
	if c.AgentIdentity != nil {
		if *c.AgentIdentity == "" {
			fail("agent_identity", `expected an identity key, like "callcenter_agent"; got an empty string`)
		}
		out.identity = *c.AgentIdentity
	}
	if c.AvailableStatus != nil {
		if ok := slices.Contains([]string{StatusAvailable, StatusAvailableOnDemand}, *c.AvailableStatus); !ok {
			fail("available_status", "expected %q or %q; got %q", StatusAvailable, StatusAvailableOnDemand, *c.AvailableStatus)
		}
		out.available = *c.AvailableStatus
	}
	if c.BusyStatus != nil {
		if ok := slices.Contains([]string{StatusOnBreak, StatusLoggedOut}, *c.BusyStatus); !ok {
			fail("busy_status", "expected %q or %q; got %q", StatusOnBreak, StatusLoggedOut, *c.BusyStatus)
		}
		out.busy = *c.BusyStatus
	}
	if c.StateFile != nil {
		if *c.StateFile == "" {
			fail("state_file", "expected a file path; got an empty string (leave state_file out to keep the state in memory)")
		}
		out.stateFile = *c.StateFile
	}
	if c.Timeout != nil {
		out.timeout = errs.Duration("timeout", *c.Timeout, MinTimeout, MaxTimeout, out.timeout)
	}
	return out, errs.Err()
}

// MaxAgentName is the longest agent name sent: mod_callcenter keeps names
// in a VARCHAR(255) column, and older mod_event_socket versions (read_packet
// with a 2048-byte buffer) end a longer command early and read its rest as
// another command, whose reply would then be taken for the next one's.
const MaxAgentName = 255

// checkAgentName refuses a name that cannot cross callcenter_config's
// argument splitting intact: it splits on spaces, and strips single quotes
// and backslashes (switch_separate_string); and a name too long to be one.
func checkAgentName(name string) error {
	if len(name) > MaxAgentName {
		return fmt.Errorf("cannot name the mod_callcenter agent %q in a callcenter_config command: expected a name of at most %d bytes (mod_callcenter's column), got %d", name[:40]+"…", MaxAgentName, len(name))
	}
	if i := strings.IndexFunc(name, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '\'' || r == '"' || r == '\\'
	}); i >= 0 {
		return fmt.Errorf("cannot name the mod_callcenter agent %q in a callcenter_config command: expected a name without spaces, control characters, quotes or backslashes (FreeSWITCH splits and unquotes on them), got %q at byte %d", name, name[i:i+1], i)
	}
	// mod_event_socket turns any command that mentions both into
	// "api bgapi unload mod_event_socket" (or reload).
	if strings.Contains(strings.ToLower(name), "mod_event_socket") {
		return fmt.Errorf("cannot name the mod_callcenter agent %q in a callcenter_config command: expected a name without \"mod_event_socket\" (FreeSWITCH's event socket rewrites such a command into unloading or reloading itself)", name)
	}
	return nil
}
