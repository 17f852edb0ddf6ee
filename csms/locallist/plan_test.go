package locallist

import (
	"fmt"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// entriesFrom makes a list of entries from bytes: each byte picks a tag
// (of 32) and a status.
func entriesFrom(b []byte) []store.LocalListEntry {
	statuses := []store.IDTagStatus{store.IDTagAccepted, store.IDTagBlocked, store.IDTagExpired, store.IDTagInvalid}
	seen := map[string]bool{}
	var out []store.LocalListEntry
	for _, c := range b {
		tag := fmt.Sprintf("T%02d", c%32)
		if seen[tag] {
			continue
		}
		seen[tag] = true
		e := store.LocalListEntry{IDTag: tag, Status: statuses[(c/32)%4]}
		if c&0x80 != 0 {
			t := time.Unix(int64(c)*3600, 0).UTC()
			e.ExpiryDate = &t
		}
		out = append(out, e)
	}
	return out
}

// FuzzPlan: whatever a charger holds, the updates planned bring it to
// exactly the list, in parts of at most maxSend entries with consecutive
// versions above the one it had, a Full one first when what it holds is
// not known, and removals and restrictions before grants.
func FuzzPlan(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{2, 3, 4}, true, 2, 5)
	f.Add([]byte{}, []byte{1}, true, 0, 0)
	f.Add([]byte{200, 40, 90}, []byte{}, false, 1, 7)
	f.Fuzz(func(t *testing.T, want, have []byte, known bool, maxSend, version int) {
		maxSend %= 200
		if maxSend < 0 {
			maxSend = -maxSend
		}
		if version < 0 || version > 1<<20 {
			version = 3
		}
		desired := entriesFrom(want)
		var held map[string]store.LocalListEntry
		if known {
			held = map[string]store.LocalListEntry{}
			for _, e := range entriesFrom(have) {
				held[e.IDTag] = e
			}
		}
		ups := plan(desired, held, version, maxSend)
		r := &run{version: version}
		if held != nil {
			r.held = map[string]store.LocalListEntry{}
			for k, v := range held {
				r.held[k] = v
			}
		}
		granted := false
		for i, u := range ups {
			if u.version != version+i+1 {
				t.Fatalf("update %d has version %d after %d", i, u.version, version)
			}
			if maxSend > 0 && len(u.entries) > maxSend {
				t.Fatalf("update %d has %d entries, at most %d", i, len(u.entries), maxSend)
			}
			if (u.kind == v16.UpdateTypeFull) != (!known && i == 0) {
				t.Fatalf("update %d is %s (known %v)", i, u.kind, known)
			}
			for _, d := range u.entries {
				grant := d.IDTagInfo != nil && d.IDTagInfo.Status == v16.AuthorizationStatusAccepted
				if known && granted && !grant {
					t.Fatalf("a removal or restriction of %s after a grant", d.IDTag)
				}
				granted = granted || grant
			}
			r.apply(u)
		}
		if !known && len(ups) == 0 {
			t.Fatal("nothing planned for a list not known")
		}
		got := r.heldSlice()
		if got == nil {
			got = []store.LocalListEntry{}
		}
		if len(got) != len(desired) {
			t.Fatalf("holds %d entries, want %d", len(got), len(desired))
		}
		byTag := map[string]store.LocalListEntry{}
		for _, e := range desired {
			byTag[e.IDTag] = e
		}
		for _, e := range got {
			if w, ok := byTag[e.IDTag]; !ok || !sameEntry(w, e) {
				t.Fatalf("holds %+v, want %+v", e, w)
			}
		}
		if known && len(ups) > 0 && r.version != version+len(ups) {
			t.Fatalf("version %d", r.version)
		}
	})
}

// FuzzLimits: configuration values as chargers send them never break the
// limits read from them.
func FuzzLimits(f *testing.F) {
	f.Add("100", "1000", "Core,LocalAuthListManagement")
	f.Add("-1", "x", "")
	f.Add(" 7 ", "99999999999999999999", "core , localauthlistmanagement")
	f.Fuzz(func(t *testing.T, send, list, profiles string) {
		l := limitsOf([]store.ConfigKey{{Key: keyMaxSend, Value: send}, {Key: "localauthlistmaxlength", Value: list}, {Key: keyProfiles, Value: profiles}})
		if l.maxSend < 0 || l.maxList < 0 {
			t.Fatalf("negative limits %+v", l)
		}
	})
}
