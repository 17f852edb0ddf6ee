package sqlite_test

import (
	"testing"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/storetest"
)

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return open(b) })
}
