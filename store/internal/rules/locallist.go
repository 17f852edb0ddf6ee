package rules

import (
	"crypto/sha256"
	"encoding/json"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/store"
)

// Limits of a local list's texts.
const (
	MaxLocalListName        = 100
	MaxLocalListDescription = 2000
)

// LocalList checks a list's name and description.
func LocalList(l store.LocalList) error {
	if strings.TrimSpace(l.Name) == "" {
		return invalid("local list without a name")
	}
	if !utf8.ValidString(l.Name) || utf8.RuneCountInString(l.Name) > MaxLocalListName {
		return invalid("local list name longer than %d characters", MaxLocalListName)
	}
	if !utf8.ValidString(l.Description) || utf8.RuneCountInString(l.Description) > MaxLocalListDescription {
		return invalid("local list description longer than %d characters", MaxLocalListDescription)
	}
	return nil
}

// LocalListMembers checks the id tags of a membership change.
func LocalListMembers(add, remove []string) error {
	if len(add) > store.MaxBulk || len(remove) > store.MaxBulk {
		return invalid("at most %d id tags to add and %d to remove at once", store.MaxBulk, store.MaxBulk)
	}
	for _, t := range append(append([]string(nil), add...), remove...) {
		if t == "" {
			return invalid("empty id tag")
		}
	}
	return nil
}

// LocalListResult checks the result of a sync.
func LocalListResult(o store.LocalListOutcome) error {
	if err := ChargerID(o.ChargerID); err != nil {
		return err
	}
	switch o.Result {
	case store.LocalListAccepted, store.LocalListFailed, store.LocalListNotSupported, store.LocalListVersionMismatch:
		return nil
	}
	return invalid("local list result %q", o.Result)
}

// LocalListContent returns the entries sorted by id tag as JSON (never
// null) and their hash, under which chargers holding the same entries
// share one stored copy.
func LocalListContent(entries []store.LocalListEntry) (hash, content []byte, err error) {
	sorted := append([]store.LocalListEntry{}, entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].IDTag < sorted[j].IDTag })
	for i := range sorted {
		if e := sorted[i].ExpiryDate; e != nil {
			u := e.UTC()
			sorted[i].ExpiryDate = &u
		}
	}
	content, err = json.Marshal(sorted)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(content)
	return sum[:], content, nil
}

// DecodeLocalListContent reads what LocalListContent wrote.
func DecodeLocalListContent(content []byte) ([]store.LocalListEntry, error) {
	out := []store.LocalListEntry{}
	if err := json.Unmarshal(content, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []store.LocalListEntry{}
	}
	return out, nil
}
