package config

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/sessions"
)

// Archive is where ended sessions are kept, and how they are downloaded.
type Archive struct {
	Driver string // sqlite, postgres or mysql
	// DSN is the database: a file for SQLite, a connection string
	// otherwise. Empty: data_dir/archive.db (SQLite).
	DSN string
	// RecordingsDir is the recordings folder; empty: data_dir/recordings.
	RecordingsDir string
	Realtime      bool   // archive each session as it ends (default true)
	Schedule      string // cron expression for a range sync inside `acdbridge run`; empty: none
	Concurrency   int    // downloads at once (default 8)
}

// DefaultArchive is the archive with no archive block: SQLite and the
// recordings folder under data_dir, real time on.
func DefaultArchive() Archive {
	return Archive{Driver: archive.DriverSQLite, Realtime: true, Concurrency: sessions.DefaultConcurrency}
}

// Resolved fills in the paths left empty, under dataDir.
func (a Archive) Resolved(dataDir string) Archive {
	if a.DSN == "" && a.Driver == archive.DriverSQLite {
		a.DSN = filepath.Join(dataDir, "archive.db")
	}
	if a.RecordingsDir == "" {
		a.RecordingsDir = filepath.Join(dataDir, "recordings")
	}
	return a
}

// archive { driver = "sqlite"  dsn = "./data/archive.db"  recordings_dir = "./data/recordings"  realtime = true  schedule = "0 2 * * *"  concurrency = 8 }
type archiveBlock struct {
	Driver        *string  `hcl:"driver"`
	DSN           *string  `hcl:"dsn"`
	RecordingsDir *string  `hcl:"recordings_dir"`
	Realtime      *bool    `hcl:"realtime"`
	Schedule      *string  `hcl:"schedule"`
	Concurrency   *int     `hcl:"concurrency"`
	Body          hcl.Body `hcl:",body"`
}

func (v *validator) archive(b *archiveBlock) Archive {
	a := DefaultArchive()
	if b.Driver != nil {
		a.Driver = *b.Driver
		if !slices.Contains(archive.Drivers, a.Driver) {
			v.fail(b.Body, "driver", fmt.Sprintf("expected sqlite, postgres or mysql, got %q", a.Driver))
		}
	}
	if b.DSN != nil {
		a.DSN = *b.DSN
		if a.DSN == "" {
			v.fail(b.Body, "dsn", "expected the database (a file for sqlite, a connection string for postgres or mysql), got an empty string; leave it out for data_dir/archive.db")
		}
	} else if a.Driver != archive.DriverSQLite {
		v.fail(b.Body, "driver", fmt.Sprintf("the %s driver needs a dsn, like dsn = env(\"ACDBRIDGE_ARCHIVE_DSN\")", a.Driver))
	}
	if b.RecordingsDir != nil {
		a.RecordingsDir = *b.RecordingsDir
		if a.RecordingsDir == "" {
			v.fail(b.Body, "recordings_dir", "expected a folder for the recordings, got an empty string; leave it out for data_dir/recordings")
		}
	}
	if b.Realtime != nil {
		a.Realtime = *b.Realtime
	}
	if b.Schedule != nil {
		a.Schedule = *b.Schedule
		if _, err := sessions.ParseSchedule(a.Schedule); err != nil {
			v.fail(b.Body, "schedule", err.Error())
		}
	}
	if b.Concurrency != nil {
		a.Concurrency = *b.Concurrency
		if a.Concurrency < 1 || a.Concurrency > 256 {
			v.fail(b.Body, "concurrency", fmt.Sprintf("expected 1 to 256 downloads at once, got %d", a.Concurrency))
		}
	}
	return a
}
