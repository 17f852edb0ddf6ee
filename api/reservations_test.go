package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/chargepoint"
	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// The reservation tests run the whole system: the API over HTTP, the
// central system, and our own charge point over a real websocket, which
// enforces reservations as a charger does (chargepoint/smart.go).

type reservationJSON struct {
	ID            int       `json:"id"`
	ChargerID     string    `json:"chargerId"`
	ConnectorID   int       `json:"connectorId"`
	IDTag         string    `json:"idTag"`
	ParentIDTag   string    `json:"parentIdTag"`
	ExpiryDate    time.Time `json:"expiryDate"`
	Status        string    `json:"status"`
	Active        bool      `json:"active"`
	TransactionID *int64    `json:"transactionId"`
	Reason        string    `json:"reason"`
	CreatedBy     string    `json:"createdBy"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

type reservationPage struct {
	Items []reservationJSON `json:"items"`
	Next  string            `json:"next"`
}

// newReservationEnv is newEnv with the central system's configuration
// adjusted too.
func newReservationEnv(t *testing.T, csmsMod func(*csms.Config), apiMod func(*api.Config)) *env {
	t.Helper()
	c := csmstest.New(t, nil, func(cfg *csms.Config) {
		cfg.MessageLogKeep, cfg.SeenFlushInterval = 100, 20*time.Millisecond
		if csmsMod != nil {
			csmsMod(cfg)
		}
	})
	cfg := api.Config{CSMS: c.Service, Store: c.Store, AdminToken: adminToken, CommandTimeout: 5 * time.Second}
	if apiMod != nil {
		apiMod(&cfg)
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a)
	t.Cleanup(hs.Close)
	return &env{t: t, st: c.Store, svc: c.Service, api: a, base: hs.URL + api.Prefix, ocppURL: c.URL}
}

// reservingCP runs our charge point (two connectors) with extra
// configuration keys, and waits until it is accepted and both connectors
// have reported Available. stop ends it.
func (e *env) reservingCP(id string, conf map[string]string) (cp *chargepoint.ChargePoint, stop func()) {
	e.t.Helper()
	e.register(id)
	all := map[string]string{"MeterValueSampleInterval": "0"}
	maps.Copy(all, conf)
	cp, err := chargepoint.New(chargepoint.Config{
		URL: e.ocppURL, ID: id, Model: "Reserve", FirmwareVersion: "1.0",
		Connectors:    []chargepoint.ConnectorHardware{&profileHW{}, &profileHW{}},
		Configuration: all,
		MinBackoff:    10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, CallTimeout: 5 * time.Second,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = cp.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	eventually(e.t, id+" accepted", func() bool { return e.svc.IsConnected(id) && cp.Registration() == "Accepted" })
	e.waitConnector(id, 1, "Available")
	e.waitConnector(id, 2, "Available")
	return cp, stop
}

// waitConnector waits until the central system has the connector in status.
func (e *env) waitConnector(id string, connector int, status string) {
	e.t.Helper()
	eventually(e.t, fmt.Sprintf("%s connector %d %s in the store", id, connector, status), func() bool {
		cs, err := e.st.ListConnectors(context.Background(), id)
		if err != nil {
			return false
		}
		for _, c := range cs {
			if c.ConnectorID == connector {
				return c.Status == status
			}
		}
		return false
	})
}

func (e *env) tag(tag, status, parent string) {
	e.t.Helper()
	r := e.admin("PUT", "/id-tags/"+tag, fmt.Sprintf(`{"status":%q,"parentIdTag":%q}`, status, parent))
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		e.t.Fatalf("id tag %s: %d %s", tag, r.Status, r.Body)
	}
}

func (e *env) reserve(charger string, connector int, tag string, seconds int) response {
	e.t.Helper()
	return e.admin("POST", "/reservations", fmt.Sprintf(`{"chargerId":%q,"connectorId":%d,"idTag":%q,"duration":%d}`, charger, connector, tag, seconds))
}

func (e *env) reserved(charger string, connector int, tag string, seconds int) reservationJSON {
	e.t.Helper()
	r := e.reserve(charger, connector, tag, seconds)
	if r.Status != http.StatusCreated {
		e.t.Fatalf("reserving %s/%d for %s: %d %s", charger, connector, tag, r.Status, r.Body)
	}
	var res reservationJSON
	r.decode(e.t, &res)
	return res
}

func (e *env) reservation(id int) reservationJSON {
	e.t.Helper()
	var res reservationJSON
	e.ok(200, "GET", fmt.Sprintf("/reservations/%d", id), "").decode(e.t, &res)
	return res
}

func (e *env) reservations(query string) reservationPage {
	e.t.Helper()
	var p reservationPage
	e.ok(200, "GET", "/reservations"+query, "").decode(e.t, &p)
	return p
}

func (e *env) waitReservation(id int, status string) reservationJSON {
	e.t.Helper()
	var res reservationJSON
	eventually(e.t, fmt.Sprintf("reservation %d %s", id, status), func() bool {
		res = e.reservation(id)
		return res.Status == status
	})
	return res
}

func waitTx(t *testing.T, cp *chargepoint.ChargePoint, connector int) int {
	t.Helper()
	var id int
	eventually(t, fmt.Sprintf("a transaction on connector %d", connector), func() bool {
		var ok bool
		id, ok = cp.Transaction(connector)
		return ok && id > 0
	})
	return id
}

// reservationEvents collects the reservation.updated events of the bus.
type reservationEvents struct {
	mu   sync.Mutex
	seen []reservationJSON
}

func watchReservations(t *testing.T, b *events.Bus) *reservationEvents {
	sub := b.Subscribe("", 1024)
	w := &reservationEvents{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range sub.C {
			if e.Type != events.ReservationUpdated {
				continue
			}
			var r reservationJSON
			if err := json.Unmarshal(e.Data, &r); err != nil || e.ChargerID != r.ChargerID {
				t.Errorf("event %s: %v", e.Data, err)
				continue
			}
			w.mu.Lock()
			w.seen = append(w.seen, r)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { sub.Close(); <-done })
	return w
}

// statuses lists the statuses the events told for one reservation, in order.
func (w *reservationEvents) statuses(id int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, r := range w.seen {
		if r.ID == id {
			out = append(out, r.Status)
		}
	}
	return out
}

func (w *reservationEvents) wait(t *testing.T, id int, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("events %v of reservation %d", want, id), func() bool {
		return strings.Join(w.statuses(id), ",") == strings.Join(want, ",")
	})
}

func TestReservationConnector(t *testing.T) {
	e := newReservationEnv(t, nil, nil)
	w := watchReservations(t, e.svc.Events())
	cp, _ := e.reservingCP("RES1", nil)
	e.tag("ALICE", "Accepted", "FLEET")
	e.tag("BOB", "Accepted", "")

	r := e.admin("POST", "/reservations", `{"chargerId":"RES1","connectorId":1,"idTag":"ALICE","duration":3600}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("reserve: %d %s", r.Status, r.Body)
	}
	var res reservationJSON
	r.decode(t, &res)
	if loc := r.Header.Get("Location"); loc != fmt.Sprintf("%s/reservations/%d", api.Prefix, res.ID) {
		t.Errorf("Location %q", loc)
	}
	if res.Status != "Accepted" || !res.Active || res.ChargerID != "RES1" || res.ConnectorID != 1 || res.IDTag != "ALICE" ||
		res.ParentIDTag != "FLEET" || res.CreatedBy != "admin token" || res.TransactionID != nil {
		t.Fatalf("reservation %+v", res)
	}
	if d := time.Until(res.ExpiryDate); d < 58*time.Minute || d > 61*time.Minute {
		t.Errorf("expiry %v is not an hour from now", res.ExpiryDate)
	}
	// The charger shows the connector Reserved, and Wattson got it.
	e.waitConnector("RES1", 1, "Reserved")
	if s := cp.Status(2); s != "Available" {
		t.Errorf("connector 2 is %s", s)
	}
	w.wait(t, res.ID, "Pending", "Accepted")

	// One active reservation per connector.
	wantProblem(t, e.reserve("RES1", 1, "BOB", 600), 409, api.KindConflict, "connectorId")
	p := e.reservations("?chargerId=RES1&active=true")
	if len(p.Items) != 1 || p.Items[0].ID != res.ID || p.Next != "" {
		t.Fatalf("active reservations of RES1: %+v", p)
	}

	// Another tag cannot start there; the charger refuses it by itself.
	// Tags are handled in the order presented, so once ALICE's session
	// runs, BOB's swipe has been decided.
	cp.Plug(1)
	cp.PresentTag(1, "BOB")
	cp.PresentTag(1, "ALICE")
	txID := waitTx(t, cp, 1)
	tx, err := e.st.GetTransaction(context.Background(), int64(txID))
	if err != nil {
		t.Fatal(err)
	}
	if tx.IDTag != "ALICE" || tx.ReservationID == nil || *tx.ReservationID != res.ID {
		t.Fatalf("transaction %+v, want ALICE's with reservation %d", tx, res.ID)
	}
	txs, err := e.st.ListTransactions(context.Background(), store.TxFilter{ChargerID: "RES1"})
	if err != nil || len(txs) != 1 {
		t.Fatalf("transactions %+v %v: BOB started one", txs, err)
	}

	// The start used it.
	used := e.waitReservation(res.ID, "Used")
	if used.TransactionID == nil || *used.TransactionID != int64(txID) || used.Active || !strings.Contains(used.Reason, fmt.Sprint(txID)) {
		t.Fatalf("used reservation %+v", used)
	}
	w.wait(t, res.ID, "Pending", "Accepted", "Used")
	if p := e.reservations("?chargerId=RES1&active=true"); len(p.Items) != 0 {
		t.Errorf("still active: %+v", p)
	}
	if p := e.reservations("?status=Used"); len(p.Items) != 1 || p.Items[0].ID != res.ID {
		t.Errorf("used: %+v", p)
	}
	// A used reservation cannot be cancelled.
	wantProblem(t, e.admin("DELETE", fmt.Sprintf("/reservations/%d", res.ID), ""), 409, api.KindConflict, "")

	// The charger is busy on connector 1 now: it answers Occupied, which
	// is kept.
	r = e.reserve("RES1", 1, "BOB", 600)
	prob := wantProblem(t, r, 409, api.KindCommandRejected, "")
	if ans, _ := prob["answer"].(map[string]any); ans["status"] != "Occupied" {
		t.Fatalf("answer %v", prob["answer"])
	}
	p = e.reservations("?status=Occupied")
	if len(p.Items) != 1 || p.Items[0].IDTag != "BOB" || p.Items[0].Active || !strings.Contains(p.Items[0].Reason, "Occupied") {
		t.Fatalf("occupied reservations %+v", p)
	}
	if !strings.Contains(prob["detail"].(string), fmt.Sprint(p.Items[0].ID)) {
		t.Errorf("the problem does not name reservation %d: %v", p.Items[0].ID, prob["detail"])
	}

	// A faulted connector: Faulted.
	cp.Fault(2, "GroundFailure", "")
	e.waitConnector("RES1", 2, "Faulted")
	prob = wantProblem(t, e.reserve("RES1", 2, "BOB", 600), 409, api.KindCommandRejected, "")
	if ans, _ := prob["answer"].(map[string]any); ans["status"] != "Faulted" {
		t.Fatalf("answer %v", prob["answer"])
	}
}

func TestReservationAnyConnector(t *testing.T) {
	e := newReservationEnv(t, nil, nil)
	cp, _ := e.reservingCP("RES0", nil)
	e.tag("ALICE", "Accepted", "")
	e.tag("BOB", "Accepted", "")

	res := e.reserved("RES0", 0, "ALICE", 3600)
	if res.Status != "Accepted" || res.ConnectorID != 0 {
		t.Fatalf("%+v", res)
	}
	// Another "any connector" reservation of the same charger conflicts;
	// a connector of its own does not (the charger decides whether a
	// connector stays free for both).
	wantProblem(t, e.reserve("RES0", 0, "BOB", 600), 409, api.KindConflict, "connectorId")

	// BOB may start on connector 1: connector 2 stays free for ALICE.
	cp.Plug(1)
	cp.PresentTag(1, "BOB")
	bobTx := waitTx(t, cp, 1)
	// Not on connector 2, the last free one; ALICE may.
	cp.Plug(2)
	cp.PresentTag(2, "BOB")
	cp.PresentTag(2, "ALICE")
	aliceTx := waitTx(t, cp, 2)
	tx, err := e.st.GetTransaction(context.Background(), int64(aliceTx))
	if err != nil || tx.IDTag != "ALICE" {
		t.Fatalf("the transaction on connector 2: %+v %v", tx, err)
	}
	used := e.waitReservation(res.ID, "Used")
	if *used.TransactionID != int64(aliceTx) || int64(bobTx) == *used.TransactionID {
		t.Fatalf("%+v", used)
	}
}

func TestReservationConnectorZeroUnsupported(t *testing.T) {
	e := newReservationEnv(t, nil, nil)
	e.reservingCP("RESNZ", map[string]string{"ReserveConnectorZeroSupported": "false"})
	e.tag("ALICE", "Accepted", "")

	// Not known yet: the charger answers Rejected, and the problem says why
	// that may be.
	prob := wantProblem(t, e.reserve("RESNZ", 0, "ALICE", 600), 409, api.KindCommandRejected, "")
	if ans, _ := prob["answer"].(map[string]any); ans["status"] != "Rejected" {
		t.Fatalf("answer %v", prob["answer"])
	}
	p := e.reservations("?chargerId=RESNZ")
	if len(p.Items) != 1 || p.Items[0].Status != "Rejected" || !strings.Contains(p.Items[0].Reason, "reserve a connector") {
		t.Fatalf("%+v", p)
	}
	// Once its configuration was read, Wattson says so without asking.
	e.ok(200, "POST", "/chargers/RESNZ/configuration/refresh", "")
	prob = wantProblem(t, e.reserve("RESNZ", 0, "ALICE", 600), 409, api.KindConflict, "connectorId")
	if !strings.Contains(prob["detail"].(string), "ReserveConnectorZeroSupported") {
		t.Errorf("detail %v", prob["detail"])
	}
	if p := e.reservations("?chargerId=RESNZ"); len(p.Items) != 1 {
		t.Errorf("the refusal stored a reservation: %+v", p)
	}
	// A connector of its own is fine.
	e.reserved("RESNZ", 1, "ALICE", 600)
}

func TestReservationCancel(t *testing.T) {
	e := newReservationEnv(t, nil, nil)
	w := watchReservations(t, e.svc.Events())
	cp, stop := e.reservingCP("RESC", nil)
	e.tag("ALICE", "Accepted", "")
	e.tag("BOB", "Accepted", "")

	res := e.reserved("RESC", 2, "ALICE", 3600)
	e.waitConnector("RESC", 2, "Reserved")
	var got reservationJSON
	e.ok(200, "DELETE", fmt.Sprintf("/reservations/%d", res.ID), "").decode(t, &got)
	if got.Status != "Cancelled" || got.Active || got.Reason != "cancelled by admin token" {
		t.Fatalf("cancelled %+v", got)
	}
	e.waitConnector("RESC", 2, "Available")
	w.wait(t, res.ID, "Pending", "Accepted", "Cancelled")
	wantProblem(t, e.admin("DELETE", fmt.Sprintf("/reservations/%d", res.ID), ""), 409, api.KindConflict, "")
	wantProblem(t, e.admin("DELETE", "/reservations/999999", ""), 404, api.KindNotFound, "")
	wantProblem(t, e.admin("DELETE", "/reservations/0", ""), 400, api.KindInvalidRequest, "id")

	// The connector is free again: BOB can reserve it and start there.
	bob := e.reserved("RESC", 2, "BOB", 3600)
	cp.Plug(2)
	cp.PresentTag(2, "BOB")
	waitTx(t, cp, 2)
	e.waitReservation(bob.ID, "Used")

	// An offline charger: the cancel is refused and nothing changes (the
	// charger would hold the reservation until its expiry anyway).
	res = e.reserved("RESC", 1, "ALICE", 3600)
	stop()
	eventually(t, "RESC offline", func() bool { return !e.svc.IsConnected("RESC") })
	wantProblem(t, e.admin("DELETE", fmt.Sprintf("/reservations/%d", res.ID), ""), 409, api.KindNotConnected, "")
	if got := e.reservation(res.ID); got.Status != "Accepted" || !got.Active {
		t.Fatalf("after the refused cancel: %+v", got)
	}
	// And new reservations for it are refused, storing nothing.
	wantProblem(t, e.reserve("RESC", 2, "ALICE", 600), 409, api.KindNotConnected, "")
	if p := e.reservations("?chargerId=RESC&active=true"); len(p.Items) != 1 || p.Items[0].ID != res.ID {
		t.Fatalf("active reservations %+v", p)
	}
}

func TestReservationExpiry(t *testing.T) {
	e := newReservationEnv(t, nil, nil)
	w := watchReservations(t, e.svc.Events())
	cp, _ := e.reservingCP("RESX", nil)
	e.tag("ALICE", "Accepted", "")
	e.tag("BOB", "Accepted", "")

	long := e.reserved("RESX", 2, "ALICE", 3600)
	short := e.reserved("RESX", 1, "ALICE", 2)
	e.waitConnector("RESX", 1, "Reserved")
	// The sweep records it Expired and says so; the charger let it go by
	// its own clock.
	w.wait(t, short.ID, "Pending", "Accepted", "Expired")
	got, err := e.st.GetReservation(context.Background(), short.ID)
	if err != nil || got.Status != store.ReservationExpired || got.Reason != "expired" {
		t.Fatalf("stored %+v %v", got, err)
	}
	e.waitConnector("RESX", 1, "Available")
	if r := e.reservation(long.ID); r.Status != "Accepted" {
		t.Errorf("the hour-long reservation: %+v", r)
	}
	if p := e.reservations("?status=Expired"); len(p.Items) != 1 || p.Items[0].ID != short.ID {
		t.Errorf("expired: %+v", p)
	}
	// BOB may use the connector now.
	cp.Plug(1)
	cp.PresentTag(1, "BOB")
	waitTx(t, cp, 1)
	wantProblem(t, e.admin("DELETE", fmt.Sprintf("/reservations/%d", short.ID), ""), 409, api.KindConflict, "")
}

// TestReservationExpiredAtRead: an active reservation past its expiry is
// shown Expired before any sweep has written it (the sweep here waits
// for an hour).
func TestReservationExpiredAtRead(t *testing.T) {
	e := newReservationEnv(t, func(c *csms.Config) { c.ReservationSweepInterval = time.Hour }, nil)
	ctx := context.Background()
	// Written past the sweep's view (it was not told): expired a minute ago.
	r, err := e.st.CreateReservation(ctx, store.Reservation{ChargerID: "RESR", ConnectorID: 1, IDTag: "ALICE",
		Status: store.ReservationAccepted, ExpiresAt: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.reservation(r.ID); got.Status != "Expired" || got.Active {
		t.Fatalf("%+v", got)
	}
	if p := e.reservations("?active=false"); len(p.Items) != 1 || p.Items[0].Status != "Expired" {
		t.Fatalf("inactive: %+v", p)
	}
	if p := e.reservations("?active=true"); len(p.Items) != 0 {
		t.Fatalf("active: %+v", p)
	}
	if p := e.reservations("?status=Accepted"); len(p.Items) != 0 {
		t.Fatalf("accepted: %+v", p)
	}
	if stored, _ := e.st.GetReservation(ctx, r.ID); stored.Status != store.ReservationAccepted {
		t.Fatalf("a sweep ran after all: %+v; this test shows nothing", stored)
	}
}

// TestReservationUse drives StartTransaction by hand, as chargers we did
// not write may send it: retried, naming unknown or foreign reservations,
// or none.
func TestReservationUse(t *testing.T) {
	e := newReservationEnv(t, nil, nil)
	e.tag("ALICE", "Accepted", "FLEET")
	e.tag("ALICE2", "Accepted", "FLEET")
	e.tag("BOB", "Accepted", "")
	ans := answers{"ReserveNow": `{"status":"Accepted"}`}
	a := e.connect("USEA", ans)
	e.connect("USEB", ans)

	start := func(c *charger, connector int, tag string, reservation *int, meter int, ts time.Time) *v16.StartTransactionResponse {
		t.Helper()
		res, err := v16.CallStartTransaction(context.Background(), c.conn, &v16.StartTransactionRequest{
			ConnectorID: connector, IDTag: tag, MeterStart: meter, ReservationID: reservation, Timestamp: ts,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// ReserveNow carried what the charger needs.
	ra := e.reserved("USEA", 1, "ALICE", 3600)
	calls := a.callsOf("ReserveNow")
	if len(calls) != 1 {
		t.Fatalf("ReserveNow calls %v", calls)
	}
	var sent v16.ReserveNowRequest
	if err := sent.UnmarshalOCPP(calls[0].Payload); err != nil {
		t.Fatal(err)
	}
	if sent.ReservationID != ra.ID || sent.ConnectorID != 1 || sent.IDTag != "ALICE" || sent.ParentIDTag != "FLEET" || !sent.ExpiryDate.Equal(ra.ExpiryDate) {
		t.Fatalf("sent %+v for %+v", sent, ra)
	}

	// A tag of another group names it: logged, the start is accepted, the
	// reservation stays.
	other := start(a, 1, "BOB", &ra.ID, 10, time.Now().UTC().Truncate(time.Second))
	if other.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
		t.Fatalf("start %+v", other)
	}
	if r := e.reservation(ra.ID); r.Status != "Accepted" {
		t.Fatalf("used by another tag: %+v", r)
	}
	// A reservation of another charger, or an unknown one: the same.
	rb := e.reserved("USEB", 1, "ALICE", 3600)
	unknown := 999999
	for _, id := range []*int{&rb.ID, &unknown} {
		if res := start(a, 2, "ALICE", id, 20, time.Now().UTC().Truncate(time.Second)); res.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
			t.Fatalf("start naming %d: %+v", *id, res)
		}
	}
	if r := e.reservation(rb.ID); r.Status != "Accepted" {
		t.Fatalf("another charger's start used it: %+v", r)
	}

	// A tag of the same group (parent) uses it; a retried start is
	// answered the same and changes nothing.
	ts := time.Now().UTC().Truncate(time.Second)
	first := start(a, 1, "ALICE2", &ra.ID, 30, ts)
	used := e.reservation(ra.ID)
	if used.Status != "Used" || used.TransactionID == nil || *used.TransactionID != int64(first.TransactionID) {
		t.Fatalf("used %+v, transaction %d", used, first.TransactionID)
	}
	again := start(a, 1, "ALICE2", &ra.ID, 30, ts)
	if again.TransactionID != first.TransactionID {
		t.Fatalf("retry got transaction %d, first %d", again.TransactionID, first.TransactionID)
	}
	if r := e.reservation(ra.ID); !r.UpdatedAt.Equal(used.UpdatedAt) || *r.TransactionID != int64(first.TransactionID) {
		t.Fatalf("the retry changed it: %+v, was %+v", r, used)
	}

	// A charger that does not name the reservation still ends it when the
	// reserved tag starts on the connector.
	res := start(e.connect("USEB", ans), 1, "ALICE", nil, 40, time.Now().UTC().Truncate(time.Second))
	r := e.reservation(rb.ID)
	if r.Status != "Used" || *r.TransactionID != int64(res.TransactionID) || !strings.Contains(r.Reason, "did not name") {
		t.Fatalf("unnamed use: %+v", r)
	}
}

func TestReservationChargerFailures(t *testing.T) {
	e := newReservationEnv(t, nil, func(c *api.Config) { c.CommandTimeout = 300 * time.Millisecond })
	e.tag("ALICE", "Accepted", "")
	slow := e.connect("SLOW", answers{"ReserveNow": block})
	e.connect("ERR", answers{"ReserveNow": ocpp.Errorf(ocpp.InternalError, "out of memory")})
	e.connect("BADANS", answers{"ReserveNow": `{"status":"Maybe"}`})

	wantProblem(t, e.reserve("SLOW", 1, "ALICE", 600), 504, api.KindChargerTimeout, "")
	wantProblem(t, e.reserve("ERR", 1, "ALICE", 600), 502, api.KindChargerError, "")
	wantProblem(t, e.reserve("BADANS", 1, "ALICE", 600), 502, api.KindInvalidResponse, "")
	for _, id := range []string{"SLOW", "ERR", "BADANS"} {
		p := e.reservations("?chargerId=" + id)
		if len(p.Items) != 1 || p.Items[0].Status != "Failed" || p.Items[0].Reason == "" || p.Items[0].Active {
			t.Errorf("%s: %+v", id, p)
		}
	}
	if len(slow.callsOf("ReserveNow")) != 1 {
		t.Errorf("ReserveNow calls %v", slow.callsOf("ReserveNow"))
	}
	// A failed one does not hold the connector.
	e.connect("OK", answers{"ReserveNow": `{"status":"Accepted"}`, "CancelReservation": `{"status":"Rejected"}`})
	ok := e.reserved("OK", 1, "ALICE", 600)
	// A charger that no longer holds it: Cancelled all the same.
	var got reservationJSON
	e.ok(200, "DELETE", fmt.Sprintf("/reservations/%d", ok.ID), "").decode(t, &got)
	if got.Status != "Cancelled" || !strings.Contains(got.Reason, "did not hold it") {
		t.Fatalf("%+v", got)
	}
}

func TestReservationValidation(t *testing.T) {
	e := newReservationEnv(t, nil, nil)
	e.reservingCP("RESV", nil)
	e.tag("ALICE", "Accepted", "")
	e.tag("BLOCKED", "Blocked", "")
	e.admin("PUT", "/id-tags/OLD", `{"status":"Accepted","expiryDate":"2020-01-01T00:00:00Z"}`)
	e.admin("PUT", "/chargers/PEND", `{"registration":"Pending"}`)

	in := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	for _, tc := range []struct {
		body   string
		status int
		kind   api.Kind
		field  string
	}{
		{`{"connectorId":1,"idTag":"ALICE","duration":60}`, 400, api.KindInvalidPayload, "chargerId"},
		{`{"chargerId":"RESV","idTag":"ALICE","duration":60}`, 400, api.KindInvalidPayload, "connectorId"},
		{`{"chargerId":"RESV","connectorId":-1,"idTag":"ALICE","duration":60}`, 400, api.KindInvalidPayload, "connectorId"},
		{`{"chargerId":"RESV","connectorId":"1","idTag":"ALICE","duration":60}`, 400, api.KindInvalidPayload, "connectorId"},
		{`{"chargerId":"RESV","connectorId":3,"idTag":"ALICE","duration":60}`, 400, api.KindInvalidPayload, "connectorId"},
		{`{"chargerId":"RESV","connectorId":1,"duration":60}`, 400, api.KindInvalidPayload, "idTag"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"ABCDEFGHIJKLMNOPQRSTU","duration":60}`, 400, api.KindInvalidPayload, "idTag"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"NOBODY","duration":60}`, 400, api.KindInvalidPayload, "idTag"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"BLOCKED","duration":60}`, 400, api.KindInvalidPayload, "idTag"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"OLD","duration":60}`, 400, api.KindInvalidPayload, "idTag"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"ALICE"}`, 400, api.KindInvalidPayload, "expiryDate"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"ALICE","duration":0}`, 400, api.KindInvalidPayload, "duration"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"ALICE","duration":90000}`, 400, api.KindInvalidPayload, "expiryDate"},
		{fmt.Sprintf(`{"chargerId":"RESV","connectorId":1,"idTag":"ALICE","expiryDate":%q,"duration":60}`, in(time.Hour)), 400, api.KindInvalidPayload, "duration"},
		{fmt.Sprintf(`{"chargerId":"RESV","connectorId":1,"idTag":"ALICE","expiryDate":%q}`, in(-time.Minute)), 400, api.KindInvalidPayload, "expiryDate"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"ALICE","expiryDate":"tomorrow"}`, 400, api.KindInvalidPayload, "expiryDate"},
		{`{"chargerId":"RESV","connectorId":1,"idTag":"ALICE","duration":60,"x":1}`, 400, api.KindInvalidPayload, "x"},
		{`{"chargerId":"NOSUCH","connectorId":1,"idTag":"ALICE","duration":60}`, 404, api.KindNotFound, "-"},
		{`{"chargerId":"PEND","connectorId":1,"idTag":"ALICE","duration":60}`, 409, api.KindConflict, "chargerId"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			wantProblem(t, e.admin("POST", "/reservations", tc.body), tc.status, tc.kind, tc.field)
		})
	}
	if p := e.reservations(""); len(p.Items) != 0 {
		t.Fatalf("invalid requests stored %+v", p)
	}
	// An expiry as a time, cut to the second.
	var res reservationJSON
	r := e.admin("POST", "/reservations", fmt.Sprintf(`{"chargerId":"RESV","connectorId":2,"idTag":"ALICE","expiryDate":%q}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)))
	if r.Status != 201 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	r.decode(t, &res)
	if res.ExpiryDate.Nanosecond() != 0 {
		t.Errorf("expiry %v", res.ExpiryDate)
	}

	for _, q := range []string{"?status=Booked", "?active=yes", "?limit=0", "?before=x"} {
		wantProblem(t, e.admin("GET", "/reservations"+q, ""), 400, api.KindInvalidRequest, "-")
	}
	wantProblem(t, e.admin("GET", "/reservations/abc", ""), 400, api.KindInvalidRequest, "id")
	wantProblem(t, e.admin("GET", "/reservations/99999", ""), 404, api.KindNotFound, "")

	// Roles: viewers read, operators reserve and cancel.
	token := func(role string) string {
		var tok struct {
			Token string `json:"token"`
		}
		e.ok(http.StatusCreated, "POST", "/tokens", fmt.Sprintf(`{"name":%q,"role":%q}`, role, role)).decode(t, &tok)
		return tok.Token
	}
	viewer, operator := token("viewer"), token("operator")
	body := `{"chargerId":"RESV","connectorId":1,"idTag":"ALICE","duration":600}`
	if r := e.do("GET", "/reservations", viewer, ""); r.Status != 200 {
		t.Errorf("viewer list: %d", r.Status)
	}
	if r := e.do("GET", fmt.Sprintf("/reservations/%d", res.ID), viewer, ""); r.Status != 200 {
		t.Errorf("viewer get: %d", r.Status)
	}
	if r := e.do("POST", "/reservations", viewer, body); r.Status != 403 {
		t.Errorf("viewer create: %d", r.Status)
	}
	if r := e.do("DELETE", fmt.Sprintf("/reservations/%d", res.ID), viewer, ""); r.Status != 403 {
		t.Errorf("viewer cancel: %d", r.Status)
	}
	if r := e.do("GET", "/reservations", "", ""); r.Status != 401 {
		t.Errorf("anonymous: %d", r.Status)
	}
	r = e.do("POST", "/reservations", operator, body)
	if r.Status != 201 {
		t.Fatalf("operator create: %d %s", r.Status, r.Body)
	}
	var op reservationJSON
	r.decode(t, &op)
	if !strings.HasPrefix(op.CreatedBy, "token #") {
		t.Errorf("createdBy %q", op.CreatedBy)
	}
	if r := e.do("DELETE", fmt.Sprintf("/reservations/%d", op.ID), operator, ""); r.Status != 200 {
		t.Errorf("operator cancel: %d %s", r.Status, r.Body)
	}
}

func TestReservationPagination(t *testing.T) {
	e := newReservationEnv(t, nil, nil)
	ctx := context.Background()
	var ids []int
	for i := range 5 {
		r, err := e.st.CreateReservation(ctx, store.Reservation{ChargerID: fmt.Sprintf("PG%d", i), ConnectorID: 1, IDTag: "T",
			Status: store.ReservationAccepted, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	var got []int
	next := ""
	for range 5 {
		q := "?limit=2"
		if next != "" {
			q += "&before=" + next
		}
		p := e.reservations(q)
		for _, r := range p.Items {
			got = append(got, r.ID)
		}
		if next = p.Next; next == "" {
			break
		}
	}
	want := []int{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
}
