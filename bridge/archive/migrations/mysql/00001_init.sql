-- The archive's first schema, MySQL and MariaDB flavour: times are
-- DATETIME(3) in UTC; ids and names that are keys are VARCHAR(191), the
-- longest an InnoDB index takes in utf8mb4 in the COMPACT row format
-- (external_ref, bounded by the source at 256 bytes, needs the DYNAMIC
-- format, InnoDB's default since MariaDB 10.2 and MySQL 5.7).

-- +goose Up
CREATE TABLE sessions (
    id             VARCHAR(191) NOT NULL PRIMARY KEY,
    request_id     VARCHAR(191) NOT NULL,
    agent_id       VARCHAR(191) NOT NULL,
    queue          VARCHAR(191) NOT NULL,
    external_ref   VARCHAR(256) NOT NULL, -- the Remote Support API's bound: 256 bytes
    customer_name  TEXT         NOT NULL,
    customer_email TEXT         NOT NULL,
    started_at     DATETIME(3)  NOT NULL,
    ended_at       DATETIME(3)  NOT NULL,
    duration       DOUBLE       NOT NULL,
    resolution     VARCHAR(32)  NOT NULL,
    replay_url     TEXT         NOT NULL,
    raw            LONGTEXT     NOT NULL,
    archived_at    DATETIME(3)  NOT NULL,
    INDEX sessions_ended_at (ended_at),
    INDEX sessions_agent_ended (agent_id, ended_at),
    INDEX sessions_queue_ended (queue, ended_at),
    INDEX sessions_external_ref (external_ref)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE session_fields (
    session_id VARCHAR(191) NOT NULL,
    name       VARCHAR(191) NOT NULL,
    value      TEXT         NOT NULL,
    PRIMARY KEY (session_id, name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE session_events (
    session_id     VARCHAR(191) NOT NULL,
    seq            INT          NOT NULL,
    occurred_at    DATETIME(3)  NOT NULL,
    type           VARCHAR(32)  NOT NULL,
    from_party     VARCHAR(191) NOT NULL,
    to_party       VARCHAR(191) NOT NULL,
    content        TEXT         NOT NULL,
    file_name      TEXT,
    file_size      BIGINT,
    file_direction VARCHAR(32),
    diag_os        TEXT,
    diag_hostname  TEXT,
    diag_memory_mb INT,
    diag_software  TEXT,
    PRIMARY KEY (session_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE surveys (
    session_id VARCHAR(191) NOT NULL PRIMARY KEY,
    rating     INT          NOT NULL,
    comment    TEXT         NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE recordings (
    session_id VARCHAR(191) NOT NULL PRIMARY KEY,
    size       BIGINT       NOT NULL,
    sha256     CHAR(64)     NOT NULL,
    url        TEXT         NOT NULL,
    path       TEXT         NOT NULL,
    state      VARCHAR(16)  NOT NULL,
    attempts   INT          NOT NULL,
    last_error TEXT         NOT NULL,
    updated_at DATETIME(3)  NOT NULL,
    INDEX recordings_state (state)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE sync_state (
    name        VARCHAR(191) NOT NULL PRIMARY KEY,
    range_since DATETIME(3),
    range_until DATETIME(3),
    page_cursor TEXT         NOT NULL,
    checkpoint  DATETIME(3),
    done        BIGINT       NOT NULL,
    total       BIGINT       NOT NULL,
    updated_at  DATETIME(3)  NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- +goose Down
DROP TABLE sync_state;
DROP TABLE recordings;
DROP TABLE surveys;
DROP TABLE session_events;
DROP TABLE session_fields;
DROP TABLE sessions;
