package ocpp

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Options configure connections on either end. The zero value is usable:
// defaults are filled in for fields left zero.
type Options struct {
	// MaxMessageSize is the largest message accepted from the peer, in bytes.
	// A larger CALL is answered with a CALLERROR and the connection goes on.
	MaxMessageSize int
	// PingInterval is how long a connection may be silent before we send a
	// websocket ping. Negative disables keepalive.
	PingInterval time.Duration
	// PongWait is how long we wait for any frame after a ping before the
	// peer counts as dead and the connection is closed.
	PongWait time.Duration
	// WriteTimeout bounds each frame write, so a stuck peer cannot hold a
	// writer forever.
	WriteTimeout time.Duration
	// CallTimeout applies to Conn.Call when its context has no deadline.
	CallTimeout time.Duration
	// Logger receives connection events. Nil logs nothing.
	Logger *slog.Logger
	// Metrics, if set, is where counters go; several servers may share one.
	Metrics *Metrics
	// OnFrame, if set, sees every OCPP frame received (in=true) or sent, for
	// a message log. The bytes are valid only during the call.
	OnFrame func(c *Conn, in bool, frame []byte)
}

// Defaults for Options.
const (
	DefaultMaxMessageSize = 128 << 10
	DefaultPingInterval   = 30 * time.Second
	DefaultPongWait       = 15 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultCallTimeout    = 30 * time.Second
)

// withDefaults returns a copy of o with zero fields filled in.
func (o Options) withDefaults() *Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongWait <= 0 {
		o.PongWait = DefaultPongWait
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = new(Metrics)
	}
	return &o
}

// Metrics counts what the OCPP layer sees. All fields are safe for
// concurrent use; read them with Load.
type Metrics struct {
	Open         atomic.Int64  // connections open now
	Accepted     atomic.Uint64 // connections accepted (server) or dialled (client)
	Refused      atomic.Uint64 // upgrades refused: bad id, subprotocol, auth, limit
	Replaced     atomic.Uint64 // connections closed because the same id connected again
	FramesIn     atomic.Uint64
	FramesOut    atomic.Uint64
	BadFrames    atomic.Uint64 // frames that could not be parsed or used
	Oversized    atomic.Uint64 // messages over MaxMessageSize
	CallErrors   atomic.Uint64 // CALLERRORs we sent
	PingTimeouts atomic.Uint64 // peers closed for not answering a ping
	CallTimeouts atomic.Uint64 // our CALLs that got no answer in time
	LateAnswers  atomic.Uint64 // answers to CALLs that had already timed out
}
