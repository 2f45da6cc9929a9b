-- Sessions archived and not yet handed on to the bus by `acdbridge run`:
-- a row is written before its session is archived and deleted once the
-- bus took the session, so that one archived just before a crash is still
-- published (the bus keeps a session once; adapters are idempotent).

-- +goose Up
CREATE TABLE session_outbox (
    session_id TEXT NOT NULL PRIMARY KEY,
    queued_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE session_outbox;
