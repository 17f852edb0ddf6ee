package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

func TestAuthAndRoles(t *testing.T) {
	e := newEnv(t, nil)

	// Public.
	for _, p := range []string{"/health", "/openapi.yaml", "/openapi.json"} {
		if r := e.do("GET", p, "", ""); r.Status != http.StatusOK {
			t.Errorf("GET %s without a token: %d", p, r.Status)
		}
	}
	// No or bad credentials.
	for _, h := range []string{"", "Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer wrong", "Bearer wat_bogus", "Bearer " + adminToken + "x"} {
		hdr := http.Header{}
		if h != "" {
			hdr.Set("Authorization", h)
		}
		r := e.doHeader("GET", "/chargers", "", "", hdr)
		wantProblem(t, r, http.StatusUnauthorized, api.KindUnauthorized, "-")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 for %q without WWW-Authenticate", h)
		}
	}

	// Tokens: admin creates one per role; the secret is shown once.
	mk := func(name, role string) (int64, string) {
		r := e.ok(http.StatusCreated, "POST", "/tokens", fmt.Sprintf(`{"name":%q,"role":%q}`, name, role))
		var tok struct {
			ID    int64  `json:"id"`
			Token string `json:"token"`
			Role  string `json:"role"`
		}
		r.decode(t, &tok)
		if !strings.HasPrefix(tok.Token, api.TokenPrefix) || len(tok.Token) != len(api.TokenPrefix)+43 || tok.Role != role || tok.ID == 0 {
			t.Fatalf("created token %s", r.Body)
		}
		return tok.ID, tok.Token
	}
	viewerID, viewer := mk("dashboard", "viewer")
	_, operator := mk("ops", "operator")
	_, admin2 := mk("root", "admin")

	cases := []struct {
		token, method, path, body string
		status                    int
	}{
		{viewer, "GET", "/chargers", "", 200},
		{viewer, "GET", "/id-tags", "", 200},
		{viewer, "GET", "/transactions", "", 200},
		{viewer, "PUT", "/id-tags/T1", `{"status":"Accepted"}`, 403},
		{viewer, "POST", "/chargers/CP1/start", `{"idTag":"T1"}`, 403},
		{viewer, "POST", "/chargers/CP1/ocpp/Reset", `{"type":"Soft"}`, 403},
		{viewer, "GET", "/tokens", "", 403},
		{viewer, "PUT", "/chargers/CP1", `{"registration":"Accepted"}`, 403},
		{operator, "PUT", "/id-tags/T1", `{"status":"Accepted"}`, 201},
		{operator, "DELETE", "/id-tags/T1", "", 204},
		{operator, "POST", "/chargers/CP1/stop", `{"connectorId":1}`, 404}, // allowed; no such charger
		{operator, "PUT", "/chargers/CP1", `{"registration":"Accepted"}`, 403},
		{operator, "DELETE", "/chargers/CP1", "", 403},
		{operator, "POST", "/tokens", `{"name":"x","role":"admin"}`, 403},
		{operator, "GET", "/tokens", "", 403},
		{admin2, "PUT", "/chargers/CP1", `{"registration":"Accepted"}`, 201},
		{admin2, "GET", "/tokens", "", 200},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, c.token, c.body)
		if r.Status != c.status {
			t.Errorf("%s %s as %.8s…: %d, want %d: %s", c.method, c.path, c.token, r.Status, c.status, r.Body)
		}
		if c.status == 403 {
			wantProblem(t, r, 403, api.KindForbidden, "-")
		}
	}

	// The list shows no secrets and when each token was last used.
	r := e.ok(200, "GET", "/tokens", "")
	if strings.Contains(string(r.Body), api.TokenPrefix) || strings.Contains(string(r.Body), `"hash"`) {
		t.Errorf("token list shows secrets: %s", r.Body)
	}
	var list struct {
		Items []api.TokenJSON `json:"items"`
	}
	r.decode(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("tokens %s", r.Body)
	}
	for _, tok := range list.Items {
		if tok.LastUsedAt == nil {
			t.Errorf("token %q: no last use recorded", tok.Name)
		}
	}

	// Invalid token requests.
	wantProblem(t, e.admin("POST", "/tokens", `{"name":"","role":"viewer"}`), 400, api.KindInvalidPayload, "name")
	wantProblem(t, e.admin("POST", "/tokens", `{"name":"x","role":"driver"}`), 400, api.KindInvalidPayload, "role")
	wantProblem(t, e.admin("POST", "/tokens", `{"name":"x","role":"viewer","scope":"all"}`), 400, api.KindInvalidPayload, "scope")
	wantProblem(t, e.admin("DELETE", "/tokens/x", ""), 400, api.KindInvalidRequest, "id")

	// A deleted token stops working at once.
	e.ok(204, "DELETE", fmt.Sprintf("/tokens/%d", viewerID), "")
	wantProblem(t, e.do("GET", "/chargers", viewer, ""), 401, api.KindUnauthorized, "-")
	wantProblem(t, e.admin("DELETE", fmt.Sprintf("/tokens/%d", viewerID), ""), 404, api.KindNotFound, "-")
}

func TestTokenTouchedOncePerMinute(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	clock := func() time.Time {
		<-mu
		defer func() { mu <- struct{}{} }()
		return now
	}
	advance := func(d time.Duration) {
		<-mu
		now = now.Add(d)
		mu <- struct{}{}
	}
	e := newEnv(t, func(c *api.Config) { c.Now = clock })
	r := e.ok(201, "POST", "/tokens", `{"name":"n","role":"viewer"}`)
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	r.decode(t, &tok)
	lastUsed := func() time.Time {
		ts, err := e.st.ListTokens(context.Background())
		if err != nil || len(ts) != 1 || ts[0].LastUsedAt == nil {
			t.Fatalf("tokens %+v %v", ts, err)
		}
		return ts[0].LastUsedAt.UTC()
	}
	e.do("GET", "/health", tok.Token, "")
	e.do("GET", "/chargers", tok.Token, "")
	first := lastUsed()
	if !first.Equal(now) {
		t.Errorf("last used %v, want %v", first, now)
	}
	advance(30 * time.Second)
	e.do("GET", "/chargers", tok.Token, "")
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("touched again after 30 s: %v", got)
	}
	advance(31 * time.Second)
	e.do("GET", "/chargers", tok.Token, "")
	if got := lastUsed(); !got.Equal(now) {
		t.Errorf("not touched after a minute: %v, want %v", got, now)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t, nil)
	wantProblem(t, e.admin("GET", "/nope", ""), 404, api.KindNotFound, "-")
	r := e.admin("PATCH", "/chargers/CP1", "")
	wantProblem(t, r, 405, api.KindMethodNotAllowed, "-")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "PUT") || !strings.Contains(allow, "GET") {
		t.Errorf("Allow %q", allow)
	}
}

func TestChargers(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()

	r := e.ok(201, "PUT", "/chargers/CP1", `{"registration":"Pending","password":"a secret password"}`)
	if r.Header.Get("Location") != api.Prefix+"/chargers/CP1" {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	var c api.ChargerJSON
	r.decode(t, &c)
	if c.ID != "CP1" || c.Registration != "Pending" || !c.HasPassword || c.Connected || c.Connectors == nil {
		t.Errorf("created %s", r.Body)
	}
	if strings.Contains(string(r.Body), "$2") {
		t.Errorf("the answer shows the hash: %s", r.Body)
	}
	stored, err := e.st.GetCharger(ctx, "CP1")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(stored.PasswordHash), []byte("a secret password")) != nil {
		t.Errorf("stored hash %q does not match the password", stored.PasswordHash)
	}
	// Approve without touching the password, then remove it.
	r = e.ok(200, "PUT", "/chargers/CP1", `{"registration":"Accepted"}`)
	r.decode(t, &c)
	if c.Registration != "Accepted" || !c.HasPassword {
		t.Errorf("approved %s", r.Body)
	}
	r = e.ok(200, "PUT", "/chargers/CP1", `{"registration":"Accepted","password":""}`)
	r.decode(t, &c)
	if c.HasPassword {
		t.Errorf("password not removed: %s", r.Body)
	}

	// Bad bodies.
	for _, b := range []struct{ body, field string }{
		{`{"registration":"Maybe"}`, "registration"},
		{`{}`, "registration"},
		{`{"registration":1}`, "registration"},
		{`{"registration":"Accepted","password":"short"}`, "password"},
		{`{"registration":"Accepted","pasword":"a secret password"}`, "pasword"},
		{`{"registration":`, ""},
		{`[1,2]`, ""},
		{`{"registration":"Accepted"} {}`, ""},
		{`nonsense`, ""},
	} {
		wantProblem(t, e.admin("PUT", "/chargers/CP1", b.body), 400, api.KindInvalidPayload, b.field)
	}
	wantProblem(t, e.admin("PUT", "/chargers/CP1", ""), 400, api.KindInvalidPayload, "")
	big := `{"registration":"Accepted","password":"` + strings.Repeat("x", api.MaxBodySize) + `"}`
	wantProblem(t, e.admin("PUT", "/chargers/CP1", big), 413, api.KindPayloadTooLarge, "-")
	wantProblem(t, e.doHeader("PUT", "/chargers/CP1", adminToken, `{"registration":"Accepted"}`, http.Header{"Content-Type": {"text/plain"}}),
		415, api.KindUnsupportedMediaType, "-")
	wantProblem(t, e.admin("PUT", "/chargers/"+strings.Repeat("x", 49), `{"registration":"Accepted"}`), 400, api.KindInvalidRequest, "id")

	wantProblem(t, e.admin("GET", "/chargers/NOPE", ""), 404, api.KindNotFound, "-")
	for _, p := range []string{"/connectors", "/connectors/1/history", "/meter-values/latest", "/events", "/log"} {
		wantProblem(t, e.admin("GET", "/chargers/NOPE"+p, ""), 404, api.KindNotFound, "-")
	}

	// A charger that connects and reports.
	ch := e.connect("CP1", nil)
	ch.status(0, v16.ChargePointStatusAvailable)
	ch.status(1, v16.ChargePointStatusAvailable)
	ch.status(1, v16.ChargePointStatusPreparing)
	if _, err := v16.CallDataTransfer(ctx, ch.conn, &v16.DataTransferRequest{VendorID: "com.example", Data: "hello"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v16.CallFirmwareStatusNotification(ctx, ch.conn, &v16.FirmwareStatusNotificationRequest{Status: v16.FirmwareStatusInstalled}); err != nil {
		t.Fatal(err)
	}
	if _, err := v16.CallMeterValues(ctx, ch.conn, &v16.MeterValuesRequest{ConnectorID: 1, MeterValue: []v16.MeterValue{{
		Timestamp:    time.Now().UTC(),
		SampledValue: []v16.SampledValue{{Value: "1234", Measurand: v16.MeasurandEnergyActiveImportRegister, Unit: v16.UnitOfMeasureWh}},
	}}}); err != nil {
		t.Fatal(err)
	}

	r = e.ok(200, "GET", "/chargers/CP1", "")
	r.decode(t, &c)
	if !c.Connected || c.Vendor != "Wattson" || c.Model != "Test1" || c.FirmwareVersion != "1.2.3" || c.SerialNumber != "SN-CP1" || c.LastBootAt == nil {
		t.Errorf("charger %s", r.Body)
	}
	if len(c.Connectors) != 2 || c.Connectors[1].ConnectorID != 1 || c.Connectors[1].Status != "Preparing" {
		t.Errorf("connectors %+v", c.Connectors)
	}
	eventually(t, "last seen", func() bool {
		r := e.ok(200, "GET", "/chargers/CP1", "")
		r.decode(t, &c)
		return c.LastSeenAt != nil
	})

	var conns struct {
		Items []map[string]any `json:"items"`
	}
	e.ok(200, "GET", "/chargers/CP1/connectors", "").decode(t, &conns)
	if len(conns.Items) != 2 {
		t.Errorf("connectors %+v", conns)
	}
	e.ok(200, "GET", "/chargers/CP1/connectors/1/history?limit=10", "").decode(t, &conns)
	if len(conns.Items) != 2 || conns.Items[0]["status"] != "Preparing" {
		t.Errorf("history %+v", conns)
	}
	e.ok(200, "GET", "/chargers/CP1/connectors/1/history?limit=1", "").decode(t, &conns)
	if len(conns.Items) != 1 {
		t.Errorf("history limit=1: %+v", conns)
	}
	wantProblem(t, e.admin("GET", "/chargers/CP1/connectors/x/history", ""), 400, api.KindInvalidRequest, "connectorId")
	wantProblem(t, e.admin("GET", "/chargers/CP1/connectors/-1/history", ""), 400, api.KindInvalidRequest, "connectorId")
	wantProblem(t, e.admin("GET", "/chargers/CP1/connectors/1/history?limit=0", ""), 400, api.KindInvalidRequest, "limit")

	var samples struct {
		Items []map[string]any `json:"items"`
	}
	e.ok(200, "GET", "/chargers/CP1/meter-values/latest", "").decode(t, &samples)
	if len(samples.Items) != 1 || samples.Items[0]["value"] != "1234" || samples.Items[0]["unit"] != "Wh" {
		t.Errorf("latest meter values %+v", samples)
	}

	var evs struct {
		Items []api.EventJSON `json:"items"`
	}
	e.ok(200, "GET", "/chargers/CP1/events", "").decode(t, &evs)
	if len(evs.Items) != 2 {
		t.Errorf("events %+v", evs)
	}
	e.ok(200, "GET", "/chargers/CP1/events?kind=DataTransfer&limit=5", "").decode(t, &evs)
	if len(evs.Items) != 1 || evs.Items[0].Kind != "DataTransfer" || string(evs.Items[0].Payload) != `{"vendorId":"com.example","data":"hello"}` {
		t.Errorf("DataTransfer events %+v", evs)
	}
	wantProblem(t, e.admin("GET", "/chargers/CP1/events?kind=Heartbeat", ""), 400, api.KindInvalidRequest, "kind")

	// The message log is written in the background.
	var log struct {
		Items []api.LogEntryJSON `json:"items"`
		Next  string             `json:"next"`
	}
	eventually(t, "the message log", func() bool {
		e.ok(200, "GET", "/chargers/CP1/log?limit=1000", "").decode(t, &log)
		return len(log.Items) >= 14
	})
	dirs := map[string]int{}
	for _, l := range log.Items {
		dirs[l.Direction]++
		if l.Frame[0] != '[' {
			t.Errorf("frame not a JSON array: %s", l.Frame)
		}
	}
	if dirs["in"] != 7 || dirs["out"] != 7 {
		t.Errorf("log directions %v", dirs)
	}
	e.ok(200, "GET", "/chargers/CP1/log?limit=3", "").decode(t, &log)
	if len(log.Items) != 3 || log.Next == "" {
		t.Fatalf("log page %+v", log)
	}
	last := log.Items[2].ID
	e.ok(200, "GET", "/chargers/CP1/log?limit=3&before="+log.Next, "").decode(t, &log)
	if len(log.Items) != 3 || log.Items[0].ID >= last {
		t.Errorf("log page 2 %+v after %d", log, last)
	}
	wantProblem(t, e.admin("GET", "/chargers/CP1/log?before=0", ""), 400, api.KindInvalidRequest, "before")

	// Lists and their filters.
	var cl struct {
		Items []api.ChargerJSON `json:"items"`
		Next  *string           `json:"next"`
	}
	e.ok(200, "GET", "/chargers?registration=Accepted&search=cp", "").decode(t, &cl)
	if len(cl.Items) != 1 || !cl.Items[0].Connected || cl.Next == nil || *cl.Next != "" {
		t.Errorf("chargers %+v", cl)
	}
	e.ok(200, "GET", "/chargers?registration=Pending", "").decode(t, &cl)
	if len(cl.Items) != 0 {
		t.Errorf("pending chargers %+v", cl)
	}
	for _, q := range []struct{ query, field string }{
		{"registration=Maybe", "registration"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"limit=1&limit=2", "limit"},
		{"search=" + strings.Repeat("s", 101), "search"},
	} {
		wantProblem(t, e.admin("GET", "/chargers?"+q.query, ""), 400, api.KindInvalidRequest, q.field)
	}

	// Delete.
	e.ok(204, "DELETE", "/chargers/CP1", "")
	wantProblem(t, e.admin("GET", "/chargers/CP1", ""), 404, api.KindNotFound, "-")
	wantProblem(t, e.admin("DELETE", "/chargers/CP1", ""), 404, api.KindNotFound, "-")
}

func TestChargerPagination(t *testing.T) {
	e := newEnv(t, nil)
	for i := 5; i >= 1; i-- {
		e.register(fmt.Sprintf("CP-%02d", i))
	}
	var got []string
	next, pages := "", 0
	for {
		var l struct {
			Items []api.ChargerJSON `json:"items"`
			Next  string            `json:"next"`
		}
		e.ok(200, "GET", "/chargers?limit=2&after="+next, "").decode(t, &l)
		for _, c := range l.Items {
			got = append(got, c.ID)
		}
		pages++
		if l.Next == "" {
			break
		}
		next = l.Next
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if strings.Join(got, ",") != "CP-01,CP-02,CP-03,CP-04,CP-05" || pages != 3 {
		t.Errorf("pages %d: %v", pages, got)
	}
}

func TestIDTags(t *testing.T) {
	e := newEnv(t, nil)
	r := e.ok(201, "PUT", "/id-tags/TAG-1", `{"status":"Accepted","expiryDate":"2030-01-01T01:00:00+01:00","parentIdTag":"FLEET","owner":"Ann","note":"blue card"}`)
	if r.Header.Get("Location") != api.Prefix+"/id-tags/TAG-1" {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	var tag api.IDTagJSON
	e.ok(200, "GET", "/id-tags/TAG-1", "").decode(t, &tag)
	if tag.IDTag != "TAG-1" || tag.Status != "Accepted" || tag.ExpiryDate == nil || !tag.ExpiryDate.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		tag.ParentIDTag != "FLEET" || tag.Owner != "Ann" || tag.Note != "blue card" {
		t.Errorf("tag %+v", tag)
	}
	e.ok(200, "PUT", "/id-tags/TAG-1", `{"status":"Blocked","expiryDate":null}`).decode(t, &tag)
	if tag.Status != "Blocked" || tag.ExpiryDate != nil || tag.Owner != "" {
		t.Errorf("replaced tag %+v", tag)
	}

	for _, b := range []struct{ body, field string }{
		{`{"status":"Maybe"}`, "status"},
		{`{}`, "status"},
		{`{"status":"Accepted","expiryDate":"tomorrow"}`, "expiryDate"},
		{`{"status":"Accepted","expiryDate":5}`, "expiryDate"},
		{`{"status":"Accepted","parentIdTag":"tag-1"}`, "parentIdTag"},
		{`{"status":"Accepted","parentIdTag":"` + strings.Repeat("p", 21) + `"}`, "parentIdTag"},
		{`{"status":"Accepted","owner":"` + strings.Repeat("o", 201) + `"}`, "owner"},
		{`{"status":"Accepted","color":"blue"}`, "color"},
	} {
		wantProblem(t, e.admin("PUT", "/id-tags/TAG-1", b.body), 400, api.KindInvalidPayload, b.field)
	}
	wantProblem(t, e.admin("PUT", "/id-tags/"+strings.Repeat("t", 21), `{"status":"Accepted"}`), 400, api.KindInvalidRequest, "idTag")
	e.ok(201, "PUT", "/id-tags/"+strings.Repeat("t", 20), `{"status":"Accepted"}`)
	wantProblem(t, e.admin("GET", "/id-tags/NOPE", ""), 404, api.KindNotFound, "-")

	// Pagination and search.
	for i := 1; i <= 4; i++ {
		e.ok(201, "PUT", fmt.Sprintf("/id-tags/CARD-%d", i), `{"status":"Accepted"}`)
	}
	var l struct {
		Items []api.IDTagJSON `json:"items"`
		Next  string          `json:"next"`
	}
	e.ok(200, "GET", "/id-tags?search=card&limit=3", "").decode(t, &l)
	if len(l.Items) != 3 || l.Items[0].IDTag != "CARD-1" || l.Next != "CARD-3" {
		t.Fatalf("page 1 %+v", l)
	}
	e.ok(200, "GET", "/id-tags?search=card&limit=3&after="+l.Next, "").decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].IDTag != "CARD-4" || l.Next != "" {
		t.Errorf("page 2 %+v", l)
	}
	wantProblem(t, e.admin("GET", "/id-tags?limit=-1", ""), 400, api.KindInvalidRequest, "limit")

	e.ok(204, "DELETE", "/id-tags/TAG-1", "")
	wantProblem(t, e.admin("GET", "/id-tags/TAG-1", ""), 404, api.KindNotFound, "-")
	wantProblem(t, e.admin("DELETE", "/id-tags/TAG-1", ""), 404, api.KindNotFound, "-")
}

func TestTransactionsQuery(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.register("CP1")
	e.register("CP2")
	t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	var ids []int64
	for i, c := range []struct {
		charger string
		conn    int
		tag     string
	}{{"CP1", 1, "A"}, {"CP1", 2, "B"}, {"CP2", 1, "A"}} {
		res, err := e.st.StartTransaction(ctx, store.StartTx{ChargerID: c.charger, ConnectorID: c.conn, IDTag: c.tag, MeterStart: 100,
			Timestamp: t0.Add(time.Duration(i) * time.Hour), ReceivedAt: t0.Add(time.Duration(i) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Transaction.ID)
	}
	if _, _, err := e.st.StopTransaction(ctx, store.StopTx{TransactionID: ids[0], ChargerID: "CP1", MeterStop: 1600, Timestamp: t0.Add(30 * time.Minute), Reason: "EVDisconnected", ReceivedAt: t0}); err != nil {
		t.Fatal(err)
	}

	type txList struct {
		Items []map[string]any `json:"items"`
		Next  string           `json:"next"`
	}
	list := func(q string) txList {
		var l txList
		e.ok(200, "GET", "/transactions?"+q, "").decode(t, &l)
		return l
	}
	if l := list(""); len(l.Items) != 3 || l.Items[0]["id"] != float64(ids[2]) {
		t.Errorf("all, newest first: %+v", l)
	}
	if l := list("chargerId=CP1"); len(l.Items) != 2 {
		t.Errorf("CP1: %+v", l)
	}
	if l := list("idTag=A&active=true"); len(l.Items) != 1 || l.Items[0]["chargerId"] != "CP2" {
		t.Errorf("A active: %+v", l)
	}
	l := list("active=false")
	if len(l.Items) != 1 {
		t.Fatalf("stopped: %+v", l)
	}
	tx := l.Items[0]
	for k, want := range map[string]any{"id": float64(ids[0]), "chargerId": "CP1", "connectorId": float64(1), "idTag": "A", "meterStart": float64(100),
		"meterStop": float64(1600), "energy": float64(1500), "stopReason": "EVDisconnected", "startedAt": "2025-03-01T08:00:00Z", "stoppedAt": "2025-03-01T08:30:00Z"} {
		if tx[k] != want {
			t.Errorf("%s = %v, want %v", k, tx[k], want)
		}
	}
	if l := list("from=2025-03-01T08:30:00Z&to=2025-03-01T09:30:00Z"); len(l.Items) != 1 || l.Items[0]["id"] != float64(ids[1]) {
		t.Errorf("from/to: %+v", l)
	}
	l = list("limit=2")
	if len(l.Items) != 2 || l.Next == "" {
		t.Fatalf("page 1: %+v", l)
	}
	if l2 := list("limit=2&before=" + l.Next); len(l2.Items) != 1 || l2.Items[0]["id"] != float64(ids[0]) || l2.Next != "" {
		t.Errorf("page 2: %+v", l2)
	}
	for _, q := range []struct{ query, field string }{
		{"active=yes", "active"},
		{"from=yesterday", "from"},
		{"from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", "to"},
		{"before=-1", "before"},
		{"limit=5000", "limit"},
	} {
		wantProblem(t, e.admin("GET", "/transactions?"+q.query, ""), 400, api.KindInvalidRequest, q.field)
	}
	wantProblem(t, e.admin("GET", "/transactions/abc", ""), 400, api.KindInvalidRequest, "id")
	wantProblem(t, e.admin("GET", "/transactions/0", ""), 400, api.KindInvalidRequest, "id")
	wantProblem(t, e.admin("GET", "/transactions/99999", ""), 404, api.KindNotFound, "-")
	var one api.TransactionDetailJSON
	e.ok(200, "GET", fmt.Sprintf("/transactions/%d", ids[0]), "").decode(t, &one)
	if one.ID != ids[0] || one.Energy != 1500 || one.MeterValues == nil {
		t.Errorf("transaction %+v", one)
	}
}
