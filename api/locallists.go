package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/csms/locallist"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/store"
)

// Local authorization lists: named lists of id tags, assigned to chargers,
// which the syncer (csms/locallist) keeps on the chargers; and clearing
// chargers' authorization caches.

// Limits of the local list endpoints.
const (
	maxListName        = 100
	maxListDescription = 2000
	maxBulkIDs         = 1000 // id tags or chargers in one request
)

// LocalListJSON is a local list with its counts.
type LocalListJSON struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Members     int       `json:"members"`
	Chargers    int       `json:"chargers"`
	Pending     int       `json:"pending"`
	Failed      int       `json:"failed"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func localListJSON(l store.LocalList) LocalListJSON {
	return LocalListJSON{ID: l.ID, Name: l.Name, Description: l.Description, Members: l.Members, Chargers: l.Chargers,
		Pending: l.Pending, Failed: l.Failed, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
}

// LocalListPut is the body of POST /local-lists and PUT /local-lists/{list}.
type LocalListPut struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ChargerListState is a charger's local list state with whether it is
// connected.
type ChargerListState struct {
	locallist.State
	Connected bool `json:"connected"`
}

func (a *API) chargerListState(s store.LocalListSync) ChargerListState {
	return ChargerListState{State: locallist.StateOf(s), Connected: a.svc.IsConnected(s.ChargerID)}
}

// localListsChanged wakes the syncer after a change, if there is one.
func (a *API) localListsChanged() {
	if a.cfg.LocalLists != nil {
		a.cfg.LocalLists.Changed()
	}
}

// idTagChanged tells the syncer that an id tag changed: the chargers whose
// lists hold it get a Differential update.
func (a *API) idTagChanged(tag string) {
	if a.cfg.LocalLists != nil {
		a.cfg.LocalLists.IDTagChanged(tag)
	}
}

func listIDPath(r *http.Request) (int64, error) {
	return intPath(r, "list", 1, math.MaxInt64)
}

func (b LocalListPut) check() (store.LocalList, error) {
	l := store.LocalList{Name: strings.TrimSpace(b.Name), Description: b.Description}
	switch {
	case l.Name == "":
		return l, invalidBody("name", "name is required")
	case !utf8.ValidString(l.Name) || utf8.RuneCountInString(l.Name) > maxListName || strings.IndexFunc(l.Name, isControl) >= 0:
		return l, invalidBody("name", "name must be at most %d characters of text", maxListName)
	}
	if err := text("description", l.Description, maxListDescription); err != nil {
		return l, err
	}
	return l, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (a *API) listLocalLists(w http.ResponseWriter, r *http.Request) error {
	ls, err := a.st.ListLocalLists(r.Context())
	if err != nil {
		return err
	}
	out := make([]LocalListJSON, len(ls))
	for i, l := range ls {
		out[i] = localListJSON(l)
	}
	return writeJSON(w, http.StatusOK, items(out))
}

func (a *API) createLocalList(w http.ResponseWriter, r *http.Request) error {
	var body LocalListPut
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	l, err := body.check()
	if err != nil {
		return err
	}
	l, err = a.st.CreateLocalList(r.Context(), l)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/local-lists/"+strconv.FormatInt(l.ID, 10))
	return writeJSON(w, http.StatusCreated, localListJSON(l))
}

func (a *API) getLocalList(w http.ResponseWriter, r *http.Request) error {
	id, err := listIDPath(r)
	if err != nil {
		return err
	}
	l, err := a.st.GetLocalList(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no local list %d", id)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, localListJSON(l))
}

func (a *API) putLocalList(w http.ResponseWriter, r *http.Request) error {
	id, err := listIDPath(r)
	if err != nil {
		return err
	}
	var body LocalListPut
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	l, err := body.check()
	if err != nil {
		return err
	}
	l.ID = id
	l, err = a.st.UpdateLocalList(r.Context(), l)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no local list %d", id)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, localListJSON(l))
}

func (a *API) deleteLocalList(w http.ResponseWriter, r *http.Request) error {
	id, err := listIDPath(r)
	if err != nil {
		return err
	}
	if err := a.st.DeleteLocalList(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("no local list %d", id)
	} else if err != nil {
		return err
	}
	a.localListsChanged()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listLocalListMembers(w http.ResponseWriter, r *http.Request) error {
	id, err := listIDPath(r)
	if err != nil {
		return err
	}
	q := newQuery(r)
	after, limit := q.str("after", 100), q.limit()
	if q.err != nil {
		return q.err
	}
	ts, err := a.st.ListLocalListMembers(r.Context(), id, after, fetchLimit(limit))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no local list %d", id)
	}
	if err != nil {
		return err
	}
	out := make([]IDTagJSON, len(ts))
	for i, t := range ts {
		out[i] = idTagJSON(t)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(t IDTagJSON) string { return t.IDTag }))
}

// MembersChange is the body of POST /local-lists/{list}/members and of
// POST /local-lists/{list}/chargers.
type MembersChange struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

// checkIDs checks a list of ids: each valid, none twice, at most
// maxBulkIDs.
func checkIDs(field string, ids []string, check func(string) string) error {
	if len(ids) > maxBulkIDs {
		return invalidBody(field, "%s must name at most %d", field, maxBulkIDs)
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if why := check(id); why != "" {
			return invalidBody(f, "%s %s", f, why)
		}
		if seen[id] {
			return invalidBody(f, "%q is named twice", id)
		}
		seen[id] = true
	}
	return nil
}

// decodeChange reads the list of the path and a body of ids to add and
// remove, each checked with check; what names an id for people.
func decodeChange(w http.ResponseWriter, r *http.Request, check func(string) string, what string) (int64, MembersChange, error) {
	var body MembersChange
	id, err := listIDPath(r)
	if err != nil {
		return 0, body, err
	}
	if err := decodeBody(w, r, &body); err != nil {
		return 0, body, err
	}
	if err := checkIDs("add", body.Add, check); err != nil {
		return 0, body, err
	}
	if err := checkIDs("remove", body.Remove, check); err != nil {
		return 0, body, err
	}
	if len(body.Add)+len(body.Remove) == 0 {
		return 0, body, invalidBody("add", "add or remove at least one %s", what)
	}
	return id, body, nil
}

func checkChargerID(id string) string {
	if err := ocpp.ValidateChargerID(id); err != nil {
		return err.Error()
	}
	return ""
}

func (a *API) changeLocalListMembers(w http.ResponseWriter, r *http.Request) error {
	id, body, err := decodeChange(w, r, checkIDTag, "id tag")
	if err != nil {
		return err
	}
	for i, tag := range body.Remove {
		for _, t := range body.Add {
			if t == tag {
				return invalidBody(fmt.Sprintf("remove[%d]", i), "%q is both added and removed", tag)
			}
		}
	}
	return a.changeMembers(w, r, id, body.Add, body.Remove)
}

func (a *API) changeMembers(w http.ResponseWriter, r *http.Request, id int64, add, remove []string) error {
	err := a.st.ChangeLocalListMembers(r.Context(), id, add, remove)
	if errors.Is(err, store.ErrNotFound) {
		if _, lerr := a.st.GetLocalList(r.Context(), id); errors.Is(lerr, store.ErrNotFound) {
			return notFound("no local list %d", id)
		}
		// Name the id tag that does not exist.
		for i, tag := range add {
			if _, terr := a.st.GetIDTag(r.Context(), tag); errors.Is(terr, store.ErrNotFound) {
				if r.PathValue("idTag") != "" {
					return notFound("no id tag %q", tag)
				}
				return invalidBody(fmt.Sprintf("add[%d]", i), "no id tag %q; create it first", tag)
			}
		}
	}
	if err != nil {
		return err
	}
	a.localListsChanged()
	l, err := a.st.GetLocalList(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, localListJSON(l))
}

func (a *API) addLocalListMember(w http.ResponseWriter, r *http.Request) error {
	id, err := listIDPath(r)
	if err != nil {
		return err
	}
	tag, err := idTagPath(r)
	if err != nil {
		return err
	}
	return a.changeMembers(w, r, id, []string{tag}, nil)
}

func (a *API) removeLocalListMember(w http.ResponseWriter, r *http.Request) error {
	id, err := listIDPath(r)
	if err != nil {
		return err
	}
	tag, err := idTagPath(r)
	if err != nil {
		return err
	}
	return a.changeMembers(w, r, id, nil, []string{tag})
}

func (a *API) listLocalListChargers(w http.ResponseWriter, r *http.Request) error {
	id, err := listIDPath(r)
	if err != nil {
		return err
	}
	q := newQuery(r)
	after, limit := q.str("after", 100), q.limit()
	if q.err != nil {
		return q.err
	}
	if _, err := a.st.GetLocalList(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("no local list %d", id)
	} else if err != nil {
		return err
	}
	ss, err := a.st.ListLocalListSyncs(r.Context(), store.LocalListSyncFilter{ListID: id, After: after, Limit: fetchLimit(limit)})
	if err != nil {
		return err
	}
	out := make([]ChargerListState, len(ss))
	for i, s := range ss {
		out[i] = a.chargerListState(s)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(s ChargerListState) string { return s.ChargerID }))
}

// changeLocalListChargers is POST /local-lists/{list}/chargers: assign the
// list to chargers and take it from others.
func (a *API) changeLocalListChargers(w http.ResponseWriter, r *http.Request) error {
	id, body, err := decodeChange(w, r, checkChargerID, "charger")
	if err != nil {
		return err
	}
	if _, err := a.st.GetLocalList(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("no local list %d", id)
	} else if err != nil {
		return err
	}
	// Everything is checked before anything changes: a request names an
	// unknown charger entirely or not at all.
	for i, cid := range body.Add {
		if _, err := a.st.GetCharger(r.Context(), cid); errors.Is(err, store.ErrNotFound) {
			return invalidBody(fmt.Sprintf("add[%d]", i), "no charger %q", cid)
		} else if err != nil {
			return err
		}
	}
	// Removing only takes this list from chargers that have it.
	for i, cid := range body.Remove {
		s, err := a.st.GetLocalListSync(r.Context(), cid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && s.ListID != id) {
			return invalidBody(fmt.Sprintf("remove[%d]", i), "charger %q does not have this list", cid)
		}
		if err != nil {
			return err
		}
	}
	for _, cid := range body.Add {
		if _, err := a.st.AssignLocalList(r.Context(), cid, id); err != nil {
			a.localListsChanged()
			return err
		}
	}
	for _, cid := range body.Remove {
		if _, err := a.st.AssignLocalList(r.Context(), cid, 0); err != nil {
			return err
		}
	}
	a.localListsChanged()
	l, err := a.st.GetLocalList(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, localListJSON(l))
}

// SyncRequest is the optional body of the sync endpoints.
type SyncRequest struct {
	Full bool `json:"full"`
}

// syncBody reads the optional body of the sync endpoints.
func (a *API) syncBody(w http.ResponseWriter, r *http.Request) (SyncRequest, error) {
	var body SyncRequest
	b, err := readBody(w, r)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return body, err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return body, decodeBody(w, r, &body)
}

func (a *API) syncer() (*locallist.Syncer, error) {
	if a.cfg.LocalLists == nil {
		return nil, notFound("local list synchronisation is not running on this server")
	}
	return a.cfg.LocalLists, nil
}

// syncLocalList is POST /local-lists/{list}/sync: every charger of the
// list is synced now (connected ones at once, the others when they
// connect).
func (a *API) syncLocalList(w http.ResponseWriter, r *http.Request) error {
	id, err := listIDPath(r)
	if err != nil {
		return err
	}
	body, err := a.syncBody(w, r)
	if err != nil {
		return err
	}
	s, err := a.syncer()
	if err != nil {
		return err
	}
	if _, err := a.st.GetLocalList(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("no local list %d", id)
	} else if err != nil {
		return err
	}
	n, after := 0, ""
	for {
		ss, err := a.st.ListLocalListSyncs(r.Context(), store.LocalListSyncFilter{ListID: id, After: after, Limit: store.MaxBulk})
		if err != nil {
			return err
		}
		ids := make([]string, len(ss))
		for i, x := range ss {
			ids[i] = x.ChargerID
		}
		if err := s.SyncNow(r.Context(), ids, body.Full); err != nil {
			return err
		}
		n += len(ids)
		if len(ss) < store.MaxBulk {
			break
		}
		after = ids[len(ids)-1]
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"chargers": n})
}

func (a *API) getChargerLocalList(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	s, err := a.st.GetLocalListSync(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := a.st.GetCharger(r.Context(), id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("no charger %q", id)
			}
			return err
		}
		s = store.LocalListSync{ChargerID: id}
	} else if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.chargerListState(s))
}

// ChargerListPut is the body of PUT /chargers/{id}/local-list.
type ChargerListPut struct {
	ListID *int64 `json:"listId"`
}

func (a *API) putChargerLocalList(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	var body ChargerListPut
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	list := int64(0)
	if body.ListID != nil {
		if *body.ListID < 1 {
			return invalidBody("listId", "listId must be a list's id, or null for none")
		}
		list = *body.ListID
		if _, err := a.st.GetLocalList(r.Context(), list); errors.Is(err, store.ErrNotFound) {
			return invalidBody("listId", "no local list %d", list)
		} else if err != nil {
			return err
		}
	}
	s, err := a.st.AssignLocalList(r.Context(), id, list)
	if errors.Is(err, store.ErrNotFound) {
		if _, gerr := a.st.GetCharger(r.Context(), id); errors.Is(gerr, store.ErrNotFound) {
			return notFound("no charger %q", id)
		}
		// Taking the list from a charger that never had one.
		s = store.LocalListSync{ChargerID: id}
	} else if err != nil {
		return err
	}
	a.localListsChanged()
	return writeJSON(w, http.StatusOK, a.chargerListState(s))
}

func (a *API) syncChargerLocalList(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	body, err := a.syncBody(w, r)
	if err != nil {
		return err
	}
	sy, err := a.syncer()
	if err != nil {
		return err
	}
	s, err := a.st.GetLocalListSync(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := a.st.GetCharger(r.Context(), id); errors.Is(err, store.ErrNotFound) {
			return notFound("no charger %q", id)
		}
		return &Error{Kind: KindConflict, Detail: fmt.Sprintf("charger %q has no local list to sync; assign one first", id)}
	} else if err != nil {
		return err
	}
	if err := sy.SyncNow(r.Context(), []string{id}, body.Full); err != nil {
		return err
	}
	if s, err = a.st.GetLocalListSync(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, a.chargerListState(s))
}

// ClearCacheRequest is the body of POST /authorization-cache/clear.
type ClearCacheRequest struct {
	Chargers []string `json:"chargers"`
}

// ClearCacheResult is one charger's outcome: its status, or an error.
type ClearCacheResult struct {
	ChargerID string `json:"chargerId"`
	Status    string `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorKind Kind   `json:"errorKind,omitempty"`
}

// clearCaches is POST /authorization-cache/clear: ClearCache on each
// charger, some at a time, with a result per charger in the order given.
func (a *API) clearCaches(w http.ResponseWriter, r *http.Request) error {
	var body ClearCacheRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if len(body.Chargers) == 0 {
		return invalidBody("chargers", "chargers needs at least one charger id")
	}
	if err := checkIDs("chargers", body.Chargers, checkChargerID); err != nil {
		return err
	}
	s, err := a.syncer()
	if err != nil {
		return err
	}
	res := s.ClearCache(r.Context(), body.Chargers)
	out := make([]ClearCacheResult, len(res))
	for i, x := range res {
		out[i] = ClearCacheResult{ChargerID: x.ChargerID, Status: x.Status}
		if x.Err != nil {
			p := problemOf(x.Err)
			out[i].Error, out[i].ErrorKind = p.Detail, Kind(strings.TrimPrefix(p.Type, ProblemBase))
			if out[i].Error == "" {
				out[i].Error = p.Title
			}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"results": out})
}
