package v16_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

// roundMeterValues is a ~1 KB three-phase MeterValues CALL frame.
func roundMeterValues() string {
	var sv []string
	for i, ph := range []string{"L1", "L2", "L3"} {
		sv = append(sv,
			fmt.Sprintf(`{"value":"%.1f","context":"Sample.Periodic","measurand":"Voltage","phase":"%s-N","unit":"V"}`, 229.8+float64(i), ph),
			fmt.Sprintf(`{"value":"%.2f","context":"Sample.Periodic","measurand":"Current.Import","phase":"%s","unit":"A"}`, 15.9+float64(i)/10, ph),
			fmt.Sprintf(`{"value":"%.0f","context":"Sample.Periodic","measurand":"Power.Active.Import","phase":"%s","unit":"W"}`, 3650.0+float64(i*10), ph),
		)
	}
	sv = append(sv, `{"value":"123456.789","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","unit":"kWh"}`)
	return `[2,"98765432","MeterValues",{"connectorId":1,"transactionId":4711,"meterValue":[{"timestamp":"2026-11-22T10:15:00.000Z","sampledValue":[` +
		strings.Join(sv, ",") + `]}]}]`
}

// BenchmarkRound measures what the central system does for one incoming
// CALL, without the socket: parse the OCPP-J frame, decode and validate the
// payload into its Go type, run a handler, validate and encode the answer
// and its frame.
func BenchmarkRound(b *testing.B) {
	r := &v16.Router{}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	r.HandleHeartbeat(func(ctx context.Context, c *ocpp.Conn, req *v16.HeartbeatRequest) (*v16.HeartbeatResponse, error) {
		return &v16.HeartbeatResponse{CurrentTime: now}, nil
	})
	r.HandleStatusNotification(func(ctx context.Context, c *ocpp.Conn, req *v16.StatusNotificationRequest) (*v16.StatusNotificationResponse, error) {
		return &v16.StatusNotificationResponse{}, nil
	})
	r.HandleMeterValues(func(ctx context.Context, c *ocpp.Conn, req *v16.MeterValuesRequest) (*v16.MeterValuesResponse, error) {
		if len(req.MeterValue[0].SampledValue) != 10 {
			return nil, fmt.Errorf("decoded %d sampled values", len(req.MeterValue[0].SampledValue))
		}
		return &v16.MeterValuesResponse{}, nil
	})
	for _, bc := range []struct{ name, frame string }{
		{"Heartbeat", `[2,"19223201","Heartbeat",{}]`},
		{"StatusNotification", `[2,"19223202","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"2026-11-22T10:00:00Z","info":"ok","vendorId":"Wattson"}]`},
		{"MeterValues1KB", roundMeterValues()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(bc.frame)
			var f ocpp.Frame
			out := make([]byte, 0, 1024)
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := ocpp.ParseFrame(data, &f); err != nil {
					b.Fatal(err)
				}
				req := ocpp.Request{MessageID: string(f.ID), Action: string(f.Action), Payload: f.Payload}
				resp, err := r.ServeCall(ctx, &req)
				if err != nil {
					b.Fatal(err)
				}
				out = ocpp.AppendCallResult(out[:0], f.ID, resp)
			}
		})
	}
}
