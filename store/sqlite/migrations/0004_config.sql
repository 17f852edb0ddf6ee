-- The latest configuration snapshot (GetConfiguration answer) of each
-- charger. It references no charger: the keys are kept as JSON.
CREATE TABLE config_snapshots (
    charger_id   TEXT    NOT NULL PRIMARY KEY,
    keys         BLOB    NOT NULL, -- JSON array of {"key","readonly","value"}
    unknown_keys BLOB    NOT NULL, -- JSON array of strings
    taken_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
