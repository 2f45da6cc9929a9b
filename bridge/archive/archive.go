package archive

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// The drivers an archive runs on: the names of the config's archive.driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
)

// Drivers lists the drivers, for messages and validation.
var Drivers = []string{DriverSQLite, DriverPostgres, DriverMySQL}

//go:embed migrations
var migrations embed.FS

// dialect is what differs between the databases.
type dialect struct {
	name      string // one of the Driver constants
	sqlDriver string // the database/sql driver name
	goose     goose.Dialect
	dollar    bool // $1 placeholders (PostgreSQL) instead of ?
	maxParams int  // bind parameters per statement, kept under the database's limit
}

var dialects = map[string]dialect{
	DriverSQLite:   {name: DriverSQLite, sqlDriver: "sqlite", goose: goose.DialectSQLite3, maxParams: 30000},
	DriverPostgres: {name: DriverPostgres, sqlDriver: "pgx", goose: goose.DialectPostgres, dollar: true, maxParams: 60000},
	DriverMySQL:    {name: DriverMySQL, sqlDriver: "mysql", goose: goose.DialectMySQL, maxParams: 60000},
}

// Store is an open archive. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	d  dialect
}

// Open connects to the archive and brings its schema up to date. For
// SQLite, dsn is a file path (its folder is made) or a "file:" URI; the
// database runs in WAL mode with a busy timeout. For PostgreSQL it is a
// pgx connection string; for MySQL and MariaDB a go-sql-driver DSN
// (user:password@tcp(127.0.0.1:3306)/acdbridge), to which parseTime and
// UTC are added.
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	d, ok := dialects[driver]
	if !ok {
		return nil, fmt.Errorf("archive: unknown driver %q: expected sqlite, postgres or mysql", driver)
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("archive: the %s driver needs a dsn, got an empty one", driver)
	}
	var err error
	switch driver {
	case DriverSQLite:
		dsn, err = sqliteDSN(dsn)
	case DriverMySQL:
		dsn, err = mysqlDSN(dsn)
	}
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(d.sqlDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("archive: open %s: %w", driver, err)
	}
	if driver == DriverSQLite {
		// One writer at a time is SQLite's rule; a few connections let
		// readers (reports, the syncer's checks) run beside it in WAL.
		db.SetMaxOpenConns(4)
	}
	s := &Store{db: db, d: d}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("archive: connect to %s: %w", driver, err)
	}
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.db.Close() }

// Driver is the store's driver name.
func (s *Store) Driver() string { return s.d.name }

// DB is the underlying database, for tests and tools.
func (s *Store) DB() *sql.DB { return s.db }

// Migrations is the migration files of a driver, for tests and docs.
func Migrations(driver string) (fs.FS, error) {
	if _, ok := dialects[driver]; !ok {
		return nil, fmt.Errorf("archive: unknown driver %q", driver)
	}
	return fs.Sub(migrations, "migrations/"+driver)
}

// Migrate applies the migrations not applied yet; it is run by Open, and
// is harmless to run again.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := Migrations(s.d.name)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(s.d.goose, s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("archive: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("archive: migrate the %s schema: %w", s.d.name, err)
	}
	return nil
}

// SchemaVersion is the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	fsys, err := Migrations(s.d.name)
	if err != nil {
		return 0, err
	}
	p, err := goose.NewProvider(s.d.goose, s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}

func sqliteDSN(dsn string) (string, error) {
	if strings.HasPrefix(dsn, "file:") {
		return dsn, nil
	}
	if dir := filepath.Dir(dsn); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", fmt.Errorf("archive: make the folder of %s: %w", dsn, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	// SQLite reads a file: URI: %HH is decoded, ? starts the parameters
	// and # a fragment, so a path holding them is escaped.
	path := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(dsn)
	return "file:" + path + "?" + q.Encode(), nil
}

func mysqlDSN(dsn string) (string, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("archive: mysql dsn: expected user:password@tcp(host:port)/database, got one that does not parse: %w", err)
	}
	c.ParseTime = true
	c.Loc = time.UTC
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["time_zone"] = "'+00:00'"
	return c.FormatDSN(), nil
}

// ErrNotFound is a session the archive does not hold.
var ErrNotFound = errors.New("not in the archive")
