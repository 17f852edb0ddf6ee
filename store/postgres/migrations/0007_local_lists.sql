-- Local authorization lists: named lists of id tags, the chargers each is
-- assigned to, and what each charger was last known to hold.
--
-- A list's gen moves on with every change of what its chargers should
-- hold; a charger's want_gen with every change of its assignment or a
-- "sync now". A charger is pending while the generations it was last
-- brought to (synced_*) differ from those. The triggers keep gen right
-- whatever changes an id tag, so no code path can forget it.

CREATE TABLE local_lists (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    description text        NOT NULL DEFAULT '',
    gen         bigint      NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE local_list_members (
    list_id bigint NOT NULL REFERENCES local_lists (id) ON DELETE CASCADE,
    id_tag  text COLLATE "C" NOT NULL REFERENCES id_tags (id_tag) ON DELETE CASCADE,
    PRIMARY KEY (list_id, id_tag)
);
CREATE INDEX local_list_members_by_tag ON local_list_members (id_tag);

-- What chargers hold, once per distinct content: the chargers of one list
-- share a row, so a fleet does not keep a copy per charger.
CREATE TABLE local_list_contents (
    hash    bytea PRIMARY KEY, -- SHA-256 of entries
    entries jsonb NOT NULL     -- array of entries by id tag
);

CREATE TABLE local_list_sync (
    charger_id      text COLLATE "C" PRIMARY KEY REFERENCES chargers (id) ON DELETE CASCADE,
    list_id         bigint REFERENCES local_lists (id) ON DELETE SET NULL,
    want_gen        bigint      NOT NULL DEFAULT 1,
    synced_want_gen bigint      NOT NULL DEFAULT 0,
    synced_list_gen bigint      NOT NULL DEFAULT 0,
    version         integer     NOT NULL DEFAULT 0,
    held_hash       bytea,      -- NULL: what the charger holds is not known
    held_count      integer     NOT NULL DEFAULT 0,
    result          text        NOT NULL DEFAULT '',
    error           text        NOT NULL DEFAULT '',
    attempts        integer     NOT NULL DEFAULT 0,
    attempt_at      timestamptz,
    synced_at       timestamptz,
    next_at         timestamptz,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX local_list_sync_by_list ON local_list_sync (list_id, charger_id);
CREATE INDEX local_list_sync_by_held ON local_list_sync (held_hash);

CREATE FUNCTION local_list_tag_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE local_lists SET gen = gen + 1
    WHERE id IN (SELECT list_id FROM local_list_members WHERE id_tag = OLD.id_tag);
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER id_tags_local_list_change
AFTER UPDATE ON id_tags
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.expiry_date IS DISTINCT FROM NEW.expiry_date
    OR OLD.parent_id_tag IS DISTINCT FROM NEW.parent_id_tag)
EXECUTE FUNCTION local_list_tag_changed();

-- BEFORE: the members are still there to find the lists.
CREATE TRIGGER id_tags_local_list_delete
BEFORE DELETE ON id_tags
FOR EACH ROW
EXECUTE FUNCTION local_list_tag_changed();
