package store

import (
	"context"
	"time"
)

// LocalList is a named local authorization list: the id tags a group of
// chargers keeps so that drivers can start while the charger is offline
// (or without asking the central system, with LocalPreAuthorize). Its
// members are id tags; what each entry says (status, expiry, parent) comes
// from the id tag's record.
type LocalList struct {
	ID          int64
	Name        string
	Description string
	// Gen moves on with every change of what the list's chargers should
	// hold: a member added or removed, a member's id tag changed.
	Gen       int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// Counts, filled by GetLocalList and ListLocalLists.
	Members  int
	Chargers int
	Pending  int // assigned chargers that do not hold what they should yet
	Failed   int // of those, the ones whose last attempt failed
}

// LocalListEntry is one id tag as a charger's local list holds it.
type LocalListEntry struct {
	IDTag       string      `json:"idTag"`
	Status      IDTagStatus `json:"status"`
	ExpiryDate  *time.Time  `json:"expiryDate,omitempty"`
	ParentIDTag string      `json:"parentIdTag,omitempty"`
}

// Results of a local list synchronisation: OCPP's UpdateStatus, also for a
// charger that gave no usable answer (Failed, with Error saying why).
const (
	LocalListAccepted        = "Accepted"
	LocalListFailed          = "Failed"
	LocalListNotSupported    = "NotSupported"
	LocalListVersionMismatch = "VersionMismatch"
)

// States of a charger's local list, as LocalListSync.State derives them.
const (
	LocalListInSync      = "inSync"
	LocalListPending     = "pending"
	LocalListSyncFailed  = "failed"
	LocalListUnsupported = "notSupported"
	LocalListNotAssigned = "none" // no list and nothing left to clear
)

// LocalListSync is a charger's local list: the list assigned to it and
// what the charger was last known to hold. A charger has a row from its
// first assignment on; unassigning keeps the row, so that the charger's
// list is cleared.
type LocalListSync struct {
	ChargerID string
	ListID    int64 // 0: none (the charger should hold an empty list)
	ListName  string
	// Version is the charger's list version as it last acknowledged or
	// reported it.
	Version int
	// HeldKnown says Held is what the charger holds; after a lost answer
	// or a version the charger reported that Wattson did not send, it is
	// not known and the next update is a Full one.
	HeldKnown bool
	Held      []LocalListEntry // by id tag; only GetLocalListSync fills it
	HeldCount int
	// Pending: the charger does not hold what it should yet (as of ListGen
	// and WantGen, which a sync hands back in LocalListOutcome).
	Pending bool
	ListGen int64
	WantGen int64
	// The last attempt.
	Result        string
	Error         string
	Attempts      int // failed attempts in a row
	AttemptAt     *time.Time
	SyncedAt      *time.Time // when it last came in sync
	NextAttemptAt *time.Time // no automatic attempt before
	UpdatedAt     time.Time
}

// State sums the sync state up for people: inSync, pending, failed,
// notSupported, or none for an unassigned charger whose list is cleared.
func (s LocalListSync) State() string {
	switch {
	case s.Result == LocalListNotSupported:
		return LocalListUnsupported
	case !s.Pending && s.ListID == 0:
		return LocalListNotAssigned
	case !s.Pending:
		return LocalListInSync
	case s.Result == LocalListFailed || s.Result == LocalListVersionMismatch:
		return LocalListSyncFailed
	}
	return LocalListPending
}

// LocalListOutcome is what one synchronisation of a charger's local list
// found out; RecordLocalListSync stores it.
type LocalListOutcome struct {
	ChargerID string
	At        time.Time // zero: now
	Result    string
	Error     string
	// Version and Held are what the charger holds now; Held nil means not
	// known.
	Version int
	Held    []LocalListEntry
	// Synced: the charger holds what it should as of ListGen and WantGen
	// (from the LocalListSync the sync started from).
	Synced        bool
	ListGen       int64
	WantGen       int64
	NextAttemptAt *time.Time
}

// LocalListSyncFilter selects charger sync states, ordered by charger id.
type LocalListSyncFilter struct {
	ListID  int64 // only the chargers assigned to this list; 0: all
	Pending bool  // only the pending ones that are due (NextAttemptAt passed) and not NotSupported
	Due     time.Time
	After   string
	Limit   int
}

// LocalListStore keeps local lists, their members, which charger has which
// list and what each charger holds; Store includes it.
type LocalListStore interface {
	// CreateLocalList creates a list (ID, Gen and times are set);
	// ErrConflict for a taken name.
	CreateLocalList(ctx context.Context, l LocalList) (LocalList, error)
	GetLocalList(ctx context.Context, id int64) (LocalList, error)
	// ListLocalLists returns every list, by name.
	ListLocalLists(ctx context.Context) ([]LocalList, error)
	// UpdateLocalList changes the name and description.
	UpdateLocalList(ctx context.Context, l LocalList) (LocalList, error)
	// DeleteLocalList deletes a list; its chargers are left without a
	// list, so their lists are cleared at their next sync.
	DeleteLocalList(ctx context.Context, id int64) error

	// ChangeLocalListMembers adds and removes id tags (at most MaxBulk
	// each) in one write; adding a member or removing a non-member is
	// no change. ErrNotFound names an unknown list or id tag.
	ChangeLocalListMembers(ctx context.Context, listID int64, add, remove []string) error
	// ListLocalListMembers returns a list's members' id tags, by id tag,
	// after after.
	ListLocalListMembers(ctx context.Context, listID int64, after string, limit int) ([]IDTag, error)
	// LocalListEntries returns everything the list's chargers should hold,
	// by id tag.
	LocalListEntries(ctx context.Context, listID int64) ([]LocalListEntry, error)

	// AssignLocalList gives a charger a list (listID 0: none) and returns
	// its state; ErrNotFound for an unknown charger or list, or for
	// unassigning a charger that never had one.
	AssignLocalList(ctx context.Context, chargerID string, listID int64) (LocalListSync, error)
	// GetLocalListSync returns a charger's state with Held; ErrNotFound if
	// it never had a list.
	GetLocalListSync(ctx context.Context, chargerID string) (LocalListSync, error)
	// ListLocalListSyncs returns states without Held.
	ListLocalListSyncs(ctx context.Context, f LocalListSyncFilter) ([]LocalListSync, error)
	// RequestLocalListSync marks chargers (at most MaxBulk) pending now,
	// forgetting an earlier NotSupported and any backoff; with full, what
	// they hold is forgotten too, so the next update is a Full one.
	// Chargers without a list state are skipped.
	RequestLocalListSync(ctx context.Context, chargerIDs []string, full bool) error
	// RecordLocalListSync stores the outcome of a sync; ErrNotFound if
	// the charger has no state.
	RecordLocalListSync(ctx context.Context, o LocalListOutcome) error
}
