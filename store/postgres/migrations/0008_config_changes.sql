-- The last ChangeConfiguration answer of each key of each charger. Keys
-- are case-insensitive (CiString50): key_ci is the folded form, key the
-- spelling shown. Like snapshots, changes reference no charger.
CREATE TABLE config_changes (
    charger_id text COLLATE "C" NOT NULL,
    key_ci     text COLLATE "C" NOT NULL,
    key        text        NOT NULL,
    value      text        NOT NULL,
    status     text        NOT NULL CHECK (status IN ('Accepted', 'Rejected', 'RebootRequired', 'NotSupported')),
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (charger_id, key_ci)
);

-- The fleet view of one key reads the chargers that changed it.
CREATE INDEX config_changes_by_key ON config_changes (key_ci, charger_id);

-- Every key name seen in a snapshot, for suggestions: kept as snapshots
-- arrive, so listing them never scans every snapshot.
CREATE TABLE config_key_names (
    key_ci   text COLLATE "C" PRIMARY KEY,
    key      text    NOT NULL,
    readonly boolean NOT NULL
);

INSERT INTO config_key_names (key_ci, key, readonly)
    SELECT lower(e->>'key'), e->>'key', coalesce((e->>'readonly')::boolean, false)
    FROM config_snapshots, jsonb_array_elements(config_snapshots.keys) AS e
    ON CONFLICT (key_ci) DO NOTHING;
