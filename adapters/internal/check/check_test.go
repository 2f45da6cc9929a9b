package check

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// messages is each failure's "field: message", in order.
func messages(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	if err == nil {
		return nil
	}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *sdk.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *sdk.FieldError", e)
		}
		out = append(out, fe.Field+": "+fe.Message)
	}
	return out
}

func TestAddress(t *testing.T) {
	for addr, want := range map[string]string{
		"pbx:5038":      "",
		"127.0.0.1:1":   "",
		"[::1]:65535":   "",
		"pbx":           `a: expected host:port, like "pbx.example.com:5038"; got "pbx"`,
		":5038":         `a: expected host:port, like "pbx.example.com:5038"; got ":5038"`,
		"pbx:0":         `a: expected a port from 1 to 65535 after the colon; got "0"`,
		"pbx:65536":     `a: expected a port from 1 to 65535 after the colon; got "65536"`,
		"pbx:ami":       `a: expected a port from 1 to 65535 after the colon; got "ami"`,
		"pbx:5038:5039": `a: expected host:port, like "pbx.example.com:5038"; got "pbx:5038:5039"`,
	} {
		var e Errors
		e.Address("a", addr, "pbx.example.com:5038")
		if got := strings.Join(messages(t, e.Err()), "\n"); got != want {
			t.Errorf("%q: %q, want %q", addr, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for value, want := range map[string]struct {
		d   time.Duration
		msg string
	}{
		"1s":    {time.Second, ""},
		"10s":   {10 * time.Second, ""},
		"5m":    {5 * time.Minute, ""},
		"999ms": {7, "timeout: expected a duration from 1s to 5m0s; got 999ms"},
		"1h":    {7, "timeout: expected a duration from 1s to 5m0s; got 1h"},
		"soon":  {7, `timeout: expected a duration such as "5s"; got "soon"`},
		"":      {7, `timeout: expected a duration such as "5s"; got ""`},
	} {
		var e Errors
		d := e.Duration("timeout", value, time.Second, 5*time.Minute, 7)
		if got := strings.Join(messages(t, e.Err()), "\n"); d != want.d || got != want.msg {
			t.Errorf("%q: %s %q, want %s %q", value, d, got, want.d, want.msg)
		}
	}
}

func TestDecode(t *testing.T) {
	type config struct {
		Address string `json:"address"`
	}
	var c config
	if err := Decode(sdk.Settings{JSON: []byte(`{"address":"pbx:5038"}`)}, &c, "address"); err != nil || c.Address != "pbx:5038" {
		t.Fatalf("%+v %v", c, err)
	}
	err := Decode(sdk.Settings{JSON: []byte(`{"adress":"pbx:5038"}`)}, &c, "address, timeout")
	var fe *sdk.FieldError
	if !errors.As(err, &fe) || fe.Field != "adress" || fe.Message != `expected one of address, timeout; got the unknown setting "adress"` {
		t.Fatalf("%v", err)
	}
	// Other errors keep their message.
	err = Decode(sdk.Settings{JSON: []byte(`{"address":5}`)}, &c, "address")
	if !errors.As(err, &fe) || fe.Field != "address" || strings.Contains(fe.Message, "expected one of") {
		t.Fatalf("%v", err)
	}
}

func TestErrorsCollect(t *testing.T) {
	var e Errors
	if e.Err() != nil {
		t.Fatal("an empty Errors fails")
	}
	e.Fail("a", "expected %d, got %q", 1, "x")
	e.Fail("b", "expected nothing")
	got := messages(t, e.Err())
	if strings.Join(got, "|") != `a: expected 1, got "x"|b: expected nothing` {
		t.Fatalf("%q", got)
	}
}

func TestDecodeTyped(t *testing.T) {
	type config struct {
		Timeout string `json:"timeout"`
	}
	var c config
	err := DecodeTyped(sdk.Settings{JSON: []byte(`{"timeout":5}`)}, &c, "timeout", map[string]string{"timeout": `expected a duration string, like "15s"`})
	var fe *sdk.FieldError
	if !errors.As(err, &fe) || fe.Field != "timeout" || !strings.HasPrefix(fe.Message, `expected a duration string, like "15s"; got `) {
		t.Fatalf("%v", err)
	}
	err = DecodeTyped(sdk.Settings{JSON: []byte(`{"timeot":"5s"}`)}, &c, "timeout", map[string]string{"timeout": "x"})
	if !errors.As(err, &fe) || fe.Message != `expected one of timeout; got the unknown setting "timeot"` {
		t.Fatalf("%v", err)
	}
}

func TestParse(t *testing.T) {
	type config struct {
		Address string `json:"address"`
	}
	validate := func(c config) (string, error) {
		var e Errors
		if c.Address == "" {
			e.Fail("address", "expected host:port; got nothing")
		}
		return "ok " + c.Address, e.Err()
	}
	if got, err := Parse(sdk.Settings{JSON: []byte(`{"address":"pbx:5038"}`)}, "address", nil, validate); err != nil || got != "ok pbx:5038" {
		t.Fatalf("%q %v", got, err)
	}
	if got, err := Parse(sdk.Settings{JSON: []byte(`{}`)}, "address", nil, validate); err == nil || err.Error() != "address: expected host:port; got nothing" {
		t.Fatalf("%q %v", got, err)
	}
	got, err := Parse(sdk.Settings{JSON: []byte(`{"adress":"x"}`)}, "address", nil, validate)
	var fe *sdk.FieldError
	if got != "" || !errors.As(err, &fe) || fe.Field != "adress" {
		t.Fatalf("%q %v", got, err)
	}
}
