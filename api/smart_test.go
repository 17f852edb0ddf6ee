package api_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/smartcharging/manager"
)

// smartEnv is an env with a running smart-charging manager.
func smartEnv(t *testing.T) (*env, *manager.Manager) {
	t.Helper()
	var m *manager.Manager
	e := newEnv(t, func(c *api.Config) {
		var err error
		m, err = manager.New(manager.Config{Store: c.Store, Events: c.CSMS.Events(), Commands: c.CSMS,
			Interval: 50 * time.Millisecond, Debounce: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.Smart = m
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e, m
}

func TestSmartChargingGroups(t *testing.T) {
	e, m := smartEnv(t)
	e.ok(http.StatusCreated, "POST", "/smart-charging/groups", `{"id":"house","name":"House","limitA":[35,35,35]}`)
	wantProblem(t, e.admin("POST", "/smart-charging/groups", `{"id":"house","limitA":[35,35,35]}`), 409, api.KindConflict, "")
	e.ok(200, "PUT", "/smart-charging/groups/garage", `{"name":"Garage","parentId":"house","limitA":[32,32,32],"powerLimitW":11000}`)
	for _, tc := range []struct{ body, field string }{
		{`{"id":"x"}`, "limitA"},
		{`{"id":"bad id","limitA":[1,1,1]}`, "id"},
		{`{"id":"x","limitA":[-1,1,1]}`, "limitA"},
		{`{"id":"x","limitA":[1,1,1],"parentId":"nope"}`, "parentId"},
		{`{"id":"x","limitA":[1,1,1],"powerLimitW":-5}`, "powerLimitW"},
		{`{"id":"x","limitA":[1,1]}`, "limitA"},
	} {
		wantProblem(t, e.admin("POST", "/smart-charging/groups", tc.body), 400, api.KindInvalidPayload, tc.field)
	}
	// A cycle: house under garage, which is under house.
	wantProblem(t, e.admin("PUT", "/smart-charging/groups/house", `{"limitA":[35,35,35],"parentId":"garage"}`), 400, api.KindInvalidPayload, "parentId")

	var groups struct{ Items []api.GroupJSON }
	e.ok(200, "GET", "/smart-charging/groups", "").decode(t, &groups)
	if len(groups.Items) != 2 || groups.Items[1].ParentID != "house" && groups.Items[0].ParentID != "house" {
		t.Fatalf("groups: %+v", groups.Items)
	}

	// A connector joins; its settings are checked.
	e.ok(200, "PUT", "/smart-charging/connectors/CP1/1", `{"groupId":"garage","mode":"low-cost","priority":2,"cheapestHours":3,"readyBy":"07:00"}`)
	for _, tc := range []struct{ body, field string }{
		{`{"mode":"on"}`, "groupId"},
		{`{"groupId":"nope"}`, "groupId"},
		{`{"groupId":"garage","mode":"turbo"}`, "mode"},
		{`{"groupId":"garage","minCurrent":20,"maxCurrent":10}`, "minCurrent"},
		{`{"groupId":"garage","phases":"L4"}`, "phases"},
		{`{"groupId":"garage","readyBy":"7 am"}`, "readyBy"},
		{`{"groupId":"garage","cheapestHours":25}`, "cheapestHours"},
	} {
		wantProblem(t, e.admin("PUT", "/smart-charging/connectors/CP1/1", tc.body), 400, api.KindInvalidPayload, tc.field)
	}
	wantProblem(t, e.admin("PUT", "/smart-charging/connectors/CP1/0", `{"groupId":"garage"}`), 400, api.KindInvalidRequest, "connectorId")

	// The manager picks the setting up.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var st manager.Status
		e.ok(200, "GET", "/smart-charging", "").decode(t, &st)
		if len(st.Connectors) == 1 && st.Connectors[0].GroupID == "garage" && st.LastRun != nil && len(st.Groups) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the connector: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var hist struct{ Items []manager.Point }
	e.ok(200, "GET", "/smart-charging/groups/garage/history", "").decode(t, &hist)
	if len(hist.Items) == 0 || hist.Items[0].LimitA != [3]float64{32, 32, 32} {
		t.Errorf("history: %+v", hist.Items)
	}

	// A group with children cannot go; one without takes its members along.
	wantProblem(t, e.admin("DELETE", "/smart-charging/groups/house", ""), 409, api.KindConflict, "")
	e.ok(204, "DELETE", "/smart-charging/groups/garage", "")
	var settings struct{ Items []api.SettingJSON }
	e.ok(200, "GET", "/smart-charging/connectors", "").decode(t, &settings)
	if len(settings.Items) != 0 {
		t.Errorf("settings left after their group went: %+v", settings.Items)
	}
	wantProblem(t, e.admin("DELETE", "/smart-charging/connectors/CP1/1", ""), 404, api.KindNotFound, "")
	_ = m
}

func TestPricesAndSiteMeter(t *testing.T) {
	e, m := smartEnv(t)
	day := time.Now().UTC().Truncate(24 * time.Hour)
	body := `{"items":[`
	for h := range 24 {
		if h > 0 {
			body += ","
		}
		s := day.Add(time.Duration(h) * time.Hour)
		body += fmt.Sprintf(`{"start":%q,"end":%q,"price":%g}`, s.Format(time.RFC3339), s.Add(time.Hour).Format(time.RFC3339), 0.1+float64(h)/100)
	}
	body += "]}"
	e.ok(200, "PUT", "/prices", body)
	var prices struct{ Items []api.SlotJSON }
	e.ok(200, "GET", "/prices?from="+day.Format(time.RFC3339)+"&to="+day.Add(24*time.Hour).Format(time.RFC3339), "").decode(t, &prices)
	if len(prices.Items) != 24 || math.Abs(prices.Items[5].Price-0.15) > 1e-9 {
		t.Fatalf("prices: %+v", prices.Items)
	}
	wantProblem(t, e.admin("PUT", "/prices", `{"items":[]}`), 400, api.KindInvalidPayload, "items")
	wantProblem(t, e.admin("PUT", "/prices", `{"items":[{"start":"2030-01-01T01:00:00Z","end":"2030-01-01T00:00:00Z","price":1}]}`), 400, api.KindInvalidPayload, "items[0]")
	wantProblem(t, e.admin("GET", "/prices?from=yesterday", ""), 400, api.KindInvalidRequest, "from")

	if r := e.ok(200, "GET", "/smart-charging/site-meter", ""); string(r.Body) != "null\n" {
		t.Errorf("site meter before a reading: %s", r.Body)
	}
	e.ok(200, "PUT", "/smart-charging/site-meter", `{"surplusW":4200}`)
	if r := m.SiteMeter(); r == nil || r.SurplusW != 4200 || r.Source != "api" {
		t.Errorf("reading: %+v", r)
	}
	wantProblem(t, e.admin("PUT", "/smart-charging/site-meter", `{}`), 400, api.KindInvalidPayload, "surplusW")
}

func TestSmartChargingWithoutManager(t *testing.T) {
	e := newEnv(t, nil)
	wantProblem(t, e.admin("GET", "/smart-charging", ""), 404, api.KindNotFound, "")
	// Configuration is still kept.
	e.ok(http.StatusCreated, "POST", "/smart-charging/groups", `{"id":"g","limitA":[16,16,16]}`)
}
