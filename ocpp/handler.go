package ocpp

import "context"

// Payload is a message body that writes itself as JSON. Generated message
// types implement it without reflection; RawJSON wraps bytes that already are
// JSON.
type Payload interface {
	AppendJSON(dst []byte) []byte
}

// RawJSON is a Payload of ready JSON bytes. An empty RawJSON encodes as {}.
type RawJSON []byte

// AppendJSON appends the bytes, or {} when there are none.
func (r RawJSON) AppendJSON(dst []byte) []byte {
	if len(r) == 0 {
		return append(dst, '{', '}')
	}
	return append(dst, r...)
}

// Request is an incoming CALL.
type Request struct {
	Conn      *Conn
	MessageID string
	Action    string
	// Payload is the raw JSON payload. It is valid only until the handler
	// returns: it lives in a pooled read buffer.
	Payload []byte
}

// Handler answers incoming CALLs. Its context is cancelled when the
// connection closes. A returned *Error becomes that CALLERROR; any other
// error becomes InternalError (and is logged, not sent). A panic is
// recovered and answered with InternalError.
type Handler interface {
	ServeCall(ctx context.Context, req *Request) (Payload, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (Payload, error)

// ServeCall calls f.
func (f HandlerFunc) ServeCall(ctx context.Context, req *Request) (Payload, error) {
	return f(ctx, req)
}

// Caller sends CALLs and returns the peer's CALLRESULT payload, which the
// caller owns. *Conn implements it; so can a cluster router later.
type Caller interface {
	Call(ctx context.Context, action string, payload Payload) ([]byte, error)
}
