package api_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

type overviewJSON struct {
	Chargers struct {
		Total, Online, Offline, Charging, Faulted, Pending int
	} `json:"chargers"`
	PowerW        float64 `json:"powerW"`
	EnergyTodayWh float64 `json:"energyTodayWh"`
	Alerts        []struct {
		Kind        string    `json:"kind"`
		ChargerID   string    `json:"chargerId"`
		ConnectorID *int      `json:"connectorId"`
		Message     string    `json:"message"`
		Since       time.Time `json:"since"`
	} `json:"alerts"`
}

func (c *charger) start(connector, meterStart int, ts time.Time) int {
	c.t.Helper()
	res, err := v16.CallStartTransaction(context.Background(), c.conn, &v16.StartTransactionRequest{ConnectorID: connector, IDTag: "TAG-" + c.id, MeterStart: meterStart, Timestamp: ts})
	if err != nil || res.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
		c.t.Fatalf("StartTransaction: %+v %v", res, err)
	}
	return res.TransactionID
}

func (c *charger) stop(tx, meterStop int, ts time.Time) {
	c.t.Helper()
	if _, err := v16.CallStopTransaction(context.Background(), c.conn, &v16.StopTransactionRequest{TransactionID: tx, MeterStop: meterStop, Timestamp: ts}); err != nil {
		c.t.Fatalf("StopTransaction: %v", err)
	}
}

func (c *charger) meter(connector int, tx *int, ts time.Time, values ...v16.SampledValue) {
	c.t.Helper()
	if _, err := v16.CallMeterValues(context.Background(), c.conn, &v16.MeterValuesRequest{ConnectorID: connector, TransactionID: tx,
		MeterValue: []v16.MeterValue{{Timestamp: ts, SampledValue: values}}}); err != nil {
		c.t.Fatalf("MeterValues: %v", err)
	}
}

func TestOverview(t *testing.T) {
	// The dashboard's "today" starts at local midnight. A zone whose
	// local time is now about noon keeps every timestamp below on the
	// day the test means, whenever it runs (CI once ran it a minute
	// after midnight UTC).
	now := time.Now().UTC().Truncate(time.Second)
	sinceMidnight := now.Sub(now.Truncate(24 * time.Hour))
	noon := time.FixedZone("noon", int((12*time.Hour - sinceMidnight).Seconds()))
	e := newEnv(t, func(cfg *api.Config) { cfg.Location = noon })
	e.ok(http.StatusCreated, "PUT", "/id-tags/TAG-A", `{"status":"Accepted"}`)
	e.ok(http.StatusCreated, "PUT", "/id-tags/TAG-B", `{"status":"Accepted"}`)

	// The empty fleet.
	var o overviewJSON
	e.ok(http.StatusOK, "GET", "/overview", "").decode(t, &o)
	if o.Chargers.Total != 0 || o.PowerW != 0 || o.Alerts == nil || len(o.Alerts) != 0 {
		t.Fatalf("empty overview %+v", o)
	}

	// C: registered, never connected.
	e.register("C")
	// D: connected once, offline now.
	d := e.connect("D", nil)
	d.conn.Close()
	eventually(t, "D to go offline", func() bool { return !e.svc.IsConnected("D") })
	// P: awaiting approval.
	e.ok(http.StatusCreated, "PUT", "/chargers/P", `{"registration":"Pending"}`)

	// A: charging on 1 at 7.4 kW since today, connector 2 faulted.
	a := e.connect("A", nil)
	a.status(1, v16.ChargePointStatusCharging)
	if _, err := v16.CallStatusNotification(context.Background(), a.conn, &v16.StatusNotificationRequest{
		ConnectorID: 2, ErrorCode: v16.ChargePointErrorCodeGroundFailure, Status: v16.ChargePointStatusFaulted, Info: "RCD tripped",
	}); err != nil {
		t.Fatal(err)
	}
	txA := a.start(1, 10000, now.Add(-time.Minute))
	a.meter(1, &txA, now,
		v16.SampledValue{Value: "12.5", Measurand: v16.MeasurandEnergyActiveImportRegister, Unit: "kWh"},
		v16.SampledValue{Value: "7.4", Measurand: v16.MeasurandPowerActiveImport, Unit: "kW"})

	// B: charging on 1, power per phase without a transaction; on 2 a
	// session from two days ago and one from today, both stopped, and a
	// stale power reading that must not count.
	b := e.connect("B", nil)
	b.status(1, v16.ChargePointStatusCharging)
	b.meter(1, nil, now,
		v16.SampledValue{Value: "3000", Measurand: v16.MeasurandPowerActiveImport, Unit: "W", Phase: "L1"},
		v16.SampledValue{Value: "3000", Measurand: v16.MeasurandPowerActiveImport, Unit: "W", Phase: "L2"},
		v16.SampledValue{Value: "3100", Measurand: v16.MeasurandPowerActiveImport, Unit: "W", Phase: "L3"})
	old := b.start(2, 0, now.Add(-48*time.Hour))
	b.stop(old, 50000, now.Add(-47*time.Hour))
	today := b.start(2, 1000, now.Add(-time.Second))
	b.meter(2, &today, now, v16.SampledValue{Value: "5000", Measurand: v16.MeasurandPowerActiveImport, Unit: "W"})
	b.stop(today, 3000, now)
	b.status(2, v16.ChargePointStatusAvailable)

	e.ok(http.StatusOK, "GET", "/overview", "").decode(t, &o)
	c := o.Chargers
	if c.Total != 5 || c.Online != 2 || c.Offline != 3 || c.Charging != 2 || c.Faulted != 1 || c.Pending != 1 {
		t.Errorf("counts %+v", c)
	}
	if o.PowerW != 7400+9100 {
		t.Errorf("powerW %v, want 16500", o.PowerW)
	}
	if o.EnergyTodayWh != 2500+2000 {
		t.Errorf("energyTodayWh %v, want 4500", o.EnergyTodayWh)
	}
	var got []string
	for _, al := range o.Alerts {
		s := al.Kind + " " + al.ChargerID
		if al.ConnectorID != nil {
			s += "/" + string(rune('0'+*al.ConnectorID))
		}
		got = append(got, s)
	}
	want := "faulted A/2, offline D, offline C, pending P"
	if strings.Join(got, ", ") != want {
		t.Errorf("alerts %q, want %q", strings.Join(got, ", "), want)
	}
	if len(o.Alerts) == 4 {
		if m := o.Alerts[0].Message; !strings.Contains(m, "GroundFailure") || !strings.Contains(m, "RCD tripped") {
			t.Errorf("faulted message %q", m)
		}
		ch, _ := e.st.GetCharger(context.Background(), "D")
		if !o.Alerts[1].Since.Equal(*ch.LastSeenAt) {
			t.Errorf("offline since %v, last seen %v", o.Alerts[1].Since, ch.LastSeenAt)
		}
		if o.Alerts[2].Message != "offline, never connected" || o.Alerts[3].Message != "awaiting approval" {
			t.Errorf("messages %+v", o.Alerts)
		}
	}

	// A charger that goes offline stops counting as charging.
	a.conn.Close()
	eventually(t, "A to go offline", func() bool { return !e.svc.IsConnected("A") })
	e.ok(http.StatusOK, "GET", "/overview", "").decode(t, &o)
	if o.Chargers.Online != 1 || o.Chargers.Charging != 1 || o.Chargers.Faulted != 0 || o.PowerW != 9100 {
		t.Errorf("after A left: %+v", o)
	}
	// Energy stays: it was delivered.
	if o.EnergyTodayWh != 4500 {
		t.Errorf("energy after A left: %v", o.EnergyTodayWh)
	}
	wantProblem(t, e.do("GET", "/overview", "", ""), http.StatusUnauthorized, api.KindUnauthorized, "-")
}

func TestTransactionsCSV(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var ids []int64
	for i, tag := range []string{"PLAIN", "=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)"} {
		r, err := e.st.StartTransaction(ctx, store.StartTx{ChargerID: "CP1", ConnectorID: 1, IDTag: tag, MeterStart: int64(100 * i), Timestamp: t0.Add(time.Duration(i) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.Transaction.ID)
		if i < 4 {
			reason := "EVDisconnected"
			if i == 3 {
				reason = "=cmd|' /C calc'!A0"
			}
			if _, _, err := e.st.StopTransaction(ctx, store.StopTx{TransactionID: r.Transaction.ID, ChargerID: "CP1", MeterStop: int64(100*i + 1500), Timestamp: t0.Add(time.Duration(i)*time.Hour + 30*time.Minute), Reason: reason}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.st.StartTransaction(ctx, store.StartTx{ChargerID: "CP2", ConnectorID: 1, IDTag: "OTHER", Timestamp: t0}); err != nil {
		t.Fatal(err)
	}

	r := e.ok(http.StatusOK, "GET", "/transactions.csv?chargerId=CP1", "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="transactions.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "id,chargerId,connectorId,idTag,startedAt,stoppedAt,meterStart,meterStop,energyWh,stopReason" {
		t.Errorf("header %v", rows[0])
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows: %s", len(rows), r.Body)
	}
	// Newest first: the running one, then the one stopped with a hostile
	// reason.
	running := rows[1]
	if running[3] != "'@SUM(A1)" || running[5] != "" || running[7] != "" || running[8] != "" || running[4] != "2026-03-01T12:00:00Z" {
		t.Errorf("running row %q", running)
	}
	hostile := rows[2]
	wantRow := []string{itoa(ids[3]), "CP1", "1", "'-2", "2026-03-01T11:00:00Z", "2026-03-01T11:30:00Z", "300", "1800", "1500", "'=cmd|' /C calc'!A0"}
	if strings.Join(hostile, "|") != strings.Join(wantRow, "|") {
		t.Errorf("row\n got %q\nwant %q", hostile, wantRow)
	}
	if rows[3][3] != "'+1" || rows[4][3] != `'=HYPERLINK("x")` || rows[5][3] != "PLAIN" || rows[5][9] != "EVDisconnected" {
		t.Errorf("rows %q", rows[3:])
	}

	// The filters of /transactions apply.
	r = e.ok(http.StatusOK, "GET", "/transactions.csv?active=true", "")
	if n := strings.Count(string(r.Body), "\n"); n != 3 {
		t.Errorf("active: %d lines: %s", n, r.Body)
	}
	r = e.ok(http.StatusOK, "GET", "/transactions.csv?chargerId=CP1&limit=2", "")
	if n := strings.Count(string(r.Body), "\n"); n != 3 {
		t.Errorf("limit 2: %d lines", n)
	}
	wantProblem(t, e.admin("GET", "/transactions.csv?limit=100001", ""), http.StatusBadRequest, api.KindInvalidRequest, "limit")
	wantProblem(t, e.admin("GET", "/transactions.csv?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", ""), http.StatusBadRequest, api.KindInvalidRequest, "to")
}

// TestTransactionsCSVPages: an export longer than one store page is
// complete and in order.
func TestTransactionsCSVPages(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	const n = 1234
	for i := range n {
		if _, err := e.st.StartTransaction(ctx, store.StartTx{ChargerID: "CP", ConnectorID: 1 + i%2, IDTag: "T", MeterStart: int64(i), Timestamp: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.ok(http.StatusOK, "GET", "/transactions.csv", "")
	rows, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n+1 {
		t.Fatalf("%d rows, want %d", len(rows), n+1)
	}
	for i, row := range rows[1:] {
		if row[6] != itoa(int64(n-1-i)) {
			t.Fatalf("row %d: %q", i, row)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
