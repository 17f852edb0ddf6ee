package v16

import (
	"testing"
)

var (
	heartbeatJSON          = []byte(`{}`)
	statusNotificationJSON = []byte(`{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"2024-05-01T12:30:00.250Z","vendorId":"Wattson"}`)
	// A three-phase meter sample as chargers send it every minute: voltage,
	// current and power per phase plus the energy register, about 1 KB.
	meterValuesJSON = []byte(`{"connectorId":1,"transactionId":4711,"meterValue":[{"timestamp":"2024-05-01T12:30:00Z","sampledValue":[` +
		`{"value":"230.4","context":"Sample.Periodic","measurand":"Voltage","phase":"L1-N","unit":"V"},` +
		`{"value":"229.8","context":"Sample.Periodic","measurand":"Voltage","phase":"L2-N","unit":"V"},` +
		`{"value":"231.1","context":"Sample.Periodic","measurand":"Voltage","phase":"L3-N","unit":"V"},` +
		`{"value":"15.92","context":"Sample.Periodic","measurand":"Current.Import","phase":"L1","unit":"A"},` +
		`{"value":"15.87","context":"Sample.Periodic","measurand":"Current.Import","phase":"L2","unit":"A"},` +
		`{"value":"16.01","context":"Sample.Periodic","measurand":"Current.Import","phase":"L3","unit":"A"},` +
		`{"value":"3667.9","context":"Sample.Periodic","measurand":"Power.Active.Import","phase":"L1","unit":"W"},` +
		`{"value":"3646.9","context":"Sample.Periodic","measurand":"Power.Active.Import","phase":"L2","unit":"W"},` +
		`{"value":"3699.9","context":"Sample.Periodic","measurand":"Power.Active.Import","phase":"L3","unit":"W"},` +
		`{"value":"152834.2","context":"Sample.Periodic","format":"Raw","measurand":"Energy.Active.Import.Register","unit":"Wh"}]}]}`)
)

// roundTrip is what the central system does with an incoming CALL: decode
// and validate it, then (here) encode a payload of the same size back.
func benchRoundTrip(b *testing.B, m Message, data []byte) {
	b.Helper()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	buf := make([]byte, 0, 2048)
	for b.Loop() {
		if err := m.UnmarshalOCPP(data); err != nil {
			b.Fatal(err)
		}
		if err := m.Validate(); err != nil {
			b.Fatal(err)
		}
		buf = m.AppendJSON(buf[:0])
	}
}

func BenchmarkHeartbeatRequest(b *testing.B) {
	benchRoundTrip(b, new(HeartbeatRequest), heartbeatJSON)
}

func BenchmarkStatusNotificationRequest(b *testing.B) {
	benchRoundTrip(b, new(StatusNotificationRequest), statusNotificationJSON)
}

func BenchmarkMeterValuesRequest(b *testing.B) {
	benchRoundTrip(b, new(MeterValuesRequest), meterValuesJSON)
}

func BenchmarkMeterValuesDecode(b *testing.B) {
	var m MeterValuesRequest
	b.SetBytes(int64(len(meterValuesJSON)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.UnmarshalOCPP(meterValuesJSON); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchPayloads keeps the benchmark inputs honest.
func TestBenchPayloads(t *testing.T) {
	r := loadReference(t)
	for id, data := range map[string][]byte{"urn:Heartbeat.req": heartbeatJSON, "urn:StatusNotification.req": statusNotificationJSON, "urn:MeterValues.req": meterValuesJSON} {
		if ok, err := r.valid(id, data); !ok {
			t.Errorf("%s: %v", id, err)
		}
	}
	if n := len(meterValuesJSON); n < 900 || n > 1200 {
		t.Errorf("MeterValues payload is %d bytes, want about 1 KB", n)
	}
}
