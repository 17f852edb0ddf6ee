package ocpp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: a dead connection's reader,
// handler and keepalive all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
