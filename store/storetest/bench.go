package storetest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// Writers is how many chargers the meter value benchmarks write from at
// once.
const Writers = 64

// Bench runs the store's hot-path write benchmarks; open returns a new,
// empty store that is closed when the benchmark ends.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("StartStopTransaction", func(b *testing.B) {
		s := open(b)
		ctx := b.Context()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ts := at(time.Duration(i) * time.Second)
			r, err := s.StartTransaction(ctx, store.StartTx{ChargerID: "cp", ConnectorID: 1, IDTag: "TAG", MeterStart: int64(i), Timestamp: ts, ReceivedAt: ts})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.StopTransaction(ctx, store.StopTx{TransactionID: r.Transaction.ID, ChargerID: "cp", MeterStop: int64(i + 1), Timestamp: ts, ReceivedAt: ts}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AddMeterValues10/serial", func(b *testing.B) {
		s := open(b)
		msg := meterMessage("cp", 1)
		b.ReportAllocs()
		for b.Loop() {
			if err := s.AddMeterValues(b.Context(), msg); err != nil {
				b.Fatal(err)
			}
		}
		reportSamples(b, len(msg))
	})
	b.Run(fmt.Sprintf("AddMeterValues10/direct-%dwriters", Writers), func(b *testing.B) {
		s := open(b)
		parallel(b, func(msg []store.MeterSample) error { return s.AddMeterValues(b.Context(), msg) })
	})
	b.Run(fmt.Sprintf("AddMeterValues10/batcher-%dwriters", Writers), func(b *testing.B) {
		s := open(b)
		mb := store.NewMeterBatcher(s, 512, 5*time.Millisecond)
		defer mb.Close()
		parallel(b, func(msg []store.MeterSample) error { return mb.Add(b.Context(), msg) })
	})
	b.Run("ConfigKeyAcross/page1000of10000", func(b *testing.B) {
		s := open(b)
		seedSnapshots(b, s, 10000)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// Pages from the start, the middle and the end of the fleet.
			after := fmt.Sprintf("cp%05d", (i%10)*1000)
			vs, err := s.ConfigKeyAcross(b.Context(), store.ConfigKeyFilter{Key: "heartbeatinterval", After: after, Limit: 1000})
			if err != nil || len(vs) == 0 || !vs[0].Found {
				b.Fatalf("%d values, err %v", len(vs), err)
			}
		}
	})
	b.Run("RecordConfigChange", func(b *testing.B) {
		s := open(b)
		seedSnapshots(b, s, 1)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.RecordConfigChange(b.Context(), store.ConfigChange{ChargerID: "cp00000", Key: "HeartbeatInterval",
				Value: fmt.Sprint(i), Status: store.ConfigAccepted, At: at(time.Duration(i) * time.Millisecond)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendLog400/full", func(b *testing.B) {
		// The message log's flush at 1,000 msgs/s: 400 frames of 1 KB
		// from 400 chargers whose logs are full (1,000 entries, the
		// default keep: every charger's log after its first thousand
		// messages), so each flush also trims 400 entries.
		s := open(b)
		const chargers, keep, perFlush = 2000, 1000, 400
		seed := make([]store.LogEntry, keep)
		for c := range chargers {
			for j := range seed {
				seed[j] = store.LogEntry{ChargerID: fmt.Sprintf("cp%05d", c), At: at(time.Duration(j) * time.Second), Frame: []byte("[2,\"1\",\"Heartbeat\",{}]")}
			}
			if err := s.AppendLog(b.Context(), seed, keep); err != nil {
				b.Fatal(err)
			}
		}
		frame := make([]byte, 1024)
		batch := make([]store.LogEntry, perFlush)
		next := 0
		b.ReportAllocs()
		for b.Loop() {
			for j := range batch {
				batch[j] = store.LogEntry{ChargerID: fmt.Sprintf("cp%05d", next%chargers), At: at(time.Duration(next) * time.Millisecond), Frame: frame}
				next += 7 // a different charger each time, all of them in turn
			}
			if err := s.AppendLog(b.Context(), batch, keep); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// seedSnapshots stores n snapshots of 45 keys, as a charge point reports
// them, every tenth charger with a change of HeartbeatInterval.
func seedSnapshots(b *testing.B, s store.Store, n int) {
	keys := make([]store.ConfigKey, 45)
	for i := range keys {
		keys[i] = store.ConfigKey{Key: fmt.Sprintf("VendorKey%02d", i), Value: "some value"}
	}
	keys[20] = store.ConfigKey{Key: "HeartbeatInterval", Value: "300"}
	for i := range n {
		id := fmt.Sprintf("cp%05d", i)
		if err := s.PutConfigSnapshot(b.Context(), store.ConfigSnapshot{ChargerID: id, Keys: keys, TakenAt: at(0)}); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := s.RecordConfigChange(b.Context(), store.ConfigChange{ChargerID: id, Key: "HeartbeatInterval", Value: "60",
				Status: store.ConfigAccepted, At: at(time.Minute)}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// meterMessage is a typical 3-phase MeterValues: energy, power, current
// and voltage per phase.
func meterMessage(cp string, tx int64) []store.MeterSample {
	ts := base
	out := []store.MeterSample{
		{Measurand: "Energy.Active.Import.Register", Unit: "Wh", Value: "123456"},
		{Measurand: "Power.Active.Import", Unit: "W", Value: "11000"},
	}
	for _, p := range []string{"L1", "L2", "L3"} {
		out = append(out, store.MeterSample{Measurand: "Current.Import", Phase: p, Unit: "A", Value: "16.0"})
	}
	for _, p := range []string{"L1-N", "L2-N", "L3-N"} {
		out = append(out, store.MeterSample{Measurand: "Voltage", Phase: p, Unit: "V", Value: "230.1"})
	}
	out = append(out, store.MeterSample{Measurand: "SoC", Unit: "Percent", Value: "54", Location: "EV"},
		store.MeterSample{Measurand: "Temperature", Unit: "Celsius", Value: "31", Location: "Body"})
	for i := range out {
		out[i].ChargerID, out[i].ConnectorID, out[i].TransactionID = cp, 1, &tx
		out[i].Timestamp, out[i].ReceivedAt, out[i].Context = ts, ts, "Sample.Periodic"
	}
	return out
}

// parallel runs add from Writers goroutines, each a charger of its own.
func parallel(b *testing.B, add func([]store.MeterSample) error) {
	var next atomic.Int64
	b.SetParallelism((Writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := next.Add(1)
		msg := meterMessage(fmt.Sprintf("cp%d", w), w)
		for pb.Next() {
			if err := add(msg); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportSamples(b, len(meterMessage("", 0)))
}

func reportSamples(b *testing.B, per int) {
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "samples/s")
}
