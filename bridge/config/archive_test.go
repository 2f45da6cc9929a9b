package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestArchiveBlock(t *testing.T) {
	t.Setenv("ACDBRIDGE_ARCHIVE_DSN", "postgres://u:secret@127.0.0.1:5432/archive")
	cases := []struct {
		name, src string
		want      Archive
	}{
		{"absent", ``, Archive{Driver: "sqlite", Realtime: true, Concurrency: 8}},
		{"empty block", "archive {\n}\n", Archive{Driver: "sqlite", Realtime: true, Concurrency: 8}},
		{"every attribute", `archive {
  driver         = "postgres"
  dsn            = env("ACDBRIDGE_ARCHIVE_DSN")
  recordings_dir = "/srv/recordings"
  realtime       = false
  schedule       = "0 2 * * *"
  concurrency    = 16
}
`, Archive{Driver: "postgres", DSN: "postgres://u:secret@127.0.0.1:5432/archive", RecordingsDir: "/srv/recordings", Realtime: false, Schedule: "0 2 * * *", Concurrency: 16}},
		{"mysql with a descriptor", "archive {\n  driver = \"mysql\"\n  dsn = \"u:p@tcp(127.0.0.1:3306)/a\"\n  schedule = \"@daily\"\n}\n",
			Archive{Driver: "mysql", DSN: "u:p@tcp(127.0.0.1:3306)/a", Realtime: true, Schedule: "@daily", Concurrency: 8}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.src), "c.hcl")
			if err != nil {
				t.Fatal(Format(err))
			}
			if !reflect.DeepEqual(c.Archive, tc.want) {
				t.Fatalf("archive %+v, want %+v", c.Archive, tc.want)
			}
		})
	}
}

func TestArchiveErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown driver", "archive {\n  driver = \"oracle\"\n}\n", `c.hcl:2:12: driver: expected sqlite, postgres or mysql, got "oracle"`},
		{"postgres without dsn", "archive {\n  driver = \"postgres\"\n}\n", `c.hcl:2:12: driver: the postgres driver needs a dsn`},
		{"empty dsn", "archive {\n  dsn = \"\"\n}\n", `c.hcl:2:9: dsn: expected the database`},
		{"empty recordings_dir", "archive {\n  recordings_dir = \"\"\n}\n", `c.hcl:2:20: recordings_dir: expected a folder`},
		{"bad schedule", "archive {\n  schedule = \"every night\"\n}\n", `c.hcl:2:14: schedule: expected a cron expression like "0 2 * * *" (minute hour day month weekday) or @daily, got "every night"`},
		{"six-field schedule", "archive {\n  schedule = \"0 0 2 * * *\"\n}\n", `c.hcl:2:14: schedule: expected a cron expression`},
		{"concurrency 0", "archive {\n  concurrency = 0\n}\n", `c.hcl:2:17: concurrency: expected 1 to 256 downloads at once, got 0`},
		{"unknown attribute", "archive {\n  retention = \"7y\"\n}\n", `c.hcl:2:3: Unsupported argument`},
		{"unset env", "archive {\n  dsn = env(\"ACDBRIDGE_NOT_SET_ANYWHERE\")\n}\n", `ACDBRIDGE_NOT_SET_ANYWHERE is not set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "c.hcl")
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if got := Format(err); !strings.Contains(got, tc.want) {
				t.Fatalf("error\n%s\nwant it to contain\n%s", got, tc.want)
			}
		})
	}
}

func TestArchiveResolved(t *testing.T) {
	a := DefaultArchive().Resolved("/var/lib/acdbridge")
	if a.DSN != filepath.Join("/var/lib/acdbridge", "archive.db") || a.RecordingsDir != filepath.Join("/var/lib/acdbridge", "recordings") {
		t.Fatalf("resolved %+v", a)
	}
	p := Archive{Driver: "postgres", DSN: "postgres://x", RecordingsDir: "/r"}.Resolved("/d")
	if p.DSN != "postgres://x" || p.RecordingsDir != "/r" {
		t.Fatalf("set paths changed: %+v", p)
	}
	if d := Defaults(); d.Archive != DefaultArchive() {
		t.Fatalf("Defaults().Archive = %+v", d.Archive)
	}
	c, err := Load("../../configs/acdbridge.hcl")
	if err != nil {
		t.Fatal(Format(err))
	}
	if c.Archive != DefaultArchive() {
		t.Fatalf("configs/acdbridge.hcl's archive block drifted from the defaults: %+v", c.Archive)
	}
}
