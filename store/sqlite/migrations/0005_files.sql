-- Files (firmware images operators upload, diagnostics chargers upload)
-- with their content in chunks, the expiring links chargers use for them,
-- diagnostics requests and firmware roll-outs.

CREATE TABLE files (
    id           INTEGER NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('firmware', 'diagnostics')),
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL DEFAULT '',
    size         INTEGER NOT NULL DEFAULT 0,
    sha256       BLOB,
    charger_id   TEXT    NOT NULL DEFAULT '',
    version      TEXT    NOT NULL DEFAULT '',
    note         TEXT    NOT NULL DEFAULT '',
    created_by   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    complete     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX files_by_kind ON files (kind, id) WHERE complete = 1;
CREATE INDEX files_incomplete ON files (created_at) WHERE complete = 0;

CREATE TABLE file_chunks (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL CHECK (seq >= 0),
    data    BLOB    NOT NULL,
    PRIMARY KEY (file_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE diagnostics_requests (
    id             INTEGER NOT NULL PRIMARY KEY,
    charger_id     TEXT    NOT NULL,
    start_time     INTEGER,
    stop_time      INTEGER,
    retries        INTEGER,
    retry_interval INTEGER,
    status         TEXT    NOT NULL,
    file_name      TEXT    NOT NULL DEFAULT '',
    file_id        INTEGER REFERENCES files (id) ON DELETE SET NULL,
    detail         TEXT    NOT NULL DEFAULT '',
    requested_by   TEXT    NOT NULL DEFAULT '',
    requested_at   INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX diagnostics_by_charger ON diagnostics_requests (charger_id, id);

-- A link is a download of a file or an upload for a diagnostics request.
CREATE TABLE file_links (
    hash           BLOB    NOT NULL PRIMARY KEY,
    file_id        INTEGER REFERENCES files (id) ON DELETE CASCADE,
    diagnostics_id INTEGER REFERENCES diagnostics_requests (id) ON DELETE CASCADE,
    charger_id     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    uses           INTEGER NOT NULL DEFAULT 0,
    last_used_at   INTEGER,
    CHECK ((file_id IS NULL) <> (diagnostics_id IS NULL))
) STRICT, WITHOUT ROWID;
CREATE INDEX file_links_by_expiry ON file_links (expires_at);
CREATE INDEX file_links_by_file ON file_links (file_id) WHERE file_id IS NOT NULL;

-- A firmware file a roll-out uses stays (RESTRICT).
CREATE TABLE firmware_rollouts (
    id                  INTEGER NOT NULL PRIMARY KEY,
    file_id             INTEGER NOT NULL REFERENCES files (id) ON DELETE RESTRICT,
    status              TEXT    NOT NULL,
    max_concurrent      INTEGER NOT NULL CHECK (max_concurrent >= 1),
    max_failure_percent REAL    NOT NULL,
    min_finished        INTEGER NOT NULL,
    retries             INTEGER,
    retry_interval      INTEGER,
    retrieve_date       INTEGER,
    base_finished       INTEGER NOT NULL DEFAULT 0,
    base_failed         INTEGER NOT NULL DEFAULT 0,
    timeout_s           INTEGER NOT NULL,
    detail              TEXT    NOT NULL DEFAULT '',
    created_by          TEXT    NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    finished_at         INTEGER
) STRICT;
CREATE INDEX firmware_rollouts_active ON firmware_rollouts (id) WHERE status NOT IN ('Completed', 'Cancelled');

CREATE TABLE rollout_targets (
    rollout_id INTEGER NOT NULL REFERENCES firmware_rollouts (id) ON DELETE CASCADE,
    charger_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    sent_at    INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (rollout_id, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX rollout_targets_by_charger ON rollout_targets (rollout_id, charger_id);
CREATE INDEX rollout_targets_live ON rollout_targets (charger_id)
    WHERE status NOT IN ('Installed', 'Failed', 'Cancelled');
CREATE INDEX rollout_targets_by_status ON rollout_targets (rollout_id, status, seq);
