// Package ocpp is OCPP-J over WebSocket, the same code for both ends: the
// central system accepts connections with Server, a charger dials with Dial,
// and either side gets a *Conn that answers incoming CALLs with a Handler
// and sends its own with Conn.Call.
//
// It owns framing (CALL, CALLRESULT, CALLERROR), the rule of one outstanding
// CALL per direction, call timeouts, CALLERROR codes for every failure,
// message size limits, websocket keepalive, subprotocol negotiation and the
// one-connection-per-charger registry. It knows nothing of message contents:
// the version packages (ocpp/v16) decode and validate payloads.
//
// Memory per idle connection is the design constraint (100,000 chargers on
// a node): an idle Conn holds one small goroutine and no buffers; buffers
// come from pools only while a message is read or written.
package ocpp
