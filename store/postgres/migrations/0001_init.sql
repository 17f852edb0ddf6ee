-- Wattson schema for PostgreSQL. Ids and charger ids use the "C" collation so
-- that ordering and After/Before paging match SQLite byte order on every
-- server, whatever its locale.

CREATE TABLE chargers (
    id                  text COLLATE "C" PRIMARY KEY,
    registration        text        NOT NULL CHECK (registration IN ('Pending', 'Accepted', 'Rejected')),
    vendor              text        NOT NULL DEFAULT '',
    model               text        NOT NULL DEFAULT '',
    serial_number       text        NOT NULL DEFAULT '',
    charge_box_serial   text        NOT NULL DEFAULT '',
    firmware_version    text        NOT NULL DEFAULT '',
    iccid               text        NOT NULL DEFAULT '',
    imsi                text        NOT NULL DEFAULT '',
    meter_type          text        NOT NULL DEFAULT '',
    meter_serial_number text        NOT NULL DEFAULT '',
    password_hash       text        NOT NULL DEFAULT '',
    last_boot_at        timestamptz,
    last_seen_at        timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);

-- The current state of each connector; its history is below. Both belong to
-- the charger and go with it.
CREATE TABLE connectors (
    charger_id        text COLLATE "C" NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id      integer     NOT NULL,
    status            text        NOT NULL,
    error_code        text        NOT NULL DEFAULT '',
    info              text        NOT NULL DEFAULT '',
    vendor_id         text        NOT NULL DEFAULT '',
    vendor_error_code text        NOT NULL DEFAULT '',
    charger_ts        timestamptz,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (charger_id, connector_id)
);

CREATE TABLE status_history (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charger_id        text COLLATE "C" NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id      integer     NOT NULL,
    status            text        NOT NULL,
    error_code        text        NOT NULL DEFAULT '',
    info              text        NOT NULL DEFAULT '',
    vendor_id         text        NOT NULL DEFAULT '',
    vendor_error_code text        NOT NULL DEFAULT '',
    charger_ts        timestamptz,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX status_history_by_connector ON status_history (charger_id, connector_id, id);

CREATE TABLE id_tags (
    id_tag        text COLLATE "C" PRIMARY KEY,
    status        text        NOT NULL CHECK (status IN ('Accepted', 'Blocked', 'Expired', 'Invalid')),
    expiry_date   timestamptz,
    parent_id_tag text        NOT NULL DEFAULT '',
    owner         text        NOT NULL DEFAULT '',
    note          text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- Transactions and meter values are billing records: they reference no
-- charger, so deleting a charger never deletes what it delivered. The
-- identity sequence never hands out an id twice.
CREATE TABLE transactions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charger_id     text COLLATE "C" NOT NULL,
    connector_id   integer     NOT NULL CHECK (connector_id > 0),
    id_tag         text        NOT NULL,
    meter_start    bigint      NOT NULL,
    started_at     timestamptz NOT NULL,
    start_recv_at  timestamptz NOT NULL,
    reservation_id integer,
    meter_stop     bigint,
    stopped_at     timestamptz,
    stop_recv_at   timestamptz,
    stop_reason    text        NOT NULL DEFAULT '',
    stop_id_tag    text        NOT NULL DEFAULT ''
);
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
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id bigint,
    ts             timestamptz NOT NULL,
    recv_at        timestamptz NOT NULL,
    connector_id   integer     NOT NULL,
    charger_id     text COLLATE "C" NOT NULL,
    value          text        NOT NULL,
    measurand      text        NOT NULL DEFAULT '',
    phase          text        NOT NULL DEFAULT '',
    unit           text        NOT NULL DEFAULT '',
    location       text        NOT NULL DEFAULT '',
    context        text        NOT NULL DEFAULT '',
    format         text        NOT NULL DEFAULT ''
);
CREATE INDEX meter_values_by_transaction ON meter_values (transaction_id, ts, id)
    WHERE transaction_id IS NOT NULL;

-- The newest sample per series, upserted with every insert, so the hot read
-- (the dashboard's current values) never scans meter_values. The measurand
-- is stored normalised ('' is Energy.Active.Import.Register).
CREATE TABLE latest_meter_values (
    charger_id     text COLLATE "C" NOT NULL,
    connector_id   integer     NOT NULL,
    measurand      text COLLATE "C" NOT NULL,
    phase          text COLLATE "C" NOT NULL,
    transaction_id bigint,
    ts             timestamptz NOT NULL,
    recv_at        timestamptz NOT NULL,
    value          text        NOT NULL,
    unit           text        NOT NULL,
    location       text        NOT NULL,
    context        text        NOT NULL,
    format         text        NOT NULL,
    PRIMARY KEY (charger_id, connector_id, measurand, phase)
);

CREATE TABLE charger_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charger_id  text COLLATE "C" NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    kind        text        NOT NULL,
    status      text        NOT NULL DEFAULT '',
    ts          timestamptz,
    received_at timestamptz NOT NULL,
    payload     bytea       NOT NULL -- as received, not re-encoded as jsonb
);
CREATE INDEX charger_events_by_charger ON charger_events (charger_id, kind, id);
CREATE INDEX charger_events_by_charger_id ON charger_events (charger_id, id);

-- The message log also records chargers that are not (yet) known, so it has
-- no foreign key; DeleteCharger removes a charger's log itself.
CREATE TABLE message_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charger_id text COLLATE "C" NOT NULL,
    at         timestamptz NOT NULL,
    incoming   boolean     NOT NULL,
    frame      bytea       NOT NULL
);
CREATE INDEX message_log_by_charger ON message_log (charger_id, id);

CREATE TABLE tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    hash         bytea       NOT NULL UNIQUE,
    role         text        NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz
);
