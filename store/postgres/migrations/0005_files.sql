-- Files (firmware images operators upload, diagnostics chargers upload)
-- with their content in chunks, the expiring links chargers use for them,
-- diagnostics requests and firmware roll-outs.

CREATE TABLE files (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('firmware', 'diagnostics')),
    name         text        NOT NULL,
    content_type text        NOT NULL DEFAULT '',
    size         bigint      NOT NULL DEFAULT 0,
    sha256       bytea,
    charger_id   text COLLATE "C" NOT NULL DEFAULT '',
    version      text        NOT NULL DEFAULT '',
    note         text        NOT NULL DEFAULT '',
    created_by   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    complete     boolean     NOT NULL DEFAULT false
);
CREATE INDEX files_by_kind ON files (kind, id) WHERE complete;
CREATE INDEX files_incomplete ON files (created_at) WHERE NOT complete;

CREATE TABLE file_chunks (
    file_id bigint  NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    seq     integer NOT NULL CHECK (seq >= 0),
    data    bytea   NOT NULL,
    PRIMARY KEY (file_id, seq)
);

CREATE TABLE diagnostics_requests (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charger_id     text COLLATE "C" NOT NULL,
    start_time     timestamptz,
    stop_time      timestamptz,
    retries        integer,
    retry_interval integer,
    status         text        NOT NULL,
    file_name      text        NOT NULL DEFAULT '',
    file_id        bigint      REFERENCES files (id) ON DELETE SET NULL,
    detail         text        NOT NULL DEFAULT '',
    requested_by   text        NOT NULL DEFAULT '',
    requested_at   timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX diagnostics_by_charger ON diagnostics_requests (charger_id, id);

-- A link is a download of a file or an upload for a diagnostics request.
CREATE TABLE file_links (
    hash           bytea       PRIMARY KEY,
    file_id        bigint      REFERENCES files (id) ON DELETE CASCADE,
    diagnostics_id bigint      REFERENCES diagnostics_requests (id) ON DELETE CASCADE,
    charger_id     text COLLATE "C" NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    uses           integer     NOT NULL DEFAULT 0,
    last_used_at   timestamptz,
    CHECK ((file_id IS NULL) <> (diagnostics_id IS NULL))
);
CREATE INDEX file_links_by_expiry ON file_links (expires_at);
CREATE INDEX file_links_by_file ON file_links (file_id) WHERE file_id IS NOT NULL;

-- A firmware file a roll-out uses stays (RESTRICT).
CREATE TABLE firmware_rollouts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id             bigint           NOT NULL REFERENCES files (id) ON DELETE RESTRICT,
    status              text             NOT NULL,
    max_concurrent      integer          NOT NULL CHECK (max_concurrent >= 1),
    max_failure_percent double precision NOT NULL,
    min_finished        integer          NOT NULL,
    retries             integer,
    retry_interval      integer,
    retrieve_date       timestamptz,
    base_finished       integer NOT NULL DEFAULT 0,
    base_failed         integer NOT NULL DEFAULT 0,
    timeout_s           bigint           NOT NULL,
    detail              text             NOT NULL DEFAULT '',
    created_by          text             NOT NULL DEFAULT '',
    created_at          timestamptz      NOT NULL,
    updated_at          timestamptz      NOT NULL,
    finished_at         timestamptz
);
CREATE INDEX firmware_rollouts_active ON firmware_rollouts (id) WHERE status NOT IN ('Completed', 'Cancelled');

CREATE TABLE rollout_targets (
    rollout_id bigint      NOT NULL REFERENCES firmware_rollouts (id) ON DELETE CASCADE,
    charger_id text COLLATE "C" NOT NULL,
    seq        integer     NOT NULL,
    status     text        NOT NULL,
    detail     text        NOT NULL DEFAULT '',
    sent_at    timestamptz,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (rollout_id, seq)
);
CREATE UNIQUE INDEX rollout_targets_by_charger ON rollout_targets (rollout_id, charger_id);
CREATE INDEX rollout_targets_live ON rollout_targets (charger_id)
    WHERE status NOT IN ('Installed', 'Failed', 'Cancelled');
CREATE INDEX rollout_targets_by_status ON rollout_targets (rollout_id, status, seq);
