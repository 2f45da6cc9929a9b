// Package archive is the bridge's store of ended remote-support sessions: one
// schema (docs/schema.md) kept by versioned migrations (pressly/goose, one
// set of SQL files per dialect) on SQLite (the default, modernc.org/sqlite,
// no cgo), PostgreSQL (pgx) and MySQL/MariaDB (go-sql-driver/mysql), and the
// recordings folder, where each recording is written atomically and checked
// against the source's sha256.
//
// Writes are idempotent by session id: archiving a session again replaces
// it, its fields, events and survey in the same transaction, so a re-run
// never duplicates anything. A batch of sessions is one transaction: a
// batch that fails leaves nothing half-written.
package archive
