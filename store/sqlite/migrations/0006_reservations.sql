-- Reservations (ReserveNow). The id is the OCPP reservationId, so it stays
-- within OCPP's integer and is never handed out twice (AUTOINCREMENT).
-- Like transactions they reference no charger: deleting a charger keeps
-- the record of who reserved what.
CREATE TABLE reservations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT CHECK (id BETWEEN 1 AND 2147483647),
    charger_id     TEXT    NOT NULL,
    connector_id   INTEGER NOT NULL CHECK (connector_id >= 0),
    id_tag         TEXT    NOT NULL,
    parent_id_tag  TEXT    NOT NULL DEFAULT '',
    expires_at     INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('Pending', 'Accepted', 'Occupied', 'Faulted',
                       'Unavailable', 'Rejected', 'Failed', 'Cancelled', 'Expired', 'Used')),
    transaction_id INTEGER,
    reason         TEXT    NOT NULL DEFAULT '',
    created_by     TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
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
