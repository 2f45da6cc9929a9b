package log

import (
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Config is the log adapter's settings.
type Config struct {
	// Level is the log level of the lines: info (default) or debug.
	Level string `json:"level"`
	level hclog.Level
}

var settings = []sdk.Setting{
	{Name: "level", Type: "string", Description: "log level of each line: info (default) or debug"},
}

func defaultConfig() Config { return Config{Level: "info", level: hclog.Info} }

func parseConfig(s sdk.Settings) (Config, error) {
	cfg := defaultConfig()
	if err := s.Decode(&cfg); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// Validate checks the settings.
func (c *Config) Validate() error {
	switch c.Level {
	case "info":
		c.level = hclog.Info
	case "debug":
		c.level = hclog.Debug
	default:
		return &sdk.FieldError{Field: "level", Message: fmt.Sprintf("expected info or debug, got %q", c.Level)}
	}
	return nil
}
