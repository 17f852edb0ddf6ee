package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

func localListEntryTags(es []store.LocalListEntry) []string {
	return ids(es, func(e store.LocalListEntry) string { return e.IDTag })
}

func idTagNames(ts []store.IDTag) []string {
	return ids(ts, func(t store.IDTag) string { return t.IDTag })
}

func putTags(t *testing.T, s store.Store, tags ...string) {
	t.Helper()
	for _, tag := range tags {
		must(s.PutIDTag(t.Context(), store.IDTag{IDTag: tag, Status: store.IDTagAccepted}))(t)
	}
}

func testLocalLists(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.CreateLocalList(ctx, store.LocalList{Name: "  "})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.CreateLocalList(ctx, store.LocalList{Name: string(make([]byte, 101))})
	wantErr(t, err, store.ErrInvalid)

	depot := must(s.CreateLocalList(ctx, store.LocalList{Name: "Depot", Description: "fleet cards"}))(t)
	if depot.ID == 0 || depot.Name != "Depot" || depot.Description != "fleet cards" || depot.Gen == 0 {
		t.Fatalf("created %+v", depot)
	}
	recent(t, "CreatedAt", depot.CreatedAt)
	_, err = s.CreateLocalList(ctx, store.LocalList{Name: "Depot"})
	wantErr(t, err, store.ErrConflict)
	office := must(s.CreateLocalList(ctx, store.LocalList{Name: "Office"}))(t)
	alpha := must(s.CreateLocalList(ctx, store.LocalList{Name: "Alpha"}))(t)
	eq(t, "by name", ids(must(s.ListLocalLists(ctx))(t), func(l store.LocalList) string { return l.Name }),
		[]string{"Alpha", "Depot", "Office"})
	eq(t, "get", must(s.GetLocalList(ctx, depot.ID))(t), depot)
	_, err = s.GetLocalList(ctx, 999999)
	wantErr(t, err, store.ErrNotFound)

	// Rename; a taken name is a conflict; an unknown list is not found.
	_, err = s.UpdateLocalList(ctx, store.LocalList{ID: office.ID, Name: "Depot"})
	wantErr(t, err, store.ErrConflict)
	_, err = s.UpdateLocalList(ctx, store.LocalList{ID: 999999, Name: "X"})
	wantErr(t, err, store.ErrNotFound)
	office = must(s.UpdateLocalList(ctx, store.LocalList{ID: office.ID, Name: "Office HQ", Description: "d"}))(t)
	if office.Name != "Office HQ" || office.Description != "d" {
		t.Errorf("updated %+v", office)
	}

	noErr(t, s.DeleteLocalList(ctx, alpha.ID))
	wantErr(t, s.DeleteLocalList(ctx, alpha.ID), store.ErrNotFound)
	if n := len(must(s.ListLocalLists(ctx))(t)); n != 2 {
		t.Errorf("%d lists after delete", n)
	}
}

func testLocalListMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := must(s.CreateLocalList(ctx, store.LocalList{Name: "L"}))(t)
	other := must(s.CreateLocalList(ctx, store.LocalList{Name: "Other"}))(t)
	putTags(t, s, "A", "B", "C", "D")
	must(s.PutIDTag(ctx, store.IDTag{IDTag: "E", Status: store.IDTagBlocked, ExpiryDate: ptr(at(time.Hour)), ParentIDTag: "A"}))(t)

	wantErr(t, s.ChangeLocalListMembers(ctx, l.ID, []string{"A", "NOPE"}, nil), store.ErrNotFound)
	wantErr(t, s.ChangeLocalListMembers(ctx, 999999, []string{"A"}, nil), store.ErrNotFound)
	wantErr(t, s.ChangeLocalListMembers(ctx, l.ID, []string{""}, nil), store.ErrInvalid)
	// The failed change left nothing behind.
	eq(t, "after failed add", len(must(s.LocalListEntries(ctx, l.ID))(t)), 0)
	gen := must(s.GetLocalList(ctx, l.ID))(t).Gen

	noErr(t, s.ChangeLocalListMembers(ctx, l.ID, []string{"C", "A", "E", "B"}, nil))
	noErr(t, s.ChangeLocalListMembers(ctx, other.ID, []string{"A"}, nil))
	got := must(s.GetLocalList(ctx, l.ID))(t)
	if got.Members != 4 || got.Gen <= gen {
		t.Fatalf("after add: %+v (gen was %d)", got, gen)
	}
	gen = got.Gen
	entries := must(s.LocalListEntries(ctx, l.ID))(t)
	eq(t, "entries", localListEntryTags(entries), []string{"A", "B", "C", "E"})
	eq(t, "entry E", entries[3], store.LocalListEntry{IDTag: "E", Status: store.IDTagBlocked, ExpiryDate: ptr(at(time.Hour)), ParentIDTag: "A"})
	eq(t, "entry A", entries[0], store.LocalListEntry{IDTag: "A", Status: store.IDTagAccepted})

	// Paging members.
	page := must(s.ListLocalListMembers(ctx, l.ID, "", 2))(t)
	eq(t, "page 1", idTagNames(page), []string{"A", "B"})
	eq(t, "page 2", idTagNames(must(s.ListLocalListMembers(ctx, l.ID, "B", 2))(t)), []string{"C", "E"})
	_, err := s.ListLocalListMembers(ctx, 999999, "", 10)
	wantErr(t, err, store.ErrNotFound)

	// Adding members again and removing non-members changes nothing.
	noErr(t, s.ChangeLocalListMembers(ctx, l.ID, []string{"A", "B"}, []string{"D"}))
	eq(t, "gen after no-op", must(s.GetLocalList(ctx, l.ID))(t).Gen, gen)

	// Add and remove at once.
	noErr(t, s.ChangeLocalListMembers(ctx, l.ID, []string{"D"}, []string{"B", "C"}))
	eq(t, "after change", localListEntryTags(must(s.LocalListEntries(ctx, l.ID))(t)), []string{"A", "D", "E"})
	got = must(s.GetLocalList(ctx, l.ID))(t)
	if got.Gen <= gen {
		t.Errorf("gen %d after a change, was %d", got.Gen, gen)
	}
	gen = got.Gen

	// Changing what a member's entry says moves the gen of every list
	// holding it; its owner or note does not.
	must(s.PutIDTag(ctx, store.IDTag{IDTag: "A", Status: store.IDTagAccepted, Owner: "Ada", Note: "n"}))(t)
	eq(t, "gen after owner change", must(s.GetLocalList(ctx, l.ID))(t).Gen, gen)
	otherGen := must(s.GetLocalList(ctx, other.ID))(t).Gen
	must(s.PutIDTag(ctx, store.IDTag{IDTag: "A", Status: store.IDTagBlocked, Owner: "Ada"}))(t)
	if g := must(s.GetLocalList(ctx, l.ID))(t).Gen; g <= gen {
		t.Errorf("gen %d after blocking a member, was %d", g, gen)
	}
	if g := must(s.GetLocalList(ctx, other.ID))(t).Gen; g <= otherGen {
		t.Errorf("other list's gen %d after blocking a member, was %d", g, otherGen)
	}
	for _, change := range []store.IDTag{
		{IDTag: "A", Status: store.IDTagBlocked, Owner: "Ada", ExpiryDate: ptr(at(48 * time.Hour))},
		{IDTag: "A", Status: store.IDTagBlocked, Owner: "Ada", ExpiryDate: ptr(at(48 * time.Hour)), ParentIDTag: "P"},
	} {
		gen = must(s.GetLocalList(ctx, l.ID))(t).Gen
		must(s.PutIDTag(ctx, change))(t)
		if g := must(s.GetLocalList(ctx, l.ID))(t).Gen; g <= gen {
			t.Errorf("gen %d after %+v, was %d", g, change, gen)
		}
	}
	e := must(s.LocalListEntries(ctx, l.ID))(t)[0]
	eq(t, "entry A now", e, store.LocalListEntry{IDTag: "A", Status: store.IDTagBlocked, ExpiryDate: ptr(at(48 * time.Hour)), ParentIDTag: "P"})

	// A tag that is not a member moves nothing.
	gen = must(s.GetLocalList(ctx, l.ID))(t).Gen
	must(s.PutIDTag(ctx, store.IDTag{IDTag: "B", Status: store.IDTagBlocked}))(t)
	eq(t, "gen after a non-member's change", must(s.GetLocalList(ctx, l.ID))(t).Gen, gen)

	// Deleting an id tag removes it from its lists and moves their gen.
	noErr(t, s.DeleteIDTag(ctx, "D"))
	got = must(s.GetLocalList(ctx, l.ID))(t)
	if got.Gen <= gen || got.Members != 2 {
		t.Errorf("after deleting a member's id tag: %+v (gen was %d)", got, gen)
	}
	eq(t, "entries after delete", localListEntryTags(must(s.LocalListEntries(ctx, l.ID))(t)), []string{"A", "E"})

	// Deleting the list deletes its members, not the id tags.
	noErr(t, s.DeleteLocalList(ctx, l.ID))
	must(s.GetIDTag(ctx, "E"))(t)
	eq(t, "entries of a deleted list", len(must(s.LocalListEntries(ctx, l.ID))(t)), 0)

	// Bulk limits.
	many := make([]string, store.MaxBulk+1)
	for i := range many {
		many[i] = fmt.Sprintf("T%d", i)
	}
	wantErr(t, s.ChangeLocalListMembers(ctx, other.ID, many, nil), store.ErrInvalid)
}

func testLocalListSync(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"CP1", "CP2", "CP3"} {
		must(s.PutCharger(ctx, store.Charger{ID: id, Registration: store.RegistrationAccepted}))(t)
	}
	putTags(t, s, "A", "B")
	l := must(s.CreateLocalList(ctx, store.LocalList{Name: "L"}))(t)
	l2 := must(s.CreateLocalList(ctx, store.LocalList{Name: "L2"}))(t)
	noErr(t, s.ChangeLocalListMembers(ctx, l.ID, []string{"A", "B"}, nil))

	_, err := s.GetLocalListSync(ctx, "CP1")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.AssignLocalList(ctx, "NOPE", l.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.AssignLocalList(ctx, "CP1", 999999)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.AssignLocalList(ctx, "CP1", 0) // never had one
	wantErr(t, err, store.ErrNotFound)

	st := must(s.AssignLocalList(ctx, "CP1", l.ID))(t)
	if st.ChargerID != "CP1" || st.ListID != l.ID || st.ListName != "L" || !st.Pending || st.HeldKnown || st.Version != 0 ||
		st.State() != store.LocalListPending || st.ListGen == 0 || st.WantGen == 0 {
		t.Fatalf("assigned: %+v state %s", st, st.State())
	}
	must(s.AssignLocalList(ctx, "CP2", l.ID))(t)
	got := must(s.GetLocalListSync(ctx, "CP1"))(t)
	if got.Held != nil || got.HeldKnown {
		t.Errorf("held before any sync: %+v", got)
	}
	pending := must(s.ListLocalListSyncs(ctx, store.LocalListSyncFilter{Pending: true}))(t)
	eq(t, "pending", ids(pending, func(x store.LocalListSync) string { return x.ChargerID }), []string{"CP1", "CP2"})
	lst := must(s.GetLocalList(ctx, l.ID))(t)
	if lst.Chargers != 2 || lst.Pending != 2 || lst.Failed != 0 {
		t.Errorf("counts %+v", lst)
	}

	// A sync of CP1 that brings it to the state it read.
	held := must(s.LocalListEntries(ctx, l.ID))(t)
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", At: at(time.Minute), Result: store.LocalListAccepted, Version: 1, Held: held,
		Synced: true, ListGen: st.ListGen, WantGen: st.WantGen,
	}))
	got = must(s.GetLocalListSync(ctx, "CP1"))(t)
	if got.Pending || !got.HeldKnown || got.HeldCount != 2 || got.Version != 1 || got.Result != store.LocalListAccepted ||
		got.State() != store.LocalListInSync || got.SyncedAt == nil || !got.SyncedAt.Equal(at(time.Minute)) ||
		got.AttemptAt == nil || !got.AttemptAt.Equal(at(time.Minute)) || got.Attempts != 0 {
		t.Fatalf("after sync: %+v", got)
	}
	eq(t, "held", got.Held, held)

	// CP2 holds the same: both read it, also after CP1's changes.
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP2", Result: store.LocalListAccepted, Version: 7, Held: held, Synced: true, ListGen: st.ListGen, WantGen: st.WantGen,
	}))
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", Result: store.LocalListAccepted, Version: 2, Held: held[:1], Synced: true, ListGen: st.ListGen, WantGen: st.WantGen,
	}))
	eq(t, "CP2 held", must(s.GetLocalListSync(ctx, "CP2"))(t).Held, held)
	eq(t, "CP1 held", must(s.GetLocalListSync(ctx, "CP1"))(t).Held, held[:1])
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", Result: store.LocalListAccepted, Version: 3, Held: held, Synced: true, ListGen: st.ListGen, WantGen: st.WantGen,
	}))

	// An empty list held is known and empty, not unknown.
	must(s.AssignLocalList(ctx, "CP3", l2.ID))(t)
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP3", Result: store.LocalListAccepted, Version: 1, Held: []store.LocalListEntry{},
	}))
	if got := must(s.GetLocalListSync(ctx, "CP3"))(t); !got.HeldKnown || got.Held == nil || len(got.Held) != 0 || !got.Pending {
		t.Errorf("CP3 holding an empty list, not synced: %+v", got)
	}

	// A change of the list makes its chargers pending; a sync that read
	// the old generation does not make them in sync.
	putTags(t, s, "C")
	noErr(t, s.ChangeLocalListMembers(ctx, l.ID, []string{"C"}, nil))
	got = must(s.GetLocalListSync(ctx, "CP1"))(t)
	if !got.Pending || got.ListGen <= st.ListGen {
		t.Fatalf("after a list change: %+v", got)
	}
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", Result: store.LocalListAccepted, Version: 4, Held: held, Synced: true, ListGen: st.ListGen, WantGen: st.WantGen,
	}))
	if got := must(s.GetLocalListSync(ctx, "CP1"))(t); !got.Pending || got.Version != 4 {
		t.Errorf("a sync of an old generation: %+v", got)
	}
	cur := must(s.GetLocalListSync(ctx, "CP1"))(t)

	// A failure: counted, with backoff; not due until NextAttemptAt.
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", Result: store.LocalListFailed, Error: "no answer", Version: 4, NextAttemptAt: &next,
	}))
	got = must(s.GetLocalListSync(ctx, "CP1"))(t)
	if got.Attempts != 1 || got.Result != store.LocalListFailed || got.Error != "no answer" || got.HeldKnown ||
		got.State() != store.LocalListSyncFailed || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(next) {
		t.Fatalf("after a failure: %+v", got)
	}
	if lst := must(s.GetLocalList(ctx, l.ID))(t); lst.Failed != 1 || lst.Pending != 2 {
		t.Errorf("counts %+v", lst)
	}
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", Result: store.LocalListVersionMismatch, Version: 4, NextAttemptAt: &next,
	}))
	if got := must(s.GetLocalListSync(ctx, "CP1"))(t); got.Attempts != 2 || got.State() != store.LocalListSyncFailed {
		t.Errorf("after a second failure: %+v", got)
	}
	due := func(when time.Time) []string {
		return ids(must(s.ListLocalListSyncs(ctx, store.LocalListSyncFilter{ListID: l.ID, Pending: true, Due: when}))(t),
			func(x store.LocalListSync) string { return x.ChargerID })
	}
	eq(t, "due now", due(time.Now()), []string{"CP2"})
	eq(t, "due later", due(next.Add(time.Second)), []string{"CP1", "CP2"})

	// NotSupported is never due, until a sync is requested.
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{ChargerID: "CP2", Result: store.LocalListNotSupported, Version: 7}))
	got = must(s.GetLocalListSync(ctx, "CP2"))(t)
	if got.State() != store.LocalListUnsupported || !got.Pending {
		t.Errorf("not supported: %+v state %s", got, got.State())
	}
	eq(t, "due with NotSupported", due(next.Add(time.Second)), []string{"CP1"})
	before := got
	noErr(t, s.RequestLocalListSync(ctx, []string{"CP1", "CP2", "NOPE"}, false))
	eq(t, "due after request", due(time.Now()), []string{"CP1", "CP2"})
	got = must(s.GetLocalListSync(ctx, "CP2"))(t)
	if got.Result != "" || got.Attempts != 0 || got.NextAttemptAt != nil || got.WantGen <= before.WantGen {
		t.Errorf("after request: %+v", got)
	}
	// A full request forgets what a charger holds.
	noErr(t, s.RequestLocalListSync(ctx, []string{"CP3"}, true))
	if got := must(s.GetLocalListSync(ctx, "CP3"))(t); got.HeldKnown || got.Held != nil {
		t.Errorf("after a full request: %+v", got)
	}
	noErr(t, s.RequestLocalListSync(ctx, nil, true))

	// Bringing CP1 in sync at the current generations.
	cur = must(s.GetLocalListSync(ctx, "CP1"))(t)
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", Result: store.LocalListAccepted, Version: 5, Held: must(s.LocalListEntries(ctx, l.ID))(t),
		Synced: true, ListGen: cur.ListGen, WantGen: cur.WantGen,
	}))
	if got := must(s.GetLocalListSync(ctx, "CP1"))(t); got.Pending || got.Attempts != 0 || got.NextAttemptAt != nil {
		t.Fatalf("in sync again: %+v", got)
	}

	// Assigning the same list again changes nothing; another list makes it
	// pending, even if a sync of the old one completes afterwards.
	cur = must(s.AssignLocalList(ctx, "CP1", l.ID))(t)
	if cur.Pending {
		t.Errorf("same list again: %+v", cur)
	}
	moved := must(s.AssignLocalList(ctx, "CP1", l2.ID))(t)
	if !moved.Pending || moved.ListID != l2.ID || moved.ListName != "L2" || moved.WantGen <= cur.WantGen {
		t.Fatalf("moved: %+v", moved)
	}
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", Result: store.LocalListAccepted, Version: 6, Held: held, Synced: true, ListGen: cur.ListGen, WantGen: cur.WantGen,
	}))
	if got := must(s.GetLocalListSync(ctx, "CP1"))(t); !got.Pending {
		t.Errorf("an old list's sync after a move: %+v", got)
	}
	eq(t, "by list", ids(must(s.ListLocalListSyncs(ctx, store.LocalListSyncFilter{ListID: l2.ID}))(t),
		func(x store.LocalListSync) string { return x.ChargerID }), []string{"CP1", "CP3"})

	// Unassigning leaves a pending state (its list is to be cleared),
	// then none once cleared.
	un := must(s.AssignLocalList(ctx, "CP1", 0))(t)
	if un.ListID != 0 || un.ListName != "" || !un.Pending {
		t.Fatalf("unassigned: %+v", un)
	}
	noErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{
		ChargerID: "CP1", Result: store.LocalListAccepted, Version: 7, Held: []store.LocalListEntry{}, Synced: true,
		ListGen: un.ListGen, WantGen: un.WantGen,
	}))
	if got := must(s.GetLocalListSync(ctx, "CP1"))(t); got.Pending || got.State() != store.LocalListNotAssigned || !got.HeldKnown || len(got.Held) != 0 || got.Held == nil {
		t.Errorf("cleared: %+v state %s", got, got.State())
	}

	// Deleting a list leaves its chargers pending without a list.
	noErr(t, s.DeleteLocalList(ctx, l.ID))
	if got := must(s.GetLocalListSync(ctx, "CP2"))(t); got.ListID != 0 || !got.Pending {
		t.Errorf("after deleting its list: %+v", got)
	}

	// Outcomes are checked; a charger without a state is not found.
	wantErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{ChargerID: "CP2", Result: "Maybe"}), store.ErrInvalid)
	wantErr(t, s.RecordLocalListSync(ctx, store.LocalListOutcome{ChargerID: "NOPE", Result: store.LocalListAccepted}), store.ErrNotFound)

	// Deleting a charger deletes its state.
	noErr(t, s.DeleteCharger(ctx, "CP2"))
	_, err = s.GetLocalListSync(ctx, "CP2")
	wantErr(t, err, store.ErrNotFound)
}

// testLocalListMemberRace: concurrent changes of one list lose none.
func testLocalListMemberRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := must(s.CreateLocalList(ctx, store.LocalList{Name: "Race"}))(t)
	const n = 8
	for i := range n {
		putTags(t, s, fmt.Sprintf("R%d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.ChangeLocalListMembers(ctx, l.ID, []string{fmt.Sprintf("R%d", i)}, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, err)
	}
	if got := must(s.GetLocalList(ctx, l.ID))(t); got.Members != n {
		t.Errorf("members %d, want %d", got.Members, n)
	}
}
