-- The archive's first schema, PostgreSQL flavour: times are TIMESTAMPTZ.

-- +goose Up
CREATE TABLE sessions (
    id             TEXT    NOT NULL PRIMARY KEY,
    request_id     TEXT    NOT NULL,
    agent_id       TEXT    NOT NULL,
    queue          TEXT    NOT NULL,
    external_ref   TEXT    NOT NULL DEFAULT '',
    customer_name  TEXT    NOT NULL DEFAULT '',
    customer_email TEXT    NOT NULL DEFAULT '',
    started_at     TIMESTAMPTZ NOT NULL,
    ended_at       TIMESTAMPTZ NOT NULL,
    duration       DOUBLE PRECISION NOT NULL,
    resolution     TEXT    NOT NULL,
    replay_url     TEXT    NOT NULL DEFAULT '',
    raw            TEXT    NOT NULL,
    archived_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_ended_at ON sessions (ended_at);
CREATE INDEX sessions_agent_ended ON sessions (agent_id, ended_at);
CREATE INDEX sessions_queue_ended ON sessions (queue, ended_at);
CREATE INDEX sessions_external_ref ON sessions (external_ref);

CREATE TABLE session_fields (
    session_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (session_id, name)
);

CREATE TABLE session_events (
    session_id     TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    type           TEXT    NOT NULL,
    from_party     TEXT    NOT NULL DEFAULT '',
    to_party       TEXT    NOT NULL DEFAULT '',
    content        TEXT    NOT NULL DEFAULT '',
    file_name      TEXT,
    file_size      BIGINT,
    file_direction TEXT,
    diag_os        TEXT,
    diag_hostname  TEXT,
    diag_memory_mb INTEGER,
    diag_software  TEXT,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE surveys (
    session_id TEXT    NOT NULL PRIMARY KEY,
    rating     INTEGER NOT NULL,
    comment    TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE recordings (
    session_id TEXT    NOT NULL PRIMARY KEY,
    size       BIGINT  NOT NULL,
    sha256     TEXT    NOT NULL,
    url        TEXT    NOT NULL DEFAULT '',
    path       TEXT    NOT NULL DEFAULT '',
    state      TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX recordings_state ON recordings (state);

CREATE TABLE sync_state (
    name        TEXT    NOT NULL PRIMARY KEY,
    range_since TIMESTAMPTZ,
    range_until TIMESTAMPTZ,
    page_cursor TEXT    NOT NULL DEFAULT '',
    checkpoint  TIMESTAMPTZ,
    done        INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE sync_state;
DROP TABLE recordings;
DROP TABLE surveys;
DROP TABLE session_events;
DROP TABLE session_fields;
DROP TABLE sessions;
