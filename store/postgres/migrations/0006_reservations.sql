-- Reservations (ReserveNow). The id is the OCPP reservationId: an integer
-- identity stays within OCPP's integer and never hands an id out twice.
-- Like transactions they reference no charger: deleting a charger keeps
-- the record of who reserved what.
CREATE TABLE reservations (
    id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charger_id     text COLLATE "C" NOT NULL,
    connector_id   integer     NOT NULL CHECK (connector_id >= 0),
    id_tag         text COLLATE "C" NOT NULL,
    parent_id_tag  text        NOT NULL DEFAULT '',
    expires_at     timestamptz NOT NULL,
    status         text        NOT NULL CHECK (status IN ('Pending', 'Accepted', 'Occupied', 'Faulted',
                       'Unavailable', 'Rejected', 'Failed', 'Cancelled', 'Expired', 'Used')),
    transaction_id bigint,
    reason         text        NOT NULL DEFAULT '',
    created_by     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
-- One active reservation per connector (0 is "any connector", a slot of
-- its own).
CREATE UNIQUE INDEX reservations_active_by_connector
    ON reservations (charger_id, connector_id) WHERE status IN ('Pending', 'Accepted');
-- The expiry sweep reads only active reservations, in expiry order.
CREATE INDEX reservations_active_by_expiry
    ON reservations (expires_at) WHERE status IN ('Pending', 'Accepted');
-- A charger's active reservations (the lookup of every StartTransaction)
-- without walking its history.
CREATE INDEX reservations_active_by_charger
    ON reservations (charger_id, id) WHERE status IN ('Pending', 'Accepted');
CREATE INDEX reservations_by_charger ON reservations (charger_id, id);
CREATE INDEX reservations_by_id_tag ON reservations (id_tag, id);
