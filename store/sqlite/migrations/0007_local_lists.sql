-- Local authorization lists: named lists of id tags, the chargers each is
-- assigned to, and what each charger was last known to hold.
--
-- A list's gen moves on with every change of what its chargers should
-- hold; a charger's want_gen with every change of its assignment or a
-- "sync now". A charger is pending while the generations it was last
-- brought to (synced_*) differ from those. The triggers keep gen right
-- whatever changes an id tag, so no code path can forget it.

CREATE TABLE local_lists (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    gen         INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE local_list_members (
    list_id INTEGER NOT NULL REFERENCES local_lists (id) ON DELETE CASCADE,
    id_tag  TEXT    NOT NULL REFERENCES id_tags (id_tag) ON DELETE CASCADE,
    PRIMARY KEY (list_id, id_tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX local_list_members_by_tag ON local_list_members (id_tag);

-- What chargers hold, once per distinct content: the chargers of one list
-- share a row, so a fleet does not keep a copy per charger.
CREATE TABLE local_list_contents (
    hash    BLOB NOT NULL PRIMARY KEY, -- SHA-256 of entries
    entries BLOB NOT NULL              -- JSON array of entries by id tag
) STRICT, WITHOUT ROWID;

CREATE TABLE local_list_sync (
    charger_id      TEXT    NOT NULL PRIMARY KEY REFERENCES chargers (id) ON DELETE CASCADE,
    list_id         INTEGER REFERENCES local_lists (id) ON DELETE SET NULL,
    want_gen        INTEGER NOT NULL DEFAULT 1,
    synced_want_gen INTEGER NOT NULL DEFAULT 0,
    synced_list_gen INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL DEFAULT 0,
    held_hash       BLOB,    -- NULL: what the charger holds is not known
    held_count      INTEGER NOT NULL DEFAULT 0,
    result          TEXT    NOT NULL DEFAULT '',
    error           TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    attempt_at      INTEGER,
    synced_at       INTEGER,
    next_at         INTEGER,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX local_list_sync_by_list ON local_list_sync (list_id, charger_id);
CREATE INDEX local_list_sync_by_held ON local_list_sync (held_hash);

CREATE TRIGGER id_tags_local_list_change
AFTER UPDATE OF status, expiry_date, parent_id_tag ON id_tags
WHEN OLD.status IS NOT NEW.status OR OLD.expiry_date IS NOT NEW.expiry_date
    OR OLD.parent_id_tag IS NOT NEW.parent_id_tag
BEGIN
    UPDATE local_lists SET gen = gen + 1
    WHERE id IN (SELECT list_id FROM local_list_members WHERE id_tag = NEW.id_tag);
END;

-- BEFORE: the members are still there to find the lists.
CREATE TRIGGER id_tags_local_list_delete
BEFORE DELETE ON id_tags
BEGIN
    UPDATE local_lists SET gen = gen + 1
    WHERE id IN (SELECT list_id FROM local_list_members WHERE id_tag = OLD.id_tag);
END;
