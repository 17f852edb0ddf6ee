package ocpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// ErrReplaced is why a connection closed when its charger connected again.
var ErrReplaced = errors.New("ocpp: replaced by a new connection with the same id")

// errPingTimeout is why a connection closed when its peer went silent.
var errPingTimeout = errors.New("ocpp: peer did not answer a ping in time")

// Conn is one OCPP-J connection, on either end. Incoming CALLs go to its
// Handler one at a time, in order; Call sends CALLs, one outstanding at a
// time, the rest waiting in order.
//
// Each connection owns one goroutine that reads, plus one that runs the
// handler only while a CALL is being handled. When the connection dies both
// end, the outstanding Call returns ErrClosed and no state is left behind.
type Conn struct {
	id      string
	proto   string
	nc      net.Conn
	client  bool // we dialled: mask what we send, expect unmasked frames
	opts    *Options
	handler Handler
	onClose func(*Conn, error)
	base    context.Context

	// Reader-goroutine state.
	hdr     [maxFrameHeader]byte
	pre     []byte // bytes that arrived together with the handshake
	badSeen uint32

	wmu sync.Mutex // serialises frame writes

	slot chan struct{} // holds a token while our CALL is outstanding
	pmu  sync.Mutex
	pend string // id of the outstanding CALL, "" if none
	res  chan callResult

	calls   chan *inCall // incoming CALLs waiting for the handler
	working atomic.Bool  // a handler goroutine is running

	lastRead atomic.Int64 // unix nanoseconds of the last frame read
	pingSent int64        // keepalive timer only
	timer    *time.Timer

	closeOnce sync.Once
	closed    atomic.Bool
	done      chan struct{}
	closeErr  error
}

type callResult struct {
	payload []byte
	err     error
}

// inCall carries one received message; pooled.
type inCall struct {
	buf *[]byte
	f   Frame
	req Request
}

var inCallPool = sync.Pool{New: func() any { return new(inCall) }}

func getInCall() *inCall { return inCallPool.Get().(*inCall) }

func (in *inCall) release() {
	if in.buf != nil {
		putBuf(in.buf)
		in.buf = nil
	}
	in.f.Payload, in.f.Action, in.f.ErrorCode, in.f.ErrorDetails = nil, nil, nil, nil
	in.req = Request{}
	if cap(in.f.ID) > 256 {
		in.f.ID = nil
	}
	if cap(in.f.ErrorDescription) > 1024 {
		in.f.ErrorDescription = nil
	}
	inCallPool.Put(in)
}

// queuedCalls bounds CALLs received while one is being handled. A peer that
// sends more (the specification allows one at a time) waits in TCP.
const queuedCalls = 4

func newConn(nc net.Conn, id, proto string, client bool, h Handler, opts *Options, base context.Context) *Conn {
	if base == nil {
		base = context.Background()
	}
	c := &Conn{
		id:      id,
		proto:   proto,
		nc:      nc,
		client:  client,
		opts:    opts,
		handler: h,
		base:    base,
		slot:    make(chan struct{}, 1),
		res:     make(chan callResult, 1),
		calls:   make(chan *inCall, queuedCalls),
		done:    make(chan struct{}),
	}
	c.lastRead.Store(time.Now().UnixNano())
	// The timer exists before the connection is visible to anyone who could
	// close it (a replacing connection), so shutdown always sees it.
	if opts.PingInterval > 0 {
		c.timer = time.AfterFunc(opts.PingInterval, c.keepalive)
	}
	return c
}

// start begins reading.
func (c *Conn) start() {
	go c.readLoop()
}

// ID returns the charger id: the last path segment of the URL.
func (c *Conn) ID() string { return c.id }

// Subprotocol returns the negotiated subprotocol, e.g. "ocpp1.6".
func (c *Conn) Subprotocol() string { return c.proto }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our end's network address: the address the charger
// reached us at (unless a proxy stands between).
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Done is closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed, or nil while it is open.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.closeErr
	default:
		return nil
	}
}

// Context returns a context that is cancelled when the connection closes
// and carries the values of the context the connection was made with.
func (c *Conn) Context() context.Context { return connContext{c} }

// connContext is the connection as a context; a one-pointer struct, so
// passing it as an interface allocates nothing.
type connContext struct{ c *Conn }

func (x connContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (x connContext) Done() <-chan struct{}       { return x.c.done }
func (x connContext) Value(key any) any           { return x.c.base.Value(key) }
func (x connContext) Err() error {
	select {
	case <-x.c.done:
		return context.Canceled
	default:
		return nil
	}
}

func (c *Conn) logger() *slog.Logger {
	return c.opts.Logger.With("charger", c.id, "remote", c.nc.RemoteAddr().String())
}

// Close sends a websocket close frame and closes the connection.
func (c *Conn) Close() error {
	c.closeWith(closeNormal, "", ErrClosed)
	return nil
}

// Abort closes the socket at once, without the websocket close handshake,
// as a lost network would look to the peer. Waiting calls return
// ErrClosed.
func (c *Conn) Abort() { c.shutdown(ErrClosed) }

// closeWith sends a close frame with code and reason, then shuts down with
// err as the reason.
func (c *Conn) closeWith(code int, reason string, err error) {
	if c.closed.Load() {
		return
	}
	c.writeClose(code, reason)
	c.shutdown(err)
}

// shutdown closes the socket once; the read loop then ends, waiting calls
// return ErrClosed, and the owner is told.
func (c *Conn) shutdown(err error) {
	c.closeOnce.Do(func() {
		if err == nil {
			err = ErrClosed
		}
		c.closeErr = err
		c.closed.Store(true)
		if c.timer != nil {
			c.timer.Stop()
		}
		_ = c.nc.Close()
		c.opts.Metrics.Open.Add(-1)
		if c.onClose != nil {
			c.onClose(c, err)
		}
		// Done is closed last, so whoever waits on it knows the owner has
		// been told.
		close(c.done)
	})
}

// readLoop reads frames until the connection fails. It holds a buffer only
// while a message is arriving.
func (c *Conn) readLoop() {
	var (
		err      error
		msg      *[]byte
		inMsg    bool
		total    int64
		overflow bool
	)
	defer func() {
		if msg != nil {
			putBuf(msg)
		}
		c.shutdown(err)
	}()
	limit := int64(c.opts.MaxMessageSize)
	for {
		var h frameHeader
		h, err = c.readFrameHeader()
		if err != nil {
			var pe *wsProtocolError
			if errors.As(err, &pe) {
				c.writeClose(closeProtocolError, pe.msg)
			}
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		switch h.op {
		case opPing, opPong, opClose:
			var cb [maxControl]byte
			p := cb[:h.length]
			if err = c.readFull(p); err != nil {
				return
			}
			if h.masked {
				ws.Cipher(p, h.mask, 0)
			}
			switch h.op {
			case opPing:
				c.writeControl(opPong, p)
			case opClose:
				// Echo the peer's status code, then close.
				var echo []byte
				if len(p) >= 2 {
					echo = p[:2]
				}
				c.writeControl(opClose, echo)
				err = errPeerClosed
				return
			}
			continue
		case opText, opBinary:
			if inMsg {
				err = &wsProtocolError{"new message before the previous one ended"}
				c.writeClose(closeProtocolError, "unfinished fragmented message")
				return
			}
			inMsg, total, overflow = true, 0, false
		case opContinuation:
			if !inMsg {
				err = &wsProtocolError{"continuation frame without a message"}
				c.writeClose(closeProtocolError, "unexpected continuation frame")
				return
			}
		}
		total += h.length
		if msg == nil {
			msg = getBuf(int(min(total, limit, 4<<10)))
		}
		if !overflow && total > limit {
			overflow = true
		}
		if overflow {
			// Keep a prefix, enough to read the message type and id.
			keep := min(int64(oversizePrefix-len(*msg)), h.length)
			if keep > 0 {
				h2 := h
				h2.length = keep
				if msg, err = c.readPayload(h2, msg); err != nil {
					return
				}
			}
			if err = c.discard(h.length - max(keep, 0)); err != nil {
				return
			}
		} else if msg, err = c.readPayload(h, msg); err != nil {
			return
		}
		if !h.fin {
			continue
		}
		inMsg = false
		m := msg
		msg = nil
		if overflow {
			c.handleOversized(m, total)
		} else {
			c.handleMessage(m)
		}
	}
}

// oversizePrefix is how much of an oversized message is kept to find its id.
const oversizePrefix = 256

// handleMessage parses one complete message and routes it. It owns buf.
func (c *Conn) handleMessage(buf *[]byte) {
	m := c.opts.Metrics
	m.FramesIn.Add(1)
	if c.opts.OnFrame != nil {
		c.opts.OnFrame(c, true, *buf)
	}
	in := getInCall()
	in.buf = buf
	if err := ParseFrame(*buf, &in.f); err != nil {
		c.badFrame(in, err)
		in.release()
		return
	}
	switch in.f.Type {
	case TypeCall:
		c.dispatch(in)
	case TypeCallResult:
		c.deliver(in.f.ID, callResult{payload: append([]byte(nil), in.f.Payload...)})
		in.release()
	case TypeCallError:
		e := &Error{
			Code:        ErrorCode(in.f.ErrorCode),
			Description: string(in.f.ErrorDescription),
		}
		if len(in.f.ErrorDetails) > 0 && string(in.f.ErrorDetails) != "{}" {
			e.Details = append([]byte(nil), in.f.ErrorDetails...)
		}
		c.deliver(in.f.ID, callResult{err: e})
		in.release()
	}
}

// badFrame answers what can be answered and counts the rest.
func (c *Conn) badFrame(in *inCall, err error) {
	c.opts.Metrics.BadFrames.Add(1)
	var fe *FrameError
	code := FormationViolation
	if errors.As(err, &fe) {
		code = fe.Code
	}
	c.badSeen++
	if c.badSeen <= 10 || c.badSeen%1000 == 0 {
		c.logger().Warn("bad OCPP frame", "err", err, "count", c.badSeen, "frame", truncate(*in.buf, 200))
	}
	if !in.f.HasID {
		return
	}
	switch in.f.Type {
	case TypeCallResult, TypeCallError:
		// A broken answer to our outstanding call fails it now rather than
		// letting it time out. Answers are never answered.
		c.deliver(in.f.ID, callResult{err: &Error{Code: code, Description: "malformed response from peer: " + err.Error()}})
	default:
		// A CALL, or an unknown message type: answer with a CALLERROR.
		c.sendError(in.f.ID, &Error{Code: code, Description: err.Error()})
	}
}

// handleOversized answers a message that was larger than MaxMessageSize,
// using the prefix that was kept.
func (c *Conn) handleOversized(buf *[]byte, size int64) {
	c.opts.Metrics.Oversized.Add(1)
	in := getInCall()
	in.buf = buf
	defer in.release()
	_ = ParseFrame(*buf, &in.f)
	c.logger().Warn("OCPP message too large", "size", size, "limit", c.opts.MaxMessageSize)
	if !in.f.HasID {
		return
	}
	e := &Error{
		Code:        FormationViolation,
		Description: fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", size, c.opts.MaxMessageSize),
	}
	switch in.f.Type {
	case TypeCallResult, TypeCallError:
		c.deliver(in.f.ID, callResult{err: e})
	default:
		c.sendError(in.f.ID, e)
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// dispatch queues an incoming CALL for the handler goroutine, starting it if
// none runs. Calls are handled one at a time, in the order received.
func (c *Conn) dispatch(in *inCall) {
	select {
	case c.calls <- in:
	case <-c.done:
		in.release()
		return
	}
	if c.working.CompareAndSwap(false, true) {
		go c.work()
	}
}

func (c *Conn) work() {
	for {
		select {
		case in := <-c.calls:
			c.serveCall(in)
		default:
			c.working.Store(false)
			// A CALL queued between the empty check and the store would
			// otherwise wait for the next one.
			if len(c.calls) == 0 || !c.working.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// serveCall runs the handler for one CALL and sends its answer.
func (c *Conn) serveCall(in *inCall) {
	defer in.release()
	req := &in.req
	*req = Request{Conn: c, MessageID: string(in.f.ID), Action: internAction(in.f.Action), Payload: in.f.Payload}
	resp, err := c.runHandler(req)
	out := getBuf(512)
	*out = append((*out)[:0], make([]byte, maxFrameHeader)...)
	if err != nil {
		e, ok := AsError(err)
		if !ok {
			c.logger().Error("handler failed", "action", req.Action, "err", err)
			e = &Error{Code: InternalError, Description: "internal error while handling " + req.Action}
		}
		*out = AppendCallError(*out, in.f.ID, e)
		c.opts.Metrics.CallErrors.Add(1)
	} else {
		*out = AppendCallResult(*out, in.f.ID, resp)
	}
	_ = c.writeMessage(out)
}

func (c *Conn) runHandler(req *Request) (resp Payload, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.logger().Error("handler panicked", "action", req.Action, "panic", r)
			resp, err = nil, &Error{Code: InternalError, Description: "internal error while handling " + req.Action}
		}
	}()
	if c.handler == nil {
		return nil, &Error{Code: NotImplemented, Description: "no handler"}
	}
	return c.handler.ServeCall(connContext{c}, req)
}

// sendError answers message id with a CALLERROR.
func (c *Conn) sendError(id []byte, e *Error) {
	c.opts.Metrics.CallErrors.Add(1)
	out := getBuf(256)
	*out = append((*out)[:0], make([]byte, maxFrameHeader)...)
	*out = AppendCallError(*out, id, e)
	_ = c.writeMessage(out)
}

// deliver hands an answer to the outstanding Call if its id matches.
func (c *Conn) deliver(id []byte, r callResult) {
	c.pmu.Lock()
	if c.pend != "" && c.pend == string(id) {
		c.pend = ""
		c.res <- r // never blocks: one outstanding call, drained by it
		c.pmu.Unlock()
		return
	}
	c.pmu.Unlock()
	c.opts.Metrics.LateAnswers.Add(1)
	c.logger().Debug("answer to no outstanding call", "id", string(id))
}

var msgIDs atomic.Uint64

func init() {
	// Ids differ across restarts, so a charger that remembers ids it has
	// answered does not mistake a new call for an old one.
	msgIDs.Store(uint64(time.Now().UnixNano()))
}

func nextMessageID() string { return strconv.FormatUint(msgIDs.Add(1), 36) }

// Call sends a CALL and waits for its answer. Only one CALL is outstanding
// per connection; further calls wait their turn in order. Without a
// deadline in ctx, Options.CallTimeout applies. A CALLERROR from the peer is
// returned as *Error; no answer in time as ErrTimeout; a closed connection
// as ErrClosed. The returned payload belongs to the caller.
func (c *Conn) Call(ctx context.Context, action string, payload Payload) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
	}
	select {
	case c.slot <- struct{}{}:
	case <-c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, c.ctxErr(ctx, action)
	}
	defer func() { <-c.slot }()
	select {
	case <-c.done:
		return nil, ErrClosed
	default:
	}

	id := nextMessageID()
	out := getBuf(512)
	*out = append((*out)[:0], make([]byte, maxFrameHeader)...)
	*out = AppendCall(*out, id, action, payload)
	c.pmu.Lock()
	c.pend = id
	c.pmu.Unlock()
	if err := c.writeMessage(out); err != nil {
		c.abandon(id)
		return nil, err
	}
	select {
	case r := <-c.res:
		return r.payload, r.err
	case <-ctx.Done():
		if c.abandon(id) {
			return nil, c.ctxErr(ctx, action)
		}
	case <-c.done:
		if c.abandon(id) {
			return nil, ErrClosed
		}
	}
	// The answer arrived while we gave up: take it.
	r := <-c.res
	return r.payload, r.err
}

// abandon clears the outstanding call if it is still id's; false means its
// answer is already in c.res.
func (c *Conn) abandon(id string) bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.pend == id {
		c.pend = ""
		return true
	}
	return false
}

func (c *Conn) ctxErr(ctx context.Context, action string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		c.opts.Metrics.CallTimeouts.Add(1)
		return fmt.Errorf("%w: %s to %s: %w", ErrTimeout, action, c.id, ctx.Err())
	}
	return ctx.Err()
}

// writeMessage frames and writes an OCPP message that starts at
// (*b)[maxFrameHeader:]; it returns b to the pool.
func (c *Conn) writeMessage(b *[]byte) error {
	if c.opts.OnFrame != nil {
		c.opts.OnFrame(c, false, (*b)[maxFrameHeader:])
	}
	c.opts.Metrics.FramesOut.Add(1)
	err := c.writeFrame(*b, opText)
	putBuf(b)
	return err
}

// writeControl writes a ping, pong or close frame.
func (c *Conn) writeControl(op byte, payload []byte) {
	var b [maxFrameHeader + maxControl]byte
	n := copy(b[maxFrameHeader:], payload)
	_ = c.writeFrame(b[:maxFrameHeader+n], op)
}

func (c *Conn) writeClose(code int, reason string) {
	var p [maxControl]byte
	p[0], p[1] = byte(code>>8), byte(code)
	n := copy(p[2:], reason)
	c.writeControl(opClose, p[:2+n])
}

// writeFrame writes b[maxFrameHeader:] as one frame of type op.
func (c *Conn) writeFrame(b []byte, op byte) error {
	start := c.putFrameHeader(b, op)
	c.wmu.Lock()
	if c.closed.Load() {
		c.wmu.Unlock()
		return ErrClosed
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	_, err := c.nc.Write(b[start:])
	c.wmu.Unlock()
	if err != nil {
		c.shutdown(fmt.Errorf("ocpp: write: %w", err))
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return nil
}

// keepalive runs on the connection's timer: it pings a silent peer and
// closes one that stayed silent after the ping.
func (c *Conn) keepalive() {
	if c.closed.Load() {
		return
	}
	now := time.Now().UnixNano()
	last := c.lastRead.Load()
	if c.pingSent != 0 {
		if last < c.pingSent {
			c.opts.Metrics.PingTimeouts.Add(1)
			c.logger().Info("closing silent connection", "silent", time.Duration(now-last).String())
			c.closeWith(closeGoingAway, "ping timeout", errPingTimeout)
			return
		}
		c.pingSent = 0
	}
	interval := int64(c.opts.PingInterval)
	if idle := now - last; idle < interval {
		c.timer.Reset(time.Duration(interval - idle))
		return
	}
	c.pingSent = now
	c.writeControl(opPing, nil)
	c.timer.Reset(c.opts.PongWait)
}
