package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
)

type configSnapshot struct {
	TakenAt time.Time `json:"takenAt"`
	Keys    []struct {
		Key      string `json:"key"`
		Readonly bool   `json:"readonly"`
		Value    string `json:"value"`
	} `json:"keys"`
	UnknownKeys []string `json:"unknownKeys"`
}

func (s configSnapshot) value(key string) (string, bool, bool) {
	for _, k := range s.Keys {
		if k.Key == key {
			return k.Value, k.Readonly, true
		}
	}
	return "", false, false
}

func TestConfiguration(t *testing.T) {
	e := newEnv(t, nil)
	e.chargePoint("CFG1")
	e.chargePoint("CFG2")
	e.register("CFGOFF") // known, never connected

	wantProblem(t, e.admin("GET", "/chargers/CFG1/configuration", ""), 404, api.KindNotFound, "")

	before := time.Now().Add(-time.Second)
	var snap configSnapshot
	e.ok(200, "POST", "/chargers/CFG1/configuration/refresh", "").decode(t, &snap)
	if v, ro, ok := snap.value("NumberOfConnectors"); !ok || !ro || v != "2" {
		t.Errorf("NumberOfConnectors = %q readonly %v found %v", v, ro, ok)
	}
	if v, ro, ok := snap.value("HeartbeatInterval"); !ok || ro || v == "" {
		t.Errorf("HeartbeatInterval = %q readonly %v found %v", v, ro, ok)
	}
	if snap.TakenAt.Before(before) || snap.UnknownKeys == nil {
		t.Errorf("snapshot %+v", snap)
	}
	var got configSnapshot
	e.ok(200, "GET", "/chargers/CFG1/configuration", "").decode(t, &got)
	if !got.TakenAt.Equal(snap.TakenAt) || len(got.Keys) != len(snap.Keys) {
		t.Errorf("stored snapshot %+v, refreshed %+v", got, snap)
	}
	wantProblem(t, e.admin("POST", "/chargers/CFGOFF/configuration/refresh", ""), 409, api.KindNotConnected, "")

	type results struct {
		Results []struct {
			ChargerID string `json:"chargerId"`
			Status    string `json:"status"`
			Error     string `json:"error"`
			ErrorKind string `json:"errorKind"`
		} `json:"results"`
	}
	apply := func(key, value string) results {
		t.Helper()
		var res results
		e.ok(200, "POST", "/configuration/apply",
			fmt.Sprintf(`{"key":%q,"value":%q,"chargers":["CFG1","CFGOFF","CFG2","NOSUCH"]}`, key, value)).decode(t, &res)
		if len(res.Results) != 4 {
			t.Fatalf("results %+v", res)
		}
		for i, id := range []string{"CFG1", "CFGOFF", "CFG2", "NOSUCH"} {
			if res.Results[i].ChargerID != id {
				t.Errorf("result %d is %q, want %q", i, res.Results[i].ChargerID, id)
			}
		}
		off, unknown := res.Results[1], res.Results[3]
		if off.Status != "" || off.ErrorKind != "charger-not-connected" || off.Error == "" {
			t.Errorf("offline: %+v", off)
		}
		if unknown.Status != "" || unknown.ErrorKind == "" || unknown.Error == "" {
			t.Errorf("unknown: %+v", unknown)
		}
		return res
	}

	res := apply("HeartbeatInterval", "321")
	if res.Results[0].Status != "Accepted" || res.Results[2].Status != "Accepted" || res.Results[0].Error != "" {
		t.Errorf("HeartbeatInterval: %+v", res)
	}
	e.ok(200, "GET", "/chargers/CFG1/configuration", "").decode(t, &got)
	if v, _, _ := got.value("HeartbeatInterval"); v != "321" || !got.TakenAt.Equal(snap.TakenAt) {
		t.Errorf("snapshot after apply: HeartbeatInterval = %q, takenAt %v", v, got.TakenAt)
	}
	wantProblem(t, e.admin("GET", "/chargers/CFG2/configuration", ""), 404, api.KindNotFound, "")

	res = apply("NumberOfConnectors", "5")
	if res.Results[0].Status != "Rejected" || res.Results[2].Status != "Rejected" {
		t.Errorf("read-only key: %+v", res)
	}
	e.ok(200, "GET", "/chargers/CFG1/configuration", "").decode(t, &got)
	if v, _, _ := got.value("NumberOfConnectors"); v != "2" {
		t.Errorf("read-only key changed in the snapshot: %q", v)
	}
	res = apply("NoSuchKey", "1")
	if res.Results[0].Status != "NotSupported" {
		t.Errorf("unknown key: %+v", res.Results[0])
	}

	// Validation.
	long := func(n int) string { return fmt.Sprintf("%0*d", n, 0) }
	many := `"A"`
	for i := range 1000 {
		many += fmt.Sprintf(`,"C%d"`, i)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"value":"1","chargers":["CFG1"]}`, "key"},
		{fmt.Sprintf(`{"key":%q,"value":"1","chargers":["CFG1"]}`, long(51)), "key"},
		{`{"key":"K","chargers":["CFG1"]}`, "value"},
		{fmt.Sprintf(`{"key":"K","value":%q,"chargers":["CFG1"]}`, long(501)), "value"},
		{`{"key":"K","value":"1","chargers":[]}`, "chargers"},
		{`{"key":"K","value":"1"}`, "chargers"},
		{`{"key":"K","value":"1","chargers":[` + many + `]}`, "chargers"},
		{`{"key":"K","value":"1","chargers":["CFG1","CFG1"]}`, "chargers[1]"},
		{`{"key":"K","value":"1","chargers":[""]}`, "chargers[0]"},
		{`{"key":"K","value":"1","chargers":["CFG1"],"x":1}`, ""},
	} {
		r := e.admin("POST", "/configuration/apply", tc.body)
		if r.Status != 400 {
			t.Errorf("%.80s: status %d %s", tc.body, r.Status, r.Body)
			continue
		}
		if tc.field != "" {
			wantProblem(t, r, 400, api.KindInvalidPayload, tc.field)
		}
	}
	e.ok(200, "POST", "/configuration/apply", fmt.Sprintf(`{"key":%q,"value":%q,"chargers":["CFG1"]}`, long(50), long(500)))

	// Roles: all three are for operators and admins.
	token := func(role string) string {
		var tok struct {
			Token string `json:"token"`
		}
		e.ok(http.StatusCreated, "POST", "/tokens", fmt.Sprintf(`{"name":%q,"role":%q}`, role, role)).decode(t, &tok)
		return tok.Token
	}
	viewer, operator := token("viewer"), token("operator")
	for _, rq := range []struct{ method, path, body string }{
		{"GET", "/chargers/CFG1/configuration", ""},
		{"POST", "/chargers/CFG1/configuration/refresh", ""},
		{"POST", "/configuration/apply", `{"key":"HeartbeatInterval","value":"60","chargers":["CFG1"]}`},
	} {
		if r := e.do(rq.method, rq.path, viewer, rq.body); r.Status != 403 {
			t.Errorf("viewer %s %s: %d", rq.method, rq.path, r.Status)
		}
		if r := e.do(rq.method, rq.path, operator, rq.body); r.Status != 200 {
			t.Errorf("operator %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
		}
		if r := e.do(rq.method, rq.path, "", rq.body); r.Status != 401 {
			t.Errorf("anonymous %s %s: %d", rq.method, rq.path, r.Status)
		}
	}
}
