package directory

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/acdbridge/acdbridge/monitors"
)

func tmpl(t *testing.T, src string) Template {
	t.Helper()
	expr, diags := hclsyntax.ParseTemplate([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return Template{Expr: expr}
}

func writeCSV(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agents.csv")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIdentities(t *testing.T) {
	file := writeCSV(t, "# a comment\nagent_id, extension, rt_user\na-1,1001,ada\na-2,1002,\na-3,,carl\n")
	d, err := Load(Config{
		File: file,
		Rows: map[string]Row{"a-2": {"interface": "Local/1002@agents"}, "a-9": {"extension": "1009"}},
		Templates: map[string]Template{
			"interface": tmpl(t, "PJSIP/${extension}"),
			"sip_uri":   tmpl(t, "sip:${extension}@pbx"),
			"mailbox":   tmpl(t, "${email}"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		agent   monitors.Agent
		want    map[string]string
		missing string
	}{
		{monitors.Agent{ID: "a-1", Email: "ada@x"}, map[string]string{"extension": "1001", "rt_user": "ada", "interface": "PJSIP/1001", "sip_uri": "sip:1001@pbx", "mailbox": "ada@x"}, ""},
		{monitors.Agent{ID: "a-2", Email: "bo@x"}, map[string]string{"extension": "1002", "interface": "Local/1002@agents", "sip_uri": "sip:1002@pbx", "mailbox": "bo@x"}, ""},
		{monitors.Agent{ID: "a-3", Email: "c@x"}, map[string]string{"rt_user": "carl", "mailbox": "c@x"}, "no interface, sip_uri"},
		{monitors.Agent{ID: "a-9"}, map[string]string{"extension": "1009", "interface": "PJSIP/1009", "sip_uri": "sip:1009@pbx", "mailbox": ""}, ""},
		{monitors.Agent{ID: "a-404"}, map[string]string{"mailbox": ""}, "no interface, sip_uri"},
	}
	for _, tc := range tests {
		got, err := d.Identities(tc.agent)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.agent.ID, got, tc.want)
		}
		if (err != nil) != (tc.missing != "") || err != nil && !strings.Contains(err.Error(), tc.missing) {
			t.Errorf("%s: error %v, want one saying %q", tc.agent.ID, err, tc.missing)
		}
	}
	if d.Len() != 4 {
		t.Fatalf("%d rows, want 4", d.Len())
	}
}

func TestCSVErrors(t *testing.T) {
	tests := []struct{ body, want string }{
		{"", "expected a header row starting with agent_id, got an empty file"},
		{"id,extension\n", `agents.csv:1: expected the first column to be agent_id, got "id"`},
		{"agent_id,Extension\n", `agents.csv:1: column 2: expected a name of a-z, 0-9 and _, got "Extension"`},
		{"agent_id,x,x\n", `agents.csv:1: column "x" appears twice`},
		{"agent_id,x\na-1,1\na-1,2\n", `agents.csv:3: agent "a-1" is listed twice`},
		{"agent_id,x\n,1\n", `agents.csv:2: expected an agent_id, got an empty one`},
		{"agent_id,x\na-1,1,extra\n", "wrong number of fields"},
	}
	for _, tc := range tests {
		_, err := Load(Config{File: writeCSV(t, tc.body)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
	if _, err := Load(Config{File: "/nonexistent/agents.csv"}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing file: %v", err)
	}
}
