package webhook

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

func TestConfigure(t *testing.T) {
	const u = `"url": "https://crm.example.com/hooks/acdbridge"`
	tests := []struct {
		name, json string
		field      string // the setting refused; "" when accepted
		says       string // in the message
	}{
		{"minimal", `{` + u + `}`, "", ""},
		{"everything", `{` + u + `, "secret": "s", "headers": {"Authorization": "Bearer t", "X-Tenant": "emea"}, "timeout": "30s", "send": ["alerts", "requests"]}`, "", ""},
		{"http, a port and a query", `{"url": "http://10.0.0.5:8080/hook?tenant=emea"}`, "", ""},
		{"userinfo", `{"url": "https://bridge:pw@crm.example.com/hook"}`, "", ""},
		{"null settings", `{"url": "https://x.example", "secret": null, "headers": null, "timeout": null, "send": null}`, "", ""},
		{"timeout at the bounds", `{` + u + `, "timeout": "100ms"}`, "", ""},
		{"timeout at the upper bound", `{` + u + `, "timeout": "2m"}`, "", ""},

		{"no settings", `{}`, "url", "url is required"},
		{"no url", `{"timeout": "5s"}`, "url", "url is required"},
		{"url not a string", `{"url": 8080}`, "url", "expected a URL string"},
		{"relative url", `{"url": "/hooks/acdbridge"}`, "url", "without a scheme"},
		{"no scheme", `{"url": "crm.example.com/hooks"}`, "url", "without a scheme"},
		{"ftp", `{"url": "ftp://crm.example.com/x"}`, "url", `got the scheme "ftp"`},
		{"no host", `{"url": "https:///hooks"}`, "url", "without a host"},
		{"opaque", `{"url": "https:crm.example.com"}`, "url", "without a host"},
		{"port only", `{"url": "http://:8080/x"}`, "url", "without a host name"},
		{"fragment", `{"url": "https://crm.example.com/x#y"}`, "url", "fragment"},
		{"unparsable", `{"url": "https://crm example.com/"}`, "url", "does not parse"},
		{"secret empty", `{` + u + `, "secret": ""}`, "secret", "got an empty string"},
		{"secret not a string", `{` + u + `, "secret": 42}`, "secret", "expected a string; got a JSON number"},
		{"headers not a map", `{` + u + `, "headers": ["X-A: b"]}`, "headers", "expected a map of header names"},
		{"header value not a string", `{` + u + `, "headers": {"X-A": 1}}`, "headers", "got a JSON number"},
		{"Host", `{` + u + `, "headers": {"Host": "x"}}`, "headers.Host", "refused"},
		{"content-length", `{` + u + `, "headers": {"content-length": "1"}}`, "headers.content-length", "Content-Length"},
		{"Content-Type", `{` + u + `, "headers": {"Content-Type": "text/plain"}}`, "headers.Content-Type", "application/json"},
		{"signature", `{` + u + `, "headers": {"X-Acdbridge-Signature": "x"}}`, "headers.X-Acdbridge-Signature", "reserved"},
		{"timestamp", `{` + u + `, "headers": {"x-acdbridge-timestamp": "1"}}`, "headers.x-acdbridge-timestamp", "reserved"},
		{"User-Agent", `{` + u + `, "headers": {"User-Agent": "x"}}`, "headers.User-Agent", "acdbridge-webhook/"},
		{"bad header name", `{` + u + `, "headers": {"X Api": "k"}}`, "headers.X Api", "expected a header name"},
		{"header twice", `{` + u + `, "headers": {"X-Api": "a", "x-api": "b"}}`, "headers.x-api", "again"},
		{"header value empty", `{` + u + `, "headers": {"X-Api": ""}}`, "headers.X-Api", "empty string"},
		{"header value with a line break", `{` + u + `, "headers": {"X-Api": "a\r\nHost: evil"}}`, "headers.X-Api", "control characters"},
		{"timeout not a duration", `{` + u + `, "timeout": "ten seconds"}`, "timeout", `got "ten seconds"`},
		{"timeout a number", `{` + u + `, "timeout": 10}`, "timeout", `expected a duration string`},
		{"timeout empty", `{` + u + `, "timeout": ""}`, "timeout", `got ""`},
		{"timeout too short", `{` + u + `, "timeout": "50ms"}`, "timeout", "from 100ms to 2m0s; got 50ms"},
		{"timeout too long", `{` + u + `, "timeout": "5m"}`, "timeout", "got 5m"},
		{"timeout negative", `{` + u + `, "timeout": "-1s"}`, "timeout", "got -1s"},
		{"send empty", `{` + u + `, "send": []}`, "send", "empty list"},
		{"send unknown kind", `{` + u + `, "send": ["availability", "tickets"]}`, "send", `got "tickets"`},
		{"send singular", `{` + u + `, "send": ["alert"]}`, "send", `got "alert"`},
		{"send twice", `{` + u + `, "send": ["alerts", "alerts"]}`, "send", "twice"},
		{"send a string", `{` + u + `, "send": "alerts"}`, "send", "expected a list of strings"},
		{"unknown setting", `{` + u + `, "retries": 3}`, "retries", `got the unknown setting "retries"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acdtest.Refused(t, New(nil).Configure(context.Background(), sdk.Settings{Instance: "crm", JSON: []byte(tc.json)}), tc.field, tc.says)
		})
	}

	t.Run("every bad setting at once", func(t *testing.T) {
		configure := func(s sdk.Settings) error { return New(nil).Configure(context.Background(), s) }
		acdtest.ConfigErrors(t, configure, `{"url": "ftp://x", "secret": "", "headers": {"Host": "h"}, "timeout": "1h", "send": ["x"]}`,
			[]string{"url", "secret", "headers.Host", "timeout", "send"})
	})

	t.Run("messages hide credentials", func(t *testing.T) {
		for _, js := range []string{
			`{"url": "ftp://bridge:pw-9f3@crm.example.com/x"}`,
			`{"url": "https://bridge:pw-9f3@crm.example.com/x#frag"}`,
			`{"url": "https://bridge:pw-9f3@crm example.com/"}`,
			`{"url": "https://crm.example.com/x", "headers": {"Authorization": "Bearer pw-9f3\n"}}`,
		} {
			err := New(nil).Configure(context.Background(), sdk.Settings{JSON: []byte(js)})
			if err == nil || strings.Contains(err.Error(), "pw-9f3") {
				t.Errorf("%s: %v, want an error without the password", js, err)
			}
		}
	})
}

// FuzzConfigure: whatever the settings, Configure does not panic; what it
// refuses it refuses with errors, and what it accepts is a usable target.
func FuzzConfigure(f *testing.F) {
	for _, seed := range []string{
		`{"url": "https://crm.example.com/hooks/acdbridge"}`,
		`{"url": "https://crm.example.com/hooks/acdbridge", "secret": "s", "headers": {"X-Api-Key": "k"}, "timeout": "10s", "send": ["availability", "requests", "sessions", "alerts"]}`,
		`{"url": "http://u:p@10.0.0.5:8080/h?x=1", "timeout": "100ms", "send": ["alerts"]}`,
		`{"url": "ftp://x", "secret": "", "headers": {"Host": "h", "X A": "", "Content-Type": "x"}, "timeout": "1h", "send": []}`,
		`{"url": "https:crm", "headers": {"X-Acdbridge-Signature": "x\r\n"}, "send": ["alerts", "alerts", "tickets"]}`,
		`{"url": null, "timeout": 5, "send": "alerts", "headers": []}`,
		`{"url": "http://[::1]:80/", "unknown": true}`,
		`[]`, `null`, `{`, ``, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a := New(nil)
		err := a.Configure(context.Background(), sdk.Settings{Instance: "fuzz", JSON: data})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error with no message")
			}
			return
		}
		in := a.current()
		if in == nil {
			t.Fatal("accepted, but not applied")
		}
		u, perr := url.Parse(in.cfg.url.String())
		switch {
		case perr != nil:
			t.Fatalf("accepted a URL that does not parse again: %v", perr)
		case u.Scheme != "http" && u.Scheme != "https":
			t.Fatalf("accepted the scheme %q", u.Scheme)
		case u.Hostname() == "" || !u.IsAbs() || u.Fragment != "":
			t.Fatalf("accepted %q", in.cfg.shownURL)
		case in.cfg.timeout < MinTimeout || in.cfg.timeout > MaxTimeout:
			t.Fatalf("accepted the timeout %s", in.cfg.timeout)
		case len(in.cfg.send) == 0:
			t.Fatal("accepted settings that send nothing")
		case in.cfg.secret != nil && len(in.cfg.secret) == 0:
			t.Fatal("accepted an empty secret")
		}
		if shown, err := url.Parse(in.cfg.shownURL); err != nil || shown.User != nil || shown.Host != u.Host {
			t.Fatalf("the URL shown, %q, is not the URL without userinfo (%v)", in.cfg.shownURL, err)
		}
		for k := range in.cfg.send {
			if !slices.Contains(kinds, k) {
				t.Fatalf("accepted the kind %q", k)
			}
		}
		for name, vs := range in.cfg.headers {
			canon := strings.ToLower(name)
			if refusedHeaders[name] != "" || strings.HasPrefix(canon, "x-acdbridge-") || len(vs) != 1 || !validHeaderName(name) || !validHeaderValue(vs[0]) || vs[0] == "" {
				t.Fatalf("accepted the header %q", name)
			}
		}
		// The request it would send can be built.
		if _, err := http.NewRequest(http.MethodPost, in.cfg.url.String(), nil); err != nil {
			t.Fatalf("accepted a URL a request cannot be made for: %v", err)
		}
	})
}
