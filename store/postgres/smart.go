package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

// Advisory lock classes of smart charging, taken with
// hashtext(current_schema()) (groups, prices) or hashtext(charger id)
// (profiles) as the second key.
const (
	lockGroups   = 0x5761_0003
	lockPrices   = 0x5761_0004
	lockProfiles = 0x5761_0005
)

const groupCols = `id, name, coalesce(parent_id, ''), limit_l1, limit_l2, limit_l3, power_limit_w,
	site_meter, created_at, updated_at`

func scanGroup(r pgx.Row) (store.ChargingGroup, error) {
	var g store.ChargingGroup
	err := r.Scan(&g.ID, &g.Name, &g.ParentID, &g.LimitA[0], &g.LimitA[1], &g.LimitA[2], &g.PowerLimitW,
		&g.SiteMeter, &g.CreatedAt, &g.UpdatedAt)
	utc(&g.CreatedAt)
	utc(&g.UpdatedAt)
	return g, err
}

// ListGroups implements store.Store, by id.
func (db *DB) ListGroups(ctx context.Context) ([]store.ChargingGroup, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+groupCols+` FROM charging_groups ORDER BY id`)
	out, err := collect(rows, err, scanGroup)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups: %w", err)
	}
	return out, nil
}

// GetGroup implements store.Store.
func (db *DB) GetGroup(ctx context.Context, id string) (store.ChargingGroup, error) {
	g, err := scanGroup(db.pool.QueryRow(ctx, `SELECT `+groupCols+` FROM charging_groups WHERE id = $1`, id))
	if err != nil {
		return store.ChargingGroup{}, fmt.Errorf("postgres: group %q: %w", id, notFoundIfNoRows(err))
	}
	return g, nil
}

// lockGroupTree serialises the changes to the group tree of the schema, so
// that two concurrent PutGroups cannot close a cycle between them.
func lockGroupTree(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockGroups)
	return err
}

// checkParent returns ErrNotFound for an unknown parent and ErrInvalid when
// id is among the parent's ancestors (or is the parent).
func checkParent(ctx context.Context, tx pgx.Tx, id, parent string) error {
	var n, hit int64
	err := tx.QueryRow(ctx, `WITH RECURSIVE up (id, parent_id) AS (
			SELECT id, parent_id FROM charging_groups WHERE id = $1
			UNION
			SELECT g.id, g.parent_id FROM charging_groups g JOIN up ON g.id = up.parent_id)
		SELECT count(*), count(*) FILTER (WHERE id = $2) FROM up`, parent, id).Scan(&n, &hit)
	switch {
	case err != nil:
		return err
	case n == 0:
		return fmt.Errorf("parent group %q: %w", parent, store.ErrNotFound)
	case hit > 0:
		return fmt.Errorf("%w: group %q would be its own ancestor through %q", store.ErrInvalid, id, parent)
	}
	return nil
}

// PutGroup implements store.Store: creates or updates all but CreatedAt.
func (db *DB) PutGroup(ctx context.Context, g store.ChargingGroup) (store.ChargingGroup, error) {
	if err := rules.Group(g); err != nil {
		return store.ChargingGroup{}, err
	}
	var out store.ChargingGroup
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockGroupTree(ctx, tx); err != nil {
			return err
		}
		if g.ParentID != "" {
			if err := checkParent(ctx, tx, g.ID, g.ParentID); err != nil {
				return err
			}
		}
		var err error
		out, err = scanGroup(tx.QueryRow(ctx, `INSERT INTO charging_groups (id, name, parent_id,
			limit_l1, limit_l2, limit_l3, power_limit_w, site_meter, created_at, updated_at)
		VALUES ($1, $2, nullif($3, ''), $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, parent_id = excluded.parent_id,
			limit_l1 = excluded.limit_l1, limit_l2 = excluded.limit_l2, limit_l3 = excluded.limit_l3,
			power_limit_w = excluded.power_limit_w, site_meter = excluded.site_meter,
			updated_at = excluded.updated_at
		RETURNING `+groupCols, g.ID, g.Name, g.ParentID, g.LimitA[0], g.LimitA[1], g.LimitA[2],
			g.PowerLimitW, g.SiteMeter, rules.Now()))
		return err
	})
	if isForeignKey(err) {
		err = fmt.Errorf("parent group %q: %w", g.ParentID, store.ErrNotFound)
	}
	if err != nil {
		return store.ChargingGroup{}, fmt.Errorf("postgres: put group %q: %w", g.ID, err)
	}
	return out, nil
}

// DeleteGroup implements store.Store.
func (db *DB) DeleteGroup(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockGroupTree(ctx, tx); err != nil {
			return err
		}
		var children int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM charging_groups WHERE parent_id = $1`, id).Scan(&children); err != nil {
			return err
		}
		if children > 0 {
			return fmt.Errorf("%w: the group has %d child groups", store.ErrConflict, children)
		}
		return mustAffect(tx.Exec(ctx, `DELETE FROM charging_groups WHERE id = $1`, id))
	})
	if isForeignKey(err) {
		err = fmt.Errorf("%w: the group has child groups", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: delete group %q: %w", id, err)
	}
	return nil
}

const settingCols = `charger_id, connector_id, group_id, priority, mode, min_current, max_current,
	phases, solar_min_current, price_below, cheapest_hours, energy_kwh, ready_by, updated_at`

func scanSetting(r pgx.Row) (store.ConnectorSetting, error) {
	var s store.ConnectorSetting
	err := r.Scan(&s.ChargerID, &s.ConnectorID, &s.GroupID, &s.Priority, &s.Mode, &s.MinCurrent,
		&s.MaxCurrent, &s.Phases, &s.SolarMinCurrent, &s.PriceBelow, &s.CheapestHours, &s.EnergyKWh,
		&s.ReadyBy, &s.UpdatedAt)
	utc(&s.UpdatedAt)
	return s, err
}

// ListConnectorSettings implements store.Store, by charger and connector.
func (db *DB) ListConnectorSettings(ctx context.Context) ([]store.ConnectorSetting, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+settingCols+` FROM connector_settings
		ORDER BY charger_id, connector_id`)
	out, err := collect(rows, err, scanSetting)
	if err != nil {
		return nil, fmt.Errorf("postgres: list connector settings: %w", err)
	}
	return out, nil
}

// PutConnectorSetting implements store.Store.
func (db *DB) PutConnectorSetting(ctx context.Context, s store.ConnectorSetting) (store.ConnectorSetting, error) {
	if err := rules.ConnectorSetting(s); err != nil {
		return store.ConnectorSetting{}, err
	}
	out, err := scanSetting(db.pool.QueryRow(ctx, `INSERT INTO connector_settings (`+settingCols+`)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
	ON CONFLICT (charger_id, connector_id) DO UPDATE SET group_id = excluded.group_id,
		priority = excluded.priority, mode = excluded.mode, min_current = excluded.min_current,
		max_current = excluded.max_current, phases = excluded.phases,
		solar_min_current = excluded.solar_min_current, price_below = excluded.price_below,
		cheapest_hours = excluded.cheapest_hours, energy_kwh = excluded.energy_kwh,
		ready_by = excluded.ready_by, updated_at = excluded.updated_at
	RETURNING `+settingCols,
		s.ChargerID, s.ConnectorID, s.GroupID, s.Priority, s.Mode, s.MinCurrent, s.MaxCurrent,
		s.Phases, s.SolarMinCurrent, s.PriceBelow, s.CheapestHours, s.EnergyKWh, s.ReadyBy, rules.Now()))
	if isForeignKey(err) {
		err = fmt.Errorf("group %q: %w", s.GroupID, store.ErrNotFound)
	}
	if err != nil {
		return store.ConnectorSetting{}, fmt.Errorf("postgres: put setting of %q/%d: %w", s.ChargerID, s.ConnectorID, err)
	}
	return out, nil
}

// DeleteConnectorSetting implements store.Store.
func (db *DB) DeleteConnectorSetting(ctx context.Context, chargerID string, connectorID int) error {
	err := mustAffect(db.pool.Exec(ctx, `DELETE FROM connector_settings WHERE charger_id = $1 AND connector_id = $2`,
		chargerID, connectorID))
	if err != nil {
		return fmt.Errorf("postgres: delete setting of %q/%d: %w", chargerID, connectorID, err)
	}
	return nil
}

// ListConnectorLimits implements store.Store, by charger and connector.
func (db *DB) ListConnectorLimits(ctx context.Context) ([]store.ConnectorLimit, error) {
	rows, err := db.pool.Query(ctx, `SELECT charger_id, connector_id, limit_a, sent_at, confirmed,
		unmanaged, reason FROM connector_limits ORDER BY charger_id, connector_id`)
	out, err := collect(rows, err, func(r pgx.Row) (store.ConnectorLimit, error) {
		var l store.ConnectorLimit
		err := r.Scan(&l.ChargerID, &l.ConnectorID, &l.LimitA, &l.SentAt, &l.Confirmed, &l.Unmanaged, &l.Reason)
		utc(&l.SentAt)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list connector limits: %w", err)
	}
	return out, nil
}

// SaveConnectorLimits implements store.Store: the batch is one transaction,
// upserted in charger and connector order so that concurrent batches lock
// rows in the same order; a zero SentAt is now.
func (db *DB) SaveConnectorLimits(ctx context.Context, ls []store.ConnectorLimit) error {
	if err := rules.ConnectorLimits(ls); err != nil {
		return err
	}
	if len(ls) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, l := range rules.SortedLimits(ls) {
			b.Queue(`INSERT INTO connector_limits (charger_id, connector_id, limit_a, sent_at, confirmed,
				unmanaged, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (charger_id, connector_id) DO UPDATE SET limit_a = excluded.limit_a,
				sent_at = excluded.sent_at, confirmed = excluded.confirmed,
				unmanaged = excluded.unmanaged, reason = excluded.reason`,
				l.ChargerID, l.ConnectorID, l.LimitA, rules.OrNow(l.SentAt), l.Confirmed, l.Unmanaged, l.Reason)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: save %d connector limits: %w", len(ls), err)
	}
	return nil
}

// DeleteConnectorLimit implements store.Store.
func (db *DB) DeleteConnectorLimit(ctx context.Context, chargerID string, connectorID int) error {
	err := mustAffect(db.pool.Exec(ctx, `DELETE FROM connector_limits WHERE charger_id = $1 AND connector_id = $2`,
		chargerID, connectorID))
	if err != nil {
		return fmt.Errorf("postgres: delete limit of %q/%d: %w", chargerID, connectorID, err)
	}
	return nil
}

// PutPrices implements store.Store, in one transaction. Writers of prices
// take turns, so that two overlapping replacements cannot interleave.
func (db *DB) PutPrices(ctx context.Context, from, to time.Time, slots []store.PriceSlot) error {
	slots, err := rules.Prices(from, to, slots)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockPrices)
		b.Queue(`DELETE FROM price_slots WHERE start_at >= $1 AND start_at < $2`, from, to)
		for _, s := range slots {
			b.Queue(`INSERT INTO price_slots (start_at, end_at, price) VALUES ($1, $2, $3)`, s.Start, s.End, s.Price)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: put %d prices: %w", len(slots), err)
	}
	return nil
}

// ListPrices implements store.Store.
func (db *DB) ListPrices(ctx context.Context, from, to time.Time) ([]store.PriceSlot, error) {
	rows, err := db.pool.Query(ctx, `SELECT start_at, end_at, price FROM price_slots
		WHERE end_at > $1 AND start_at < $2 ORDER BY start_at`, from, to)
	out, err := collect(rows, err, func(r pgx.Row) (store.PriceSlot, error) {
		var p store.PriceSlot
		err := r.Scan(&p.Start, &p.End, &p.Price)
		utc(&p.Start)
		utc(&p.End)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list prices: %w", err)
	}
	return out, nil
}

const profileCols = `charger_id, connector_id, profile_id, stack_level, purpose, transaction_id,
	profile, source, set_at`

func scanProfile(r pgx.Row) (store.ChargingProfileRecord, error) {
	var p store.ChargingProfileRecord
	var profile []byte
	err := r.Scan(&p.ChargerID, &p.ConnectorID, &p.ProfileID, &p.StackLevel, &p.Purpose, &p.TransactionID,
		&profile, &p.Source, &p.SetAt)
	p.Profile = profile
	utc(&p.SetAt)
	return p, err
}

// PutChargingProfile implements store.Store; a zero SetAt is now. The
// writes of one charger's profiles take turns.
func (db *DB) PutChargingProfile(ctx context.Context, p store.ChargingProfileRecord) error {
	if err := rules.ChargingProfile(p); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockProfiles, p.ChargerID)
		b.Queue(`DELETE FROM charging_profiles WHERE charger_id = $1
			AND (profile_id = $2 OR (connector_id = $3 AND purpose = $4 AND stack_level = $5))`,
			p.ChargerID, p.ProfileID, p.ConnectorID, p.Purpose, p.StackLevel)
		b.Queue(`INSERT INTO charging_profiles (`+profileCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			p.ChargerID, p.ConnectorID, p.ProfileID, p.StackLevel, p.Purpose, p.TransactionID,
			[]byte(p.Profile), p.Source, rules.OrNow(p.SetAt))
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: put charging profile %d of %q: %w", p.ProfileID, p.ChargerID, err)
	}
	return nil
}

// ListChargingProfiles implements store.Store, by connector, purpose and
// stack level.
func (db *DB) ListChargingProfiles(ctx context.Context, chargerID string) ([]store.ChargingProfileRecord, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+profileCols+` FROM charging_profiles
		WHERE charger_id = $1 ORDER BY connector_id, purpose, stack_level`, chargerID)
	out, err := collect(rows, err, scanProfile)
	if err != nil {
		return nil, fmt.Errorf("postgres: list charging profiles of %q: %w", chargerID, err)
	}
	return out, nil
}

// ClearChargingProfiles implements store.Store.
func (db *DB) ClearChargingProfiles(ctx context.Context, chargerID string, f store.ProfileFilter) (int64, error) {
	var a args
	where := []string{"charger_id = " + a.add(chargerID)}
	if f.ProfileID != nil {
		where = append(where, "profile_id = "+a.add(*f.ProfileID))
	}
	if f.ConnectorID != nil {
		where = append(where, "connector_id = "+a.add(*f.ConnectorID))
	}
	if f.Purpose != "" {
		where = append(where, "purpose = "+a.add(f.Purpose))
	}
	if f.StackLevel != nil {
		where = append(where, "stack_level = "+a.add(*f.StackLevel))
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM charging_profiles`+whereClause(where), a...)
	if err != nil {
		return 0, fmt.Errorf("postgres: clear charging profiles of %q: %w", chargerID, err)
	}
	return tag.RowsAffected(), nil
}

// TryLease implements store.Store: one conditional upsert, which locks the
// lease's row and re-checks the condition on its newest version, so two
// holders cannot both take a free lease.
func (db *DB) TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := rules.Lease(name, holder, ttl); err != nil {
		return false, err
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
		name, holder, now.Add(ttl), now)
	if err != nil {
		return false, fmt.Errorf("postgres: lease %q for %q: %w", name, holder, err)
	}
	return tag.RowsAffected() > 0, nil
}

// ReleaseLease implements store.Store; a lease holder does not hold is
// left alone, and that is not an error.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("postgres: release lease %q of %q: %w", name, holder, err)
	}
	return nil
}
