package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/postgres"
	"github.com/wattson-csms/wattson/store/storetest"
)

// baseURL returns the test database's URL, or skips the test.
func baseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("WATTSON_TEST_POSTGRES_URL")
	if u == "" {
		t.Skip("skipped: set WATTSON_TEST_POSTGRES_URL=postgres://... to run the PostgreSQL store tests")
	}
	return u
}

// schemaURL creates a schema of its own for one test and returns the URL
// of the test database with search_path set to it; the schema is dropped
// when the test ends.
func schemaURL(t testing.TB) string {
	t.Helper()
	base := baseURL(t)
	var b [6]byte
	rand.Read(b[:])
	name := "wattson_test_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `CREATE SCHEMA `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	// Parallel tests each open a pool; keep them small.
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}

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
