package ocpp_test

import (
	"context"
	"testing"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/ocpptest"
)

// BenchmarkCallLoopback is one CALL and its CALLRESULT over a real
// websocket on loopback: client encode, server parse, handler, server
// encode, client parse. Both ends run in this process.
func BenchmarkCallLoopback(b *testing.B) {
	h := ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		return ocpp.RawJSON(`{"currentTime":"2026-11-22T10:00:00Z"}`), nil
	})
	srv := &ocpp.Server{Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: h}}}
	url := ocpptest.NewServer(b, srv)
	c := ocpptest.Dial(b, url, "BENCH", nil, ocpp.Options{})
	ctx := context.Background()
	payload := ocpp.RawJSON(`{}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Call(ctx, "Heartbeat", payload); err != nil {
			b.Fatal(err)
		}
	}
}
