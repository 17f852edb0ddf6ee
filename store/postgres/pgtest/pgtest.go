// Package pgtest gives tests an isolated PostgreSQL schema on the server
// named by WATTSON_TEST_POSTGRES_URL, or skips them when it is not set.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the test server's URL.
const EnvVar = "WATTSON_TEST_POSTGRES_URL"

// BaseURL returns the test database's URL, or skips the test.
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		t.Skip("skipped: set " + EnvVar + "=postgres://... to run the PostgreSQL tests")
	}
	return u
}

// SchemaURL creates a schema of its own for one test and returns the URL
// of the test database with search_path set to it; the schema is dropped
// when the test ends. Other processes given the URL use the same schema.
func SchemaURL(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "wattson_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
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
	u.RawQuery = q.Encode()
	return u.String()
}
