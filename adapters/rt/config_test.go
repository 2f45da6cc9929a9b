package rt

import (
	"context"
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

func TestConfigure(t *testing.T) {
	const u = `"url": "https://rt.example.com/rt"`
	const tok = `"token": "1-14-abc"`
	tests := []struct {
		name, json string
		field      string // the setting refused; "" when accepted
		says       string // in the message
	}{
		{"token", `{` + u + `, ` + tok + `}`, "", ""},
		{"basic", `{` + u + `, "username": "acdbridge", "password": "pw"}`, "", ""},
		{"everything", `{` + u + `, ` + tok + `, "queue": "Helpdesk", "queues": {"support": "Support", "support/printers": "Printers"},
			"custom_fields": {"serial_number": "Serial number"}, "status": {"resolved": "resolved", "unresolved": ""},
			"ticket_ref": "^RT-([0-9]+)$", "timeout": "30s"}`, "", ""},
		{"root path", `{"url": "http://127.0.0.1:9780", ` + tok + `}`, "", ""},
		{"trailing slash", `{"url": "https://rt.example.com/rt/", ` + tok + `}`, "", ""},
		{"null settings", `{` + u + `, ` + tok + `, "queue": null, "queues": null, "custom_fields": null, "status": null, "timeout": null}`, "", ""},

		{"nothing", `{}`, "url", "url is required"},
		{"no credentials", `{` + u + `}`, "token", "got neither"},
		{"both", `{` + u + `, ` + tok + `, "username": "a", "password": "b"}`, "token", "got both"},
		{"username only", `{` + u + `, "username": "a"}`, "password", "expected a password with the username"},
		{"password only", `{` + u + `, "password": "b"}`, "username", "expected a username with the password"},
		{"empty token", `{` + u + `, "token": ""}`, "token", "empty string (is the environment variable empty?)"},
		{"empty password", `{` + u + `, "username": "a", "password": ""}`, "password", "empty string"},
		{"token not a string", `{` + u + `, "token": 5}`, "token", "expected a string; got a JSON number"},
		{"url not a string", `{"url": 1, ` + tok + `}`, "url", "expected a URL string"},
		{"no scheme", `{"url": "rt.example.com/rt", ` + tok + `}`, "url", "without a scheme"},
		{"ftp", `{"url": "ftp://rt.example.com", ` + tok + `}`, "url", `got the scheme "ftp"`},
		{"no host", `{"url": "https:///rt", ` + tok + `}`, "url", "without a host"},
		{"userinfo", `{"url": "https://root:password@rt.example.com/rt", ` + tok + `}`, "url", "user:password@, which is not used"},
		{"query", `{"url": "https://rt.example.com/rt?x=1", ` + tok + `}`, "url", "with a query"},
		{"REST path", `{"url": "https://rt.example.com/rt/REST/2.0", ` + tok + `}`, "url", "already names the REST API"},
		{"empty queue", `{` + u + `, ` + tok + `, "queue": " "}`, "queue", "got an empty string"},
		{"queues a list", `{` + u + `, ` + tok + `, "queues": ["a"]}`, "queues", "expected a map of remote-support queues"},
		{"queue key", `{` + u + `, ` + tok + `, "queues": {"/support": "S"}}`, "queues", `got "/support"`},
		{"queue value", `{` + u + `, ` + tok + `, "queues": {"support": ""}}`, "queues.support", "expected an RT queue's name"},
		{"custom field value", `{` + u + `, ` + tok + `, "custom_fields": {"serial_number": ""}}`, "custom_fields.serial_number", "expected an RT custom field's name"},
		{"status key", `{` + u + `, ` + tok + `, "status": {"closed": "resolved"}}`, "status", `got "closed"`},
		{"ticket_ref", `{` + u + `, ` + tok + `, "ticket_ref": "("}`, "ticket_ref", "expected a regular expression"},
		{"ticket_ref group", `{` + u + `, ` + tok + `, "ticket_ref": "^[0-9]+$"}`, "ticket_ref", "without one"},
		{"timeout", `{` + u + `, ` + tok + `, "timeout": "soon"}`, "timeout", `got "soon"`},
		{"timeout short", `{` + u + `, ` + tok + `, "timeout": "10ms"}`, "timeout", "from 1s to 2m0s; got 10ms"},
		{"timeout long", `{` + u + `, ` + tok + `, "timeout": "1h"}`, "timeout", "got 1h"},
		{"unknown", `{` + u + `, ` + tok + `, "queu": "x"}`, "queu", `got the unknown setting "queu"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := New(nil).Configure(context.Background(), sdk.Settings{Instance: "helpdesk", JSON: []byte(tc.json)})
			acdtest.Refused(t, err, tc.field, tc.says)
			if err != nil && (strings.Contains(err.Error(), "1-14-abc") || strings.Contains(err.Error(), "root:password")) {
				t.Fatalf("a secret is in the error: %v", err)
			}
		})
	}
}

// TestRefusedSettingsKeepThePrevious: a Configure that fails leaves the
// adapter as it was.
func TestRefusedSettingsKeepThePrevious(t *testing.T) {
	f := newFakeRT(t)
	a := configured(t, f, withToken)
	if err := a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"url": "x"}`)}); err == nil {
		t.Fatal("accepted a bad url")
	}
	if r := a.HandleRequest(context.Background(), request); r.Outcome != sdk.Applied {
		t.Fatalf("after a refused Configure: %+v", r)
	}
}
