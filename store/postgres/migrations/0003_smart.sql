-- Smart charging: the tree of circuits (groups), each managed connector's
-- settings, the limit last sent to each connector, the price schedule, the
-- charging profiles set on chargers, and leases for singletons. Settings,
-- limits and profiles reference no charger: they may be set up before a
-- charger first connects.

-- A group's parent may not go while it has children (RESTRICT); a group's
-- connector settings go with it.
CREATE TABLE charging_groups (
    id            text COLLATE "C" PRIMARY KEY,
    name          text             NOT NULL DEFAULT '',
    parent_id     text COLLATE "C" REFERENCES charging_groups (id) ON DELETE RESTRICT,
    limit_l1      double precision NOT NULL CHECK (limit_l1 >= 0),
    limit_l2      double precision NOT NULL CHECK (limit_l2 >= 0),
    limit_l3      double precision NOT NULL CHECK (limit_l3 >= 0),
    power_limit_w double precision NOT NULL DEFAULT 0 CHECK (power_limit_w >= 0),
    site_meter    boolean          NOT NULL DEFAULT false,
    created_at    timestamptz      NOT NULL,
    updated_at    timestamptz      NOT NULL
);
CREATE INDEX charging_groups_by_parent ON charging_groups (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE connector_settings (
    charger_id        text COLLATE "C" NOT NULL,
    connector_id      integer          NOT NULL CHECK (connector_id >= 1),
    group_id          text COLLATE "C" NOT NULL REFERENCES charging_groups (id) ON DELETE CASCADE,
    priority          integer          NOT NULL DEFAULT 0,
    mode              text             NOT NULL CHECK (mode IN ('on', 'off', 'low-cost', 'solar')),
    min_current       double precision NOT NULL DEFAULT 0,
    max_current       double precision NOT NULL DEFAULT 0,
    phases            text             NOT NULL DEFAULT '',
    solar_min_current double precision NOT NULL DEFAULT 0,
    price_below       double precision,
    cheapest_hours    integer          NOT NULL DEFAULT 0,
    energy_kwh        double precision NOT NULL DEFAULT 0,
    ready_by          text             NOT NULL DEFAULT '',
    updated_at        timestamptz      NOT NULL,
    PRIMARY KEY (charger_id, connector_id)
);
CREATE INDEX connector_settings_by_group ON connector_settings (group_id);

CREATE TABLE connector_limits (
    charger_id   text COLLATE "C" NOT NULL,
    connector_id integer          NOT NULL,
    limit_a      double precision NOT NULL,
    sent_at      timestamptz      NOT NULL,
    confirmed    boolean          NOT NULL DEFAULT false,
    unmanaged    boolean          NOT NULL DEFAULT false,
    reason       text             NOT NULL DEFAULT '',
    PRIMARY KEY (charger_id, connector_id)
);

-- The price over [start_at, end_at).
CREATE TABLE price_slots (
    start_at timestamptz      PRIMARY KEY,
    end_at   timestamptz      NOT NULL CHECK (end_at > start_at),
    price    double precision NOT NULL
);

-- A charger holds one profile per id, and one per connector, purpose and
-- stack level; PutChargingProfile replaces what the new one replaces.
CREATE TABLE charging_profiles (
    charger_id     text COLLATE "C" NOT NULL,
    profile_id     integer          NOT NULL,
    connector_id   integer          NOT NULL CHECK (connector_id >= 0),
    stack_level    integer          NOT NULL CHECK (stack_level >= 0),
    purpose        text COLLATE "C" NOT NULL CHECK (purpose IN ('ChargePointMaxProfile', 'TxDefaultProfile', 'TxProfile')),
    transaction_id bigint,
    profile        bytea            NOT NULL, -- as sent, not re-encoded as jsonb
    source         text             NOT NULL DEFAULT '',
    set_at         timestamptz      NOT NULL,
    PRIMARY KEY (charger_id, profile_id)
);
CREATE UNIQUE INDEX charging_profiles_by_stack
    ON charging_profiles (charger_id, connector_id, purpose, stack_level);

CREATE TABLE leases (
    name       text COLLATE "C" PRIMARY KEY,
    holder     text             NOT NULL,
    expires_at timestamptz      NOT NULL
);
