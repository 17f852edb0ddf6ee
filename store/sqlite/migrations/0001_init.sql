-- Wattson schema for SQLite. Times are INTEGER microseconds since the Unix
-- epoch in UTC: compact, ordered, and the same precision PostgreSQL keeps.
-- Tables are STRICT so a wrong type is an error instead of a surprise.

CREATE TABLE chargers (
    id                  TEXT    NOT NULL PRIMARY KEY,
    registration        TEXT    NOT NULL CHECK (registration IN ('Pending', 'Accepted', 'Rejected')),
    vendor              TEXT    NOT NULL DEFAULT '',
    model               TEXT    NOT NULL DEFAULT '',
    serial_number       TEXT    NOT NULL DEFAULT '',
    charge_box_serial   TEXT    NOT NULL DEFAULT '',
    firmware_version    TEXT    NOT NULL DEFAULT '',
    iccid               TEXT    NOT NULL DEFAULT '',
    imsi                TEXT    NOT NULL DEFAULT '',
    meter_type          TEXT    NOT NULL DEFAULT '',
    meter_serial_number TEXT    NOT NULL DEFAULT '',
    password_hash       TEXT    NOT NULL DEFAULT '',
    last_boot_at        INTEGER,
    last_seen_at        INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

-- The current state of each connector; its history is below. Both belong to
-- the charger and go with it.
CREATE TABLE connectors (
    charger_id        TEXT    NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id      INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    error_code        TEXT    NOT NULL DEFAULT '',
    info              TEXT    NOT NULL DEFAULT '',
    vendor_id         TEXT    NOT NULL DEFAULT '',
    vendor_error_code TEXT    NOT NULL DEFAULT '',
    charger_ts        INTEGER,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (charger_id, connector_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE status_history (
    id                INTEGER PRIMARY KEY,
    charger_id        TEXT    NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id      INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    error_code        TEXT    NOT NULL DEFAULT '',
    info              TEXT    NOT NULL DEFAULT '',
    vendor_id         TEXT    NOT NULL DEFAULT '',
    vendor_error_code TEXT    NOT NULL DEFAULT '',
    charger_ts        INTEGER,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX status_history_by_connector ON status_history (charger_id, connector_id, id);

CREATE TABLE id_tags (
    id_tag        TEXT    NOT NULL PRIMARY KEY,
    status        TEXT    NOT NULL CHECK (status IN ('Accepted', 'Blocked', 'Expired', 'Invalid')),
    expiry_date   INTEGER,
    parent_id_tag TEXT    NOT NULL DEFAULT '',
    owner         TEXT    NOT NULL DEFAULT '',
    note          TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- Transactions and meter values are billing records: they reference no
-- charger, so deleting a charger never deletes what it delivered.
-- AUTOINCREMENT: an id handed to a charger is never handed out again, even
-- after the newest row is deleted.
CREATE TABLE transactions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id     TEXT    NOT NULL,
    connector_id   INTEGER NOT NULL CHECK (connector_id > 0),
    id_tag         TEXT    NOT NULL,
    meter_start    INTEGER NOT NULL,
    started_at     INTEGER NOT NULL,
    start_recv_at  INTEGER NOT NULL,
    reservation_id INTEGER,
    meter_stop     INTEGER,
    stopped_at     INTEGER,
    stop_recv_at   INTEGER,
    stop_reason    TEXT    NOT NULL DEFAULT '',
    stop_id_tag    TEXT    NOT NULL DEFAULT ''
) STRICT;
-- A retried StartTransaction is recognised by what it carries.
CREATE UNIQUE INDEX transactions_start_key
    ON transactions (charger_id, connector_id, id_tag, meter_start, started_at);
-- At most one open transaction per connector; also the lookup for closing a
-- stale one.
CREATE UNIQUE INDEX transactions_open_by_connector
    ON transactions (charger_id, connector_id) WHERE stopped_at IS NULL;
CREATE INDEX transactions_open_by_id_tag ON transactions (id_tag) WHERE stopped_at IS NULL;
CREATE INDEX transactions_by_charger ON transactions (charger_id, id);
CREATE INDEX transactions_by_id_tag ON transactions (id_tag, id);
CREATE INDEX transactions_by_start ON transactions (started_at);

-- The biggest table: one row per sampled value, kept narrow (short text, no
-- foreign keys to check on every insert) and indexed only for reading a
-- transaction's samples in time order.
CREATE TABLE meter_values (
    id             INTEGER PRIMARY KEY,
    charger_id     TEXT    NOT NULL,
    connector_id   INTEGER NOT NULL,
    transaction_id INTEGER,
    ts             INTEGER NOT NULL,
    recv_at        INTEGER NOT NULL,
    value          TEXT    NOT NULL,
    measurand      TEXT    NOT NULL DEFAULT '',
    phase          TEXT    NOT NULL DEFAULT '',
    unit           TEXT    NOT NULL DEFAULT '',
    location       TEXT    NOT NULL DEFAULT '',
    context        TEXT    NOT NULL DEFAULT '',
    format         TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX meter_values_by_transaction ON meter_values (transaction_id, ts, id)
    WHERE transaction_id IS NOT NULL;

-- The newest sample per series, upserted with every insert, so the hot read
-- (the dashboard's current values) never scans meter_values. The measurand
-- is stored normalised ('' is Energy.Active.Import.Register).
CREATE TABLE latest_meter_values (
    charger_id     TEXT    NOT NULL,
    connector_id   INTEGER NOT NULL,
    measurand      TEXT    NOT NULL,
    phase          TEXT    NOT NULL,
    transaction_id INTEGER,
    ts             INTEGER NOT NULL,
    recv_at        INTEGER NOT NULL,
    value          TEXT    NOT NULL,
    unit           TEXT    NOT NULL,
    location       TEXT    NOT NULL,
    context        TEXT    NOT NULL,
    format         TEXT    NOT NULL,
    PRIMARY KEY (charger_id, connector_id, measurand, phase)
) STRICT, WITHOUT ROWID;

CREATE TABLE charger_events (
    id          INTEGER PRIMARY KEY,
    charger_id  TEXT    NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT '',
    ts          INTEGER,
    received_at INTEGER NOT NULL,
    payload     BLOB    NOT NULL
) STRICT;
CREATE INDEX charger_events_by_charger ON charger_events (charger_id, kind, id);
CREATE INDEX charger_events_by_charger_id ON charger_events (charger_id, id);

-- The message log also records chargers that are not (yet) known, so it has
-- no foreign key; DeleteCharger removes a charger's log itself.
CREATE TABLE message_log (
    id         INTEGER PRIMARY KEY,
    charger_id TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    incoming   INTEGER NOT NULL,
    frame      BLOB    NOT NULL
) STRICT;
CREATE INDEX message_log_by_charger ON message_log (charger_id, id);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    hash         BLOB    NOT NULL UNIQUE,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;
