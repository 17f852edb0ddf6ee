-- The last ChangeConfiguration answer of each key of each charger. Keys
-- are case-insensitive (CiString50): key_ci is the folded form, key the
-- spelling shown. Like snapshots, changes reference no charger.
CREATE TABLE config_changes (
    charger_id TEXT    NOT NULL,
    key_ci     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('Accepted', 'Rejected', 'RebootRequired', 'NotSupported')),
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (charger_id, key_ci)
) STRICT, WITHOUT ROWID;

-- The fleet view of one key reads the chargers that changed it.
CREATE INDEX config_changes_by_key ON config_changes (key_ci, charger_id);

-- Every key name seen in a snapshot, for suggestions: kept as snapshots
-- arrive, so listing them never scans every snapshot.
CREATE TABLE config_key_names (
    key_ci   TEXT    NOT NULL PRIMARY KEY,
    key      TEXT    NOT NULL,
    readonly INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO config_key_names (key_ci, key, readonly)
    SELECT lower(json_extract(j.value, '$.key')), json_extract(j.value, '$.key'),
           coalesce(json_extract(j.value, '$.readonly'), 0)
    FROM config_snapshots, json_each(CAST(config_snapshots.keys AS TEXT)) AS j
    WHERE true
    ON CONFLICT (key_ci) DO NOTHING;
