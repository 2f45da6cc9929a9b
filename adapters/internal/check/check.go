// Package check holds the checks of settings that adapters' config.go
// files share: decoding with a clear error for an unknown setting, and
// collecting one *sdk.FieldError per bad setting, with the checks of a
// host:port address and of a bounded duration. The asterisk and freeswitch
// adapters use it; it imports only plugins/sdk and the standard library.
package check

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Decode reads s into c (a pointer to a struct with json tags), strictly;
// the error for an unknown setting lists known, the settings there are
// ("address, password, timeout").
func Decode(s sdk.Settings, c any, known string) error {
	return DecodeTyped(s, c, known, nil)
}

// DecodeTyped is Decode that also words a value of the wrong JSON type in
// the config file's terms: expected maps a setting to what it should have
// been (`expected a duration string, like "15s"`), which replaces the
// decoder's "expected ..., got ..." before the "got".
func DecodeTyped(s sdk.Settings, c any, known string, expected map[string]string) error {
	err := s.Decode(c)
	var fe *sdk.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if strings.HasPrefix(fe.Message, "unknown setting") {
		fe.Message = fmt.Sprintf("expected one of %s; got the unknown setting %q", known, fe.Field)
	}
	if want, ok := expected[fe.Field]; ok && strings.HasPrefix(fe.Message, "expected ") {
		if _, got, ok := strings.Cut(fe.Message, ", got "); ok {
			fe.Message = want + "; got " + got
		}
	}
	return err
}

// Parse decodes s into a C as DecodeTyped does and, when that works,
// returns validate's verdict on it: an adapter's parseConfig.
func Parse[C, S any](s sdk.Settings, known string, expected map[string]string, validate func(C) (S, error)) (S, error) {
	var c C
	if err := DecodeTyped(s, &c, known, expected); err != nil {
		var zero S
		return zero, err
	}
	return validate(c)
}

// Errors collects a configuration's bad settings. The zero value is ready.
type Errors struct{ errs []error }

// Fail adds a *sdk.FieldError for field, saying what was expected and what
// came.
func (e *Errors) Fail(field, format string, args ...any) {
	e.errs = append(e.errs, &sdk.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err is every failure joined (nil when none).
func (e *Errors) Err() error { return errors.Join(e.errs...) }

// Address fails field unless addr is host:port with a port from 1 to
// 65535; example ("pbx.example.com:5038") shows the form.
func (e *Errors) Address(field, addr, example string) {
	if host, port, err := net.SplitHostPort(addr); err != nil || host == "" {
		e.Fail(field, "expected host:port, like %q; got %q", example, addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		e.Fail(field, "expected a port from 1 to 65535 after the colon; got %q", port)
	}
}

// Duration is value as a duration from lo to hi; else it fails field
// and returns def.
func (e *Errors) Duration(field, value string, lo, hi, def time.Duration) time.Duration {
	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		e.Fail(field, `expected a duration such as "5s"; got %q`, value)
	case d < lo || d > hi:
		e.Fail(field, "expected a duration from %s to %s; got %s", lo, hi, value)
	default:
		return d
	}
	return def
}
