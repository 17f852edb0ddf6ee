package postgres_test

import (
	"fmt"
	"testing"
	"time"

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
// kept counts (migration 9) gets them from the entries it holds, so the
// first flush after the upgrade trims to keep.
func TestMessageLogCountsMigrated(t *testing.T) {
	ctx := t.Context()
	u := pgtest.SchemaURL(t)
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	var entries []store.LogEntry
	for i := range 5 {
		entries = append(entries, store.LogEntry{ChargerID: "cp", At: time.Unix(int64(i), 0), Frame: []byte(fmt.Sprint(i))})
	}
	if err := db.AppendLog(ctx, entries, 10); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Back to the schema before migration 9, the entries kept.
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE message_log_counts`, `DELETE FROM schema_migrations WHERE version = 9`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	conn.Close(ctx)

	db, err = postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AppendLog(ctx, []store.LogEntry{{ChargerID: "cp", At: time.Unix(5, 0), Frame: []byte("5")}}, 4); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListLog(ctx, "cp", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var frames []string
	for _, e := range got {
		frames = append(frames, string(e.Frame))
	}
	if fmt.Sprint(frames) != "[5 4 3 2]" {
		t.Fatalf("after the upgrade and one flush with keep 4: %v", frames)
	}
}
