-- The latest configuration snapshot (GetConfiguration answer) of each
-- charger. It references no charger: the keys are kept as JSON.
CREATE TABLE config_snapshots (
    charger_id   text COLLATE "C" PRIMARY KEY,
    keys         jsonb       NOT NULL, -- array of {"key","readonly","value"}
    unknown_keys jsonb       NOT NULL, -- array of strings
    taken_at     timestamptz NOT NULL
);
