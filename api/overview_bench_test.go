package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/ocpptest"
	"github.com/wattson-csms/wattson/store"
)

// BenchmarkFleet measures GET /overview and GET /chargers?limit=1000 over
// a real SQLite store with 1,000 chargers of 2 connectors, 900 of them
// connected over websockets, each connector with a typical 3-phase set of
// latest meter values, 600 running transactions and 3,000 of the day.
func BenchmarkFleet(b *testing.B) {
	const chargers = 1000
	e := newEnv(b, nil)
	ctx := context.Background()
	now := time.Now().UTC()
	for i := range chargers {
		id := fmt.Sprintf("CP%04d", i)
		if _, err := e.st.RecordBoot(ctx, store.Boot{ChargerID: id, Vendor: "Acme", Model: "W2", ReceivedAt: now}, store.RegistrationAccepted); err != nil {
			b.Fatal(err)
		}
		for c := 0; c <= 2; c++ {
			status := "Available"
			switch {
			case c > 0 && i%5 < 3:
				status = "Charging"
			case c == 2 && i%50 == 7:
				status = "Faulted"
			}
			if err := e.st.RecordStatus(ctx, store.Connector{ChargerID: id, ConnectorID: c, Status: status, ErrorCode: "NoError", UpdatedAt: now}); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Three finished sessions and one running one on 3 of 5 chargers'
	// connectors (600 running), with meter values as a charger sends them.
	var samples []store.MeterSample
	for i := range chargers {
		if i%5 >= 3 {
			continue
		}
		id := fmt.Sprintf("CP%04d", i)
		for c := 1; c <= 2; c++ {
			meter := int64(0)
			for k := range 3 {
				ts := now.Add(-time.Duration(6-k) * time.Hour)
				r, err := e.st.StartTransaction(ctx, store.StartTx{ChargerID: id, ConnectorID: c, IDTag: "T", MeterStart: meter, Timestamp: ts})
				if err != nil {
					b.Fatal(err)
				}
				meter += 7000
				if _, _, err := e.st.StopTransaction(ctx, store.StopTx{TransactionID: r.Transaction.ID, ChargerID: id, MeterStop: meter, Timestamp: ts.Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
			if i%2 == 0 && c == 2 {
				continue
			}
			r, err := e.st.StartTransaction(ctx, store.StartTx{ChargerID: id, ConnectorID: c, IDTag: "T", MeterStart: meter, Timestamp: now.Add(-time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			tx := r.Transaction.ID
			add := func(measurand, phase, unit, value string) {
				samples = append(samples, store.MeterSample{ChargerID: id, ConnectorID: c, TransactionID: &tx, Timestamp: now, ReceivedAt: now,
					Measurand: measurand, Phase: phase, Unit: unit, Value: value, Context: "Sample.Periodic"})
			}
			add("Energy.Active.Import.Register", "", "Wh", fmt.Sprint(meter+5000))
			add("Power.Active.Import", "", "W", "11000")
			for _, p := range []string{"L1", "L2", "L3"} {
				add("Current.Import", p, "A", "16")
				add("Power.Active.Import", p, "W", "3666")
			}
			for _, p := range []string{"L1-N", "L2-N", "L3-N"} {
				add("Voltage", p, "V", "230")
			}
			add("SoC", "", "Percent", "50")
			add("Temperature", "", "Celsius", "30")
		}
	}
	if err := e.st.AddMeterValues(ctx, samples); err != nil {
		b.Fatal(err)
	}
	// 900 chargers online.
	for i := range chargers - 100 {
		ocpptest.Dial(b, e.ocppURL, fmt.Sprintf("CP%04d", i), ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
			return nil, ocpp.Errorf(ocpp.NotSupported, "bench")
		}), ocpp.Options{})
	}
	eventually(b, "900 chargers online", func() bool { return len(e.svc.ConnectedIDs()) == chargers-100 })

	var o overviewJSON
	e.ok(http.StatusOK, "GET", "/overview", "").decode(b, &o)
	if o.Chargers.Total != chargers || o.Chargers.Online != chargers-100 || o.Chargers.Charging == 0 || o.PowerW == 0 || o.EnergyTodayWh == 0 {
		b.Fatalf("overview %+v", o.Chargers)
	}
	b.Logf("overview: %+v, powerW %v, energyTodayWh %v, %d alerts", o.Chargers, o.PowerW, o.EnergyTodayWh, len(o.Alerts))

	for _, path := range []string{"/overview", "/chargers?limit=1000"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				r := e.admin("GET", path, "")
				if r.Status != http.StatusOK {
					b.Fatalf("%d %s", r.Status, r.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
		})
	}
}
