package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

// ListConnectorsOf implements store.Store.
func (db *DB) ListConnectorsOf(ctx context.Context, chargerIDs []string) ([]store.Connector, error) {
	if err := rules.Bulk(chargerIDs); err != nil {
		return nil, err
	}
	if len(chargerIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(chargerIDs))
	for i, id := range chargerIDs {
		args[i] = id
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+connectorCols+` FROM connectors
		WHERE charger_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+`)
		ORDER BY charger_id, connector_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connectors of %d chargers: %w", len(chargerIDs), err)
	}
	out, err := collect(rows, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connectors of %d chargers: %w", len(chargerIDs), err)
	}
	return out, nil
}

// ListAllConnectors implements store.Store.
func (db *DB) ListAllConnectors(ctx context.Context) ([]store.Connector, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+connectorCols+` FROM connectors ORDER BY charger_id, connector_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list all connectors: %w", err)
	}
	out, err := collect(rows, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list all connectors: %w", err)
	}
	return out, nil
}

// ListChargerSummaries implements store.Store.
func (db *DB) ListChargerSummaries(ctx context.Context) ([]store.ChargerSummary, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, registration, last_seen_at, last_boot_at, created_at
		FROM chargers ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list charger summaries: %w", err)
	}
	out, err := collect(rows, func(s scanner) (store.ChargerSummary, error) {
		var c store.ChargerSummary
		var seen, boot sql.NullInt64
		var created int64
		err := s.Scan(&c.ID, &c.Registration, &seen, &boot, &created)
		c.LastSeenAt, c.LastBootAt, c.CreatedAt = timePtr(seen), timePtr(boot), fromMicros(created)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list charger summaries: %w", err)
	}
	return out, nil
}

// LatestMeterValuesOf implements store.Store. It reads the small
// latest_meter_values table (one row per series), never meter_values.
func (db *DB) LatestMeterValuesOf(ctx context.Context, measurands ...string) ([]store.MeterSample, error) {
	if len(measurands) == 0 {
		return nil, nil
	}
	args := make([]any, len(measurands))
	for i, m := range measurands {
		args[i] = rules.Measurand(store.MeterSample{Measurand: m})
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+meterCols+` FROM latest_meter_values
		WHERE measurand IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+`)
		ORDER BY charger_id, connector_id, measurand, phase`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest meter values of %v: %w", measurands, err)
	}
	out, err := collect(rows, scanMeter)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest meter values of %v: %w", measurands, err)
	}
	return out, nil
}

// EnergySince implements store.Store.
func (db *DB) EnergySince(ctx context.Context, since time.Time) (int64, []store.Transaction, error) {
	var stopped int64
	err := db.r.QueryRowContext(ctx, `SELECT coalesce(sum(meter_stop - meter_start), 0) FROM transactions
		WHERE started_at >= ? AND stopped_at IS NOT NULL`, toMicros(since)).Scan(&stopped)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: energy since %v: %w", since, err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+txCols+` FROM transactions
		WHERE stopped_at IS NULL AND started_at >= ? ORDER BY id`, toMicros(since))
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: energy since %v: %w", since, err)
	}
	running, err := collect(rows, scanTx)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: energy since %v: %w", since, err)
	}
	return stopped, running, nil
}
