package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/postgres"
	"github.com/wattson-csms/wattson/store/postgres/pgtest"
	"github.com/wattson-csms/wattson/store/storetest"
)

func baseURL(t testing.TB) string { return pgtest.BaseURL(t) }

// schemaURL is an isolated schema with a small pool: the conformance
// tests run in parallel, each with a pool of its own.
func schemaURL(t testing.TB) string { return pgtest.SchemaURL(t) + "&pool_max_conns=8" }

func open(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), schemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the schema's cleanup, so it runs before it.
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	baseURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// TestConcurrentOpen: nodes starting at once against an empty schema
// migrate one after another (advisory lock), and all of them work.
func TestConcurrentOpen(t *testing.T) {
	u := schemaURL(t)
	const nodes = 6
	dbs := make(chan *postgres.DB, nodes)
	errs := make(chan error, nodes)
	for range nodes {
		go func() {
			db, err := postgres.Open(t.Context(), u)
			errs <- err
			dbs <- db
		}()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		db := <-dbs
		t.Cleanup(func() { db.Close() })
		if _, err := db.ListChargers(t.Context(), store.ChargerFilter{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMessageLogCountsMigrated: a schema written before the message log
// kept counts (migration 9) gets them from the entries it holds.
func TestMessageLogCountsMigrated(t *testing.T) {
	u := pgtest.SchemaURL(t)
	storetest.LogCountsMigrated(t, func(t *testing.T) store.Store {
		db, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}, func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		for _, q := range storetest.DowngradeLogCounts {
			if _, err := conn.Exec(t.Context(), q); err != nil {
				t.Fatal(q, err)
			}
		}
	})
}
