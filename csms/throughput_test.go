package csms_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/ocpptest"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/postgres"
	"github.com/wattson-csms/wattson/store/postgres/pgtest"
	"github.com/wattson-csms/wattson/store/sqlite"
)

// BenchmarkMessages measures charger messages handled per second by the
// whole central system: csms.Service on a real store behind a real
// ocpp.Server on loopback, with chargers connected through ocpp.Dial from
// the same process. One b.N iteration is one OCPP message (CALL and its
// answer); the messages are spread over the chargers, each of which sends
// one after another as OCPP requires. Chargers repeat chargeCycle.
//
//	go test -run '^$' -bench BenchmarkMessages -benchtime 20000x ./csms
//
// WATTSON_BENCH_CHARGERS sets the number of chargers (default 64); the
// postgres sub-benchmark runs when WATTSON_TEST_POSTGRES_URL is set.
func BenchmarkMessages(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchMessages(b, func(b *testing.B) store.Store {
			st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "wattson.db"))
			if err != nil {
				b.Fatal(err)
			}
			return st
		})
	})
	b.Run("postgres", func(b *testing.B) {
		pgtest.BaseURL(b)
		benchMessages(b, func(b *testing.B) store.Store {
			// pgx's default pool size, as in production.
			st, err := postgres.Open(b.Context(), pgtest.SchemaURL(b))
			if err != nil {
				b.Fatal(err)
			}
			return st
		})
	})
}

// msgKind is one message of a charging session.
type msgKind int

const (
	msgStart msgKind = iota
	msgMeter
	msgStatusCharging
	msgStatusAvailable
	msgHeartbeat
	msgStop
)

// chargeCycle is what a charger sends per charging session: 13 messages,
// StartTransaction, 8 MeterValues, 2 StatusNotification, 1 Heartbeat,
// StopTransaction.
var chargeCycle = []msgKind{
	msgStart, msgStatusCharging,
	msgMeter, msgMeter, msgMeter, msgMeter,
	msgHeartbeat,
	msgMeter, msgMeter, msgMeter, msgMeter,
	msgStop, msgStatusAvailable,
}

// benchMeterSamples is the number of sampled values in benchMeterValue.
const benchMeterSamples = 10

// benchMeterValue is a ~1 KB three-phase reading: voltage, current and
// power per phase plus the energy register.
func benchMeterValue(ts time.Time, energyWh int) []v16.MeterValue {
	var sv []v16.SampledValue
	for i, ph := range [][2]v16.Phase{{v16.PhaseL1N, v16.PhaseL1}, {v16.PhaseL2N, v16.PhaseL2}, {v16.PhaseL3N, v16.PhaseL3}} {
		sv = append(sv,
			v16.SampledValue{Value: strconv.FormatFloat(229.8+float64(i), 'f', 1, 64), Context: v16.ReadingContextSamplePeriodic, Measurand: v16.MeasurandVoltage, Phase: ph[0], Unit: v16.UnitOfMeasureV},
			v16.SampledValue{Value: strconv.FormatFloat(15.9+float64(i)/10, 'f', 2, 64), Context: v16.ReadingContextSamplePeriodic, Measurand: v16.MeasurandCurrentImport, Phase: ph[1], Unit: v16.UnitOfMeasureA},
			v16.SampledValue{Value: strconv.Itoa(3650 + 10*i), Context: v16.ReadingContextSamplePeriodic, Measurand: v16.MeasurandPowerActiveImport, Phase: ph[1], Unit: v16.UnitOfMeasureW},
		)
	}
	sv = append(sv, v16.SampledValue{Value: strconv.Itoa(energyWh), Context: v16.ReadingContextSamplePeriodic, Measurand: v16.MeasurandEnergyActiveImportRegister, Unit: v16.UnitOfMeasureWh})
	return []v16.MeterValue{{Timestamp: ts, SampledValue: sv}}
}

// benchChargers is the number of chargers, WATTSON_BENCH_CHARGERS or 64.
func benchChargers(b *testing.B) int {
	s := os.Getenv("WATTSON_BENCH_CHARGERS")
	if s == "" {
		return 64
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("WATTSON_BENCH_CHARGERS=%q: want a positive number", s)
	}
	return n
}

// benchCentral wires a central system the way cmd/wattson does, on the
// store open returns, with unknown chargers accepted, and returns the
// store, the service and the OCPP endpoint's base URL. Everything is shut
// down when the benchmark run ends: connections, then the service (which
// flushes the meter batcher and the message log), then the store.
func benchCentral(b *testing.B, open func(*testing.B) store.Store) (store.Store, *csms.Service, string) {
	b.Helper()
	c := csmstest.New(b, func(tb testing.TB) store.Store { return open(b) }, func(cfg *csms.Config) {
		cfg.Events = &events.Bus{}
		csmstest.AcceptUnknown(cfg)
	})
	return c.Store, c.Service, c.URL
}

// benchCharger is one simulated charger and what it sent.
type benchCharger struct {
	id     string
	tag    string
	conn   *ocpp.Conn
	n      int             // messages to send
	lat    []time.Duration // per message, preallocated
	starts int
	stops  int
	meters int
}

func benchMessages(b *testing.B, open func(*testing.B) store.Store) {
	ctx := b.Context()
	st, svc, baseURL := benchCentral(b, open)
	chargers := make([]*benchCharger, benchChargers(b))
	for i := range chargers {
		c := &benchCharger{id: fmt.Sprintf("BENCH-%04d", i), tag: fmt.Sprintf("TAG-%04d", i)}
		c.n = b.N / len(chargers)
		if i < b.N%len(chargers) {
			c.n++
		}
		c.lat = make([]time.Duration, c.n)
		if _, err := st.PutIDTag(ctx, store.IDTag{IDTag: c.tag, Status: store.IDTagAccepted}); err != nil {
			b.Fatal(err)
		}
		c.conn = ocpptest.Dial(b, baseURL, c.id, nil, ocpp.Options{})
		for deadline := time.Now().Add(10 * time.Second); !svc.IsConnected(c.id); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%s did not register", c.id)
			}
		}
		resp, err := v16.CallBootNotification(ctx, c.conn, &v16.BootNotificationRequest{ChargePointVendor: "Wattson", ChargePointModel: "Bench", FirmwareVersion: "1.0"})
		if err != nil || resp.Status != v16.RegistrationStatusAccepted {
			b.Fatalf("boot %s: %+v, %v", c.id, resp, err)
		}
		chargers[i] = c
	}

	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for _, c := range chargers {
		wg.Go(func() {
			if err := c.run(ctx); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if b.Failed() {
		return
	}

	all := make([]time.Duration, 0, b.N)
	var starts, stops, meters int
	for _, c := range chargers {
		all = append(all, c.lat...)
		starts += c.starts
		stops += c.stops
		meters += c.meters
	}
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(ms(percentile(all, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(all, 99)), "p99-ms")

	// Nothing lost: every StartTransaction is a stored transaction, every
	// StopTransaction stopped one and every MeterValues' samples are kept.
	var txs, stopped, samples int
	for before := int64(0); ; {
		page, err := st.ListTransactions(ctx, store.TxFilter{Before: before, Limit: 1000})
		if err != nil {
			b.Fatal(err)
		}
		for _, tx := range page {
			txs++
			if !tx.Active() {
				stopped++
			}
			mv, err := st.TransactionMeterValues(ctx, tx.ID)
			if err != nil {
				b.Fatal(err)
			}
			samples += len(mv)
			before = tx.ID
		}
		if len(page) < 1000 {
			break
		}
	}
	if txs != starts || stopped != stops || samples != meters*benchMeterSamples {
		b.Fatalf("stored %d transactions (%d stopped) with %d meter samples; sent %d StartTransaction, %d StopTransaction, %d MeterValues of %d samples",
			txs, stopped, samples, starts, stops, meters, benchMeterSamples)
	}
}

// run sends c.n messages, following chargeCycle, timing each.
func (c *benchCharger) run(ctx context.Context) error {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var txID int
	var energy int
	// Built once: the connection encodes it during the call.
	meter := &v16.MeterValuesRequest{ConnectorID: 1, TransactionID: &txID, MeterValue: benchMeterValue(t0, 0)}
	register := &meter.MeterValue[0].SampledValue[benchMeterSamples-1]
	for k := 0; k < c.n; k++ {
		session, step := k/len(chargeCycle), k%len(chargeCycle)
		ts := t0.Add(time.Duration(k) * time.Second)
		var err error
		began := time.Now()
		switch chargeCycle[step] {
		case msgStart:
			energy = session * 100_000
			var resp *v16.StartTransactionResponse
			resp, err = v16.CallStartTransaction(ctx, c.conn, &v16.StartTransactionRequest{ConnectorID: 1, IDTag: c.tag, MeterStart: energy, Timestamp: ts})
			if err == nil {
				txID = resp.TransactionID
				if resp.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
					err = fmt.Errorf("tag %s: %s", c.tag, resp.IDTagInfo.Status)
				}
			}
			c.starts++
		case msgMeter:
			energy += 1000
			meter.MeterValue[0].Timestamp = ts
			register.Value = strconv.Itoa(energy)
			_, err = v16.CallMeterValues(ctx, c.conn, meter)
			c.meters++
		case msgStatusCharging:
			_, err = v16.CallStatusNotification(ctx, c.conn, &v16.StatusNotificationRequest{ConnectorID: 1, ErrorCode: v16.ChargePointErrorCodeNoError, Status: v16.ChargePointStatusCharging, Timestamp: &ts})
		case msgStatusAvailable:
			_, err = v16.CallStatusNotification(ctx, c.conn, &v16.StatusNotificationRequest{ConnectorID: 1, ErrorCode: v16.ChargePointErrorCodeNoError, Status: v16.ChargePointStatusAvailable, Timestamp: &ts})
		case msgHeartbeat:
			_, err = v16.CallHeartbeat(ctx, c.conn, &v16.HeartbeatRequest{})
		case msgStop:
			_, err = v16.CallStopTransaction(ctx, c.conn, &v16.StopTransactionRequest{TransactionID: txID, IDTag: c.tag, MeterStop: energy, Timestamp: ts, Reason: v16.ReasonLocal})
			c.stops++
		}
		c.lat[k] = time.Since(began)
		if err != nil {
			return fmt.Errorf("%s, message %d (%d of the cycle): %w", c.id, k, step, err)
		}
	}
	return nil
}

// percentile returns the p-th percentile (nearest rank) of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
