-- Smart charging: the tree of circuits (groups), each managed connector's
-- settings, the limit last sent to each connector, the price schedule, the
-- charging profiles set on chargers, and leases for singletons. Settings,
-- limits and profiles reference no charger: they may be set up before a
-- charger first connects.

-- A group's parent may not go while it has children (RESTRICT); a group's
-- connector settings go with it.
CREATE TABLE charging_groups (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL DEFAULT '',
    parent_id     TEXT    REFERENCES charging_groups (id) ON DELETE RESTRICT,
    limit_l1      REAL    NOT NULL CHECK (limit_l1 >= 0),
    limit_l2      REAL    NOT NULL CHECK (limit_l2 >= 0),
    limit_l3      REAL    NOT NULL CHECK (limit_l3 >= 0),
    power_limit_w REAL    NOT NULL DEFAULT 0 CHECK (power_limit_w >= 0),
    site_meter    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX charging_groups_by_parent ON charging_groups (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE connector_settings (
    charger_id        TEXT    NOT NULL,
    connector_id      INTEGER NOT NULL CHECK (connector_id >= 1),
    group_id          TEXT    NOT NULL REFERENCES charging_groups (id) ON DELETE CASCADE,
    priority          INTEGER NOT NULL DEFAULT 0,
    mode              TEXT    NOT NULL CHECK (mode IN ('on', 'off', 'low-cost', 'solar')),
    min_current       REAL    NOT NULL DEFAULT 0,
    max_current       REAL    NOT NULL DEFAULT 0,
    phases            TEXT    NOT NULL DEFAULT '',
    solar_min_current REAL    NOT NULL DEFAULT 0,
    price_below       REAL,
    cheapest_hours    INTEGER NOT NULL DEFAULT 0,
    energy_kwh        REAL    NOT NULL DEFAULT 0,
    ready_by          TEXT    NOT NULL DEFAULT '',
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (charger_id, connector_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX connector_settings_by_group ON connector_settings (group_id);

CREATE TABLE connector_limits (
    charger_id   TEXT    NOT NULL,
    connector_id INTEGER NOT NULL,
    limit_a      REAL    NOT NULL,
    sent_at      INTEGER NOT NULL,
    confirmed    INTEGER NOT NULL DEFAULT 0,
    unmanaged    INTEGER NOT NULL DEFAULT 0,
    reason       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (charger_id, connector_id)
) STRICT, WITHOUT ROWID;

-- The price over [start_at, end_at).
CREATE TABLE price_slots (
    start_at INTEGER NOT NULL PRIMARY KEY,
    end_at   INTEGER NOT NULL CHECK (end_at > start_at),
    price    REAL    NOT NULL
) STRICT;

-- A charger holds one profile per id, and one per connector, purpose and
-- stack level; PutChargingProfile replaces what the new one replaces.
CREATE TABLE charging_profiles (
    charger_id     TEXT    NOT NULL,
    profile_id     INTEGER NOT NULL,
    connector_id   INTEGER NOT NULL CHECK (connector_id >= 0),
    stack_level    INTEGER NOT NULL CHECK (stack_level >= 0),
    purpose        TEXT    NOT NULL CHECK (purpose IN ('ChargePointMaxProfile', 'TxDefaultProfile', 'TxProfile')),
    transaction_id INTEGER,
    profile        BLOB    NOT NULL,
    source         TEXT    NOT NULL DEFAULT '',
    set_at         INTEGER NOT NULL,
    PRIMARY KEY (charger_id, profile_id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX charging_profiles_by_stack
    ON charging_profiles (charger_id, connector_id, purpose, stack_level);

CREATE TABLE leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
