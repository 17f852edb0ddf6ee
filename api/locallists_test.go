package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/csms/locallist"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
)

// withLocalLists runs a syncer with the API.
func withLocalLists(t *testing.T) func(*api.Config) {
	return func(cfg *api.Config) {
		s, err := locallist.New(locallist.Config{Store: cfg.Store, Events: cfg.CSMS.Events(), Commands: cfg.CSMS,
			Debounce: time.Millisecond, CallTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		cfg.LocalLists = s
	}
}

type listJSON struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Members  int    `json:"members"`
	Chargers int    `json:"chargers"`
	Pending  int    `json:"pending"`
}

type listState struct {
	ChargerID string `json:"chargerId"`
	ListID    *int64 `json:"listId"`
	ListName  string `json:"listName"`
	State     string `json:"state"`
	Version   int    `json:"version"`
	Entries   int    `json:"entries"`
	Result    string `json:"result"`
	Connected bool   `json:"connected"`
}

func TestLocalLists(t *testing.T) {
	e := newEnv(t, withLocalLists(t))
	cp := e.chargePoint("LL1")
	e.register("LLOFF")

	// Lists.
	r := e.ok(201, "POST", "/local-lists", `{"name":" Depot ","description":"fleet cards"}`)
	var l listJSON
	r.decode(t, &l)
	if l.Name != "Depot" || l.ID == 0 || r.Header.Get("Location") != fmt.Sprintf("%s/local-lists/%d", api.Prefix, l.ID) {
		t.Fatalf("created %+v, Location %q", l, r.Header.Get("Location"))
	}
	path := fmt.Sprintf("/local-lists/%d", l.ID)
	wantProblem(t, e.admin("POST", "/local-lists", `{"name":"Depot"}`), 409, api.KindConflict, "")
	wantProblem(t, e.admin("POST", "/local-lists", `{"name":"  "}`), 400, api.KindInvalidPayload, "name")
	wantProblem(t, e.admin("POST", "/local-lists", `{"name":"x","colour":1}`), 400, api.KindInvalidPayload, "colour")
	wantProblem(t, e.admin("POST", "/local-lists", fmt.Sprintf(`{"name":%q}`, strings.Repeat("n", 101))), 400, api.KindInvalidPayload, "name")
	wantProblem(t, e.admin("GET", "/local-lists/0", ""), 400, api.KindInvalidRequest, "list")
	wantProblem(t, e.admin("GET", "/local-lists/99999", ""), 404, api.KindNotFound, "")
	e.ok(200, "PUT", path, `{"name":"Depot","description":"changed"}`)
	var lists struct{ Items []listJSON }
	e.ok(200, "GET", "/local-lists", "").decode(t, &lists)
	if len(lists.Items) != 1 || lists.Items[0].Name != "Depot" {
		t.Fatalf("lists %+v", lists)
	}

	// Members.
	e.ok(201, "PUT", "/id-tags/CARD-A", `{"status":"Accepted"}`)
	e.ok(201, "PUT", "/id-tags/CARD-B", `{"status":"Accepted"}`)
	wantProblem(t, e.admin("POST", path+"/members", `{"add":["CARD-A","NOPE"]}`), 400, api.KindInvalidPayload, "add[1]")
	wantProblem(t, e.admin("POST", path+"/members", `{"add":["CARD-A","CARD-A"]}`), 400, api.KindInvalidPayload, "add[1]")
	wantProblem(t, e.admin("POST", path+"/members", `{}`), 400, api.KindInvalidPayload, "add")
	wantProblem(t, e.admin("POST", path+"/members", `{"add":["CARD-A"],"remove":["CARD-A"]}`), 400, api.KindInvalidPayload, "remove[0]")
	wantProblem(t, e.admin("POST", path+"/members", fmt.Sprintf(`{"add":[%q]}`, strings.Repeat("x", 21))), 400, api.KindInvalidPayload, "add[0]")
	wantProblem(t, e.admin("PUT", path+"/members/NOPE", ""), 404, api.KindNotFound, "")
	wantProblem(t, e.admin("POST", "/local-lists/99999/members", `{"add":["CARD-A"]}`), 404, api.KindNotFound, "")
	e.ok(200, "POST", path+"/members", `{"add":["CARD-A"]}`).decode(t, &l)
	e.ok(200, "PUT", path+"/members/CARD-B", "").decode(t, &l)
	if l.Members != 2 {
		t.Fatalf("members %+v", l)
	}
	var members struct {
		Items []struct{ IDTag string }
		Next  string
	}
	e.ok(200, "GET", path+"/members?limit=1", "").decode(t, &members)
	if len(members.Items) != 1 || members.Items[0].IDTag != "CARD-A" || members.Next != "CARD-A" {
		t.Fatalf("members page %+v", members)
	}

	// A charger: never had a list, then gets this one.
	var st listState
	e.ok(200, "GET", "/chargers/LL1/local-list", "").decode(t, &st)
	if st.ListID != nil || st.State != "none" || !st.Connected {
		t.Fatalf("before assigning: %+v", st)
	}
	wantProblem(t, e.admin("GET", "/chargers/NOSUCH/local-list", ""), 404, api.KindNotFound, "")
	wantProblem(t, e.admin("PUT", "/chargers/LL1/local-list", `{"listId":99999}`), 400, api.KindInvalidPayload, "listId")
	wantProblem(t, e.admin("PUT", "/chargers/NOSUCH/local-list", fmt.Sprintf(`{"listId":%d}`, l.ID)), 404, api.KindNotFound, "")
	wantProblem(t, e.admin("POST", "/chargers/LLOFF/local-list/sync", ""), 409, api.KindConflict, "")
	e.ok(200, "PUT", "/chargers/LL1/local-list", fmt.Sprintf(`{"listId":%d}`, l.ID)).decode(t, &st)
	if st.ListID == nil || *st.ListID != l.ID || st.ListName != "Depot" {
		t.Fatalf("assigned: %+v", st)
	}
	waitState := func(id, want string) listState {
		t.Helper()
		var s listState
		eventually(t, id+" "+want, func() bool {
			e.ok(200, "GET", "/chargers/"+id+"/local-list", "").decode(t, &s)
			return s.State == want
		})
		return s
	}
	st = waitState("LL1", "inSync")
	version, entries := cp.LocalList()
	if len(entries) != 2 || st.Version != version || st.Entries != 2 || st.Result != "Accepted" {
		t.Fatalf("in sync: %+v, charger holds %v at %d", st, entries, version)
	}

	// Blocking an id tag through the API reaches the charger.
	e.ok(200, "PUT", "/id-tags/CARD-A", `{"status":"Blocked"}`)
	eventually(t, "CARD-A blocked on the charger", func() bool {
		_, es := cp.LocalList()
		return es["CARD-A"].Status == v16.AuthorizationStatusBlocked
	})
	// Deleting one removes it.
	e.ok(204, "DELETE", "/id-tags/CARD-B", "")
	eventually(t, "CARD-B gone from the charger", func() bool {
		_, es := cp.LocalList()
		_, ok := es["CARD-B"]
		return !ok && len(es) == 1
	})
	waitState("LL1", "inSync")

	// The list's chargers; bulk assignment.
	var chargers struct {
		Items []listState
		Next  string
	}
	e.ok(200, "GET", path+"/chargers", "").decode(t, &chargers)
	if len(chargers.Items) != 1 || chargers.Items[0].ChargerID != "LL1" || !chargers.Items[0].Connected || chargers.Next != "" {
		t.Fatalf("chargers %+v", chargers)
	}
	wantProblem(t, e.admin("POST", path+"/chargers", `{"add":["LLOFF","NOSUCH"]}`), 400, api.KindInvalidPayload, "add[1]")
	if r := e.ok(200, "GET", "/chargers/LLOFF/local-list", ""); !strings.Contains(string(r.Body), `"state":"none"`) {
		t.Errorf("a refused request assigned LLOFF: %s", r.Body)
	}
	wantProblem(t, e.admin("POST", path+"/chargers", `{"remove":["LLOFF"]}`), 400, api.KindInvalidPayload, "remove[0]")
	e.ok(200, "POST", path+"/chargers", `{"add":["LLOFF"]}`).decode(t, &l)
	if l.Chargers != 2 || l.Pending != 1 {
		t.Errorf("after adding LLOFF: %+v", l)
	}
	if s := waitState("LLOFF", "pending"); s.Connected {
		t.Errorf("LLOFF: %+v", s)
	}

	// Sync now.
	e.ok(202, "POST", "/chargers/LL1/local-list/sync", `{"full":true}`)
	wantProblem(t, e.admin("POST", "/chargers/LL1/local-list/sync", `{"full":"yes"}`), 400, api.KindInvalidPayload, "full")
	var n struct{ Chargers int }
	e.ok(202, "POST", path+"/sync", "").decode(t, &n)
	if n.Chargers != 2 {
		t.Errorf("sync of the list: %+v", n)
	}
	waitState("LL1", "inSync")

	// Clearing caches.
	var clear struct {
		Results []struct {
			ChargerID, Status, Error, ErrorKind string
		}
	}
	e.ok(200, "POST", "/authorization-cache/clear", `{"chargers":["LL1","LLOFF","NOSUCH"]}`).decode(t, &clear)
	if len(clear.Results) != 3 || clear.Results[0].Status != "Accepted" || clear.Results[1].ErrorKind != "charger-not-connected" ||
		clear.Results[2].ErrorKind != "not-found" || clear.Results[1].Error == "" {
		t.Errorf("clear cache: %+v", clear)
	}
	wantProblem(t, e.admin("POST", "/authorization-cache/clear", `{"chargers":[]}`), 400, api.KindInvalidPayload, "chargers")
	wantProblem(t, e.admin("POST", "/authorization-cache/clear", `{"chargers":["LL1","LL1"]}`), 400, api.KindInvalidPayload, "chargers[1]")

	// Roles: viewers read, operators change.
	var tok struct{ Token string }
	e.ok(http.StatusCreated, "POST", "/tokens", `{"name":"v","role":"viewer"}`).decode(t, &tok)
	for _, p := range []string{"/local-lists", path, path + "/members", path + "/chargers", "/chargers/LL1/local-list"} {
		if r := e.do("GET", p, tok.Token, ""); r.Status != 200 {
			t.Errorf("viewer GET %s: %d", p, r.Status)
		}
	}
	for _, rq := range []struct{ method, path, body string }{
		{"POST", "/local-lists", `{"name":"V"}`},
		{"PUT", path, `{"name":"V"}`},
		{"DELETE", path, ""},
		{"POST", path + "/members", `{"add":["CARD-A"]}`},
		{"PUT", path + "/members/CARD-A", ""},
		{"DELETE", path + "/members/CARD-A", ""},
		{"POST", path + "/chargers", `{"add":["LL1"]}`},
		{"POST", path + "/sync", ""},
		{"PUT", "/chargers/LL1/local-list", `{"listId":null}`},
		{"POST", "/chargers/LL1/local-list/sync", ""},
		{"POST", "/authorization-cache/clear", `{"chargers":["LL1"]}`},
	} {
		wantProblem(t, e.do(rq.method, rq.path, tok.Token, rq.body), 403, api.KindForbidden, "-")
	}

	// Removing a member; deleting the list clears the charger's list.
	e.ok(200, "DELETE", path+"/members/CARD-A", "").decode(t, &l)
	if l.Members != 0 {
		t.Errorf("after removing: %+v", l)
	}
	e.ok(201, "PUT", "/id-tags/CARD-C", `{"status":"Accepted"}`)
	e.ok(200, "PUT", path+"/members/CARD-C", "")
	eventually(t, "CARD-C on the charger", func() bool { _, es := cp.LocalList(); _, ok := es["CARD-C"]; return ok && len(es) == 1 })
	e.ok(204, "DELETE", path, "")
	st = waitState("LL1", "none")
	if st.ListID != nil {
		t.Errorf("after deleting the list: %+v", st)
	}
	if _, es := cp.LocalList(); len(es) != 0 {
		t.Errorf("the charger still holds %v", es)
	}
	e.ok(200, "PUT", "/chargers/LLOFF/local-list", `{"listId":null}`)
}
