package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// LogCountsMigrated checks migration 9 on a store that held a message log
// before the store counted it: open opens the same database each time,
// downgrade (with the store closed) drops message_log_counts and forgets
// migration 9, keeping the entries. The reopened store counts them, so its
// first flush trims to keep.
func LogCountsMigrated(t *testing.T, open func(t *testing.T) store.Store, downgrade func(t *testing.T)) {
	ctx := t.Context()
	s := open(t)
	var entries []store.LogEntry
	for i := range 5 {
		entries = append(entries, store.LogEntry{ChargerID: "cp", At: time.Unix(int64(i), 0), Frame: []byte(fmt.Sprint(i))})
	}
	noErr(t, s.AppendLog(ctx, entries, 10))
	noErr(t, s.Close())
	downgrade(t)

	s = open(t)
	defer s.Close()
	noErr(t, s.AppendLog(ctx, []store.LogEntry{{ChargerID: "cp", At: time.Unix(5, 0), Frame: []byte("5")}}, 4))
	var frames []string
	for _, e := range must(s.ListLog(ctx, "cp", 0, 0))(t) {
		frames = append(frames, string(e.Frame))
	}
	eq(t, "after the upgrade and one flush with keep 4", fmt.Sprint(frames), "[5 4 3 2]")
}

// DowngradeLogCounts are the statements that take a database back to
// before migration 9 (see LogCountsMigrated).
var DowngradeLogCounts = []string{`DROP TABLE message_log_counts`, `DELETE FROM schema_migrations WHERE version = 9`}
