package ocpp

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// maskedFrame builds a client frame by hand.
func maskedFrame(fin bool, op byte, payload []byte) []byte {
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	switch n := len(payload); {
	case n > 0xFFFF:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	case n > 125:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|byte(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i&3])
	}
	return b
}

// runServerConn feeds input to a server-side Conn over a pipe and returns
// once the connection has ended.
func runServerConn(t testing.TB, input []byte) {
	srvEnd, peer := net.Pipe()
	opts := Options{MaxMessageSize: 512, PingInterval: -1, WriteTimeout: time.Second}
	h := HandlerFunc(func(ctx context.Context, req *Request) (Payload, error) {
		return RawJSON(req.Payload), nil
	})
	c := newConn(srvEnd, "F", "ocpp1.6", false, h, opts.withDefaults(), nil)
	go func() { _, _ = io.Copy(io.Discard, peer) }()
	go func() {
		_, _ = peer.Write(input)
		// Give the handler a moment to answer, then hang up.
		time.Sleep(time.Millisecond)
		_ = peer.Close()
	}()
	c.readLoop()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection did not end")
	}
}

// FuzzConnInput sends arbitrary bytes, as the stream after the handshake,
// to a server connection: it must never panic or hang.
func FuzzConnInput(f *testing.F) {
	call := []byte(`[2,"1","Heartbeat",{}]`)
	f.Add(maskedFrame(true, opText, call))
	f.Add(append(maskedFrame(false, opText, call[:5]), maskedFrame(true, opContinuation, call[5:])...))
	f.Add(maskedFrame(true, opPing, []byte("hi")))
	f.Add(maskedFrame(true, opClose, []byte{3, 232}))
	f.Add(maskedFrame(true, opText, make([]byte, 600)))
	f.Add(maskedFrame(true, 0x3, nil))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}) // unmasked
	f.Add([]byte{0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, input []byte) {
		runServerConn(t, input)
	})
}

func TestConnInputSeeds(t *testing.T) {
	// Oversized declared lengths must not allocate what they declare.
	runServerConn(t, []byte{0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4})
	runServerConn(t, maskedFrame(true, opText, make([]byte, 70000)))
}
