package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/postgres"
	"github.com/wattson-csms/wattson/store/sqlite"
)

// openerFor picks the store for a -db value: sqlite:PATH, a bare path, or a
// postgres:// URL.
func openerFor(dsn string) (kind string, open func(context.Context) (store.Store, error), err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", func(ctx context.Context) (store.Store, error) { return postgres.Open(ctx, dsn) }, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return "", nil, fmt.Errorf("-db %q: give a file, e.g. sqlite:wattson.db", dsn)
		}
		return "sqlite", func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, path) }, nil
	case strings.Contains(dsn, "://"):
		return "", nil, fmt.Errorf("-db %q: want sqlite:PATH or postgres://…", dsn)
	case dsn == "":
		return "", nil, fmt.Errorf("-db is empty: want sqlite:PATH or postgres://…")
	default:
		return "sqlite", func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, dsn) }, nil
	}
}
