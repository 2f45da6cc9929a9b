package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: any input gives a Config or diagnostics, never a panic, and
// every diagnostic can be formatted as file:line:col.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../configs/*.hcl")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "api {", `bus { url = "nats://a:1,nats://b:2" }`, `availability { precedence = ["away"] }`,
		"source \"remote_support\" {\n url = \"http://x:1\"\n token = env(\"HOME\")\n}",
		`simulator { history = "1e9d" }`, `data_dir = file("/nonexistent")`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse(src, "fuzz.hcl")
		if err != nil {
			if out := Format(err); out == "" {
				t.Fatalf("an error with no text: %#v", err)
			}
			return
		}
		if c.API.Listen == "" || c.DataDir == "" || len(c.Availability.Precedence) != 4 {
			t.Fatalf("accepted a config without its defaults: %+v", c)
		}
		if c.Source != nil && !strings.HasPrefix(c.Source.URL, "http") {
			t.Fatalf("accepted source url %q", c.Source.URL)
		}
	})
}
