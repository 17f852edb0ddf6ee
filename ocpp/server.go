package ocpp

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Subprotocol pairs a websocket subprotocol name, such as "ocpp1.6", with
// the handler for the CALLs of connections that speak it. Adding
// "ocpp2.0.1" later is one more entry.
type Subprotocol struct {
	Name    string
	Handler Handler
}

// Server accepts OCPP-J connections at /…/{chargerId} and keeps one
// connection per charger id. It is an http.Handler; mount it under the
// OCPP path. Set its fields before serving; do not change them after.
type Server struct {
	// Subprotocols in order of preference. At least one is required.
	Subprotocols []Subprotocol
	// RequireSubprotocol refuses chargers that offer no subprotocol.
	// Otherwise they get the first one: many real chargers omit the header.
	RequireSubprotocol bool
	// Options for every connection.
	Options Options
	// MaxConnections refuses upgrades (503) beyond this many open
	// connections; 0 means no limit.
	MaxConnections int
	// Authenticate, if set, is asked before the upgrade. An error refuses the
	// charger with 401 (the error text is logged, not sent).
	Authenticate func(r *http.Request, chargerID string) error
	// OnConnect is called for each new connection before its first frame is
	// read.
	OnConnect func(c *Conn)
	// OnDisconnect is called once when a connection has closed, with the
	// reason. ErrReplaced means a newer connection of the same id took over.
	OnDisconnect func(c *Conn, err error)
	// BaseContext, if set, gives the context whose values connections carry.
	BaseContext context.Context

	once   sync.Once
	opts   *Options
	seed   maphash.Seed
	shards [64]connShard
}

type connShard struct {
	mu sync.Mutex
	m  map[string]*Conn
}

func (s *Server) init() {
	s.once.Do(func() {
		s.opts = s.Options.withDefaults()
		s.seed = maphash.MakeSeed()
		for i := range s.shards {
			s.shards[i].m = make(map[string]*Conn)
		}
	})
}

func (s *Server) shard(id string) *connShard {
	return &s.shards[maphash.String(s.seed, id)%uint64(len(s.shards))]
}

// Metrics returns the server's counters.
func (s *Server) Metrics() *Metrics {
	s.init()
	return s.opts.Metrics
}

// Conn returns the open connection of a charger, or nil.
func (s *Server) Conn(id string) *Conn {
	s.init()
	sh := s.shard(id)
	sh.mu.Lock()
	c := sh.m[id]
	sh.mu.Unlock()
	return c
}

// Len returns the number of registered connections.
func (s *Server) Len() int {
	s.init()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Range calls fn for each open connection until it returns false.
func (s *Server) Range(fn func(*Conn) bool) {
	s.init()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		conns := make([]*Conn, 0, len(sh.m))
		for _, c := range sh.m {
			conns = append(conns, c)
		}
		sh.mu.Unlock()
		for _, c := range conns {
			if !fn(c) {
				return
			}
		}
	}
}

// CloseAll closes every connection with "going away", for shutdown.
func (s *Server) CloseAll() {
	s.Range(func(c *Conn) bool {
		c.closeWith(closeGoingAway, "server shutting down", ErrClosed)
		return true
	})
}

// MaxChargerIDLength is the longest charger id accepted, in characters (the
// charge point identity of OCPP is at most 48).
const MaxChargerIDLength = 48

// ChargerIDFromPath returns the URL-decoded last segment of an escaped URL
// path, checked to be a usable charger id.
func ChargerIDFromPath(escapedPath string) (string, error) {
	seg := escapedPath[strings.LastIndexByte(escapedPath, '/')+1:]
	id, err := url.PathUnescape(seg)
	if err != nil {
		return "", fmt.Errorf("charger id %q is not properly URL-encoded", seg)
	}
	return id, ValidateChargerID(id)
}

// ValidateChargerID checks a charger id: 1 to 48 characters of valid UTF-8,
// no control characters, no whitespace and no '/'.
func ValidateChargerID(id string) error {
	switch {
	case id == "":
		return errors.New("charger id is missing: connect to /ocpp/{chargerId}")
	case !utf8.ValidString(id):
		return errors.New("charger id is not valid UTF-8")
	case utf8.RuneCountInString(id) > MaxChargerIDLength:
		return fmt.Errorf("charger id is longer than %d characters", MaxChargerIDLength)
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '/' {
			return fmt.Errorf("charger id %q contains %q, which is not allowed", id, r)
		}
	}
	return nil
}

// selectSubprotocol picks the first of our subprotocols that the client
// offered.
func (s *Server) selectSubprotocol(r *http.Request) (*Subprotocol, error) {
	offered := r.Header.Values("Sec-WebSocket-Protocol")
	if len(offered) == 0 {
		if s.RequireSubprotocol {
			return nil, fmt.Errorf("no subprotocol offered; this server speaks %s", s.protocolNames())
		}
		return &s.Subprotocols[0], nil
	}
	for i := range s.Subprotocols {
		p := &s.Subprotocols[i]
		for _, h := range offered {
			for _, o := range strings.Split(h, ",") {
				if strings.TrimSpace(o) == p.Name {
					return p, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("none of the offered subprotocols %q is supported; this server speaks %s",
		strings.Join(offered, ", "), s.protocolNames())
}

func (s *Server) protocolNames() string {
	names := make([]string, len(s.Subprotocols))
	for i, p := range s.Subprotocols {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// refuse answers an upgrade request with an error status.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.opts.Metrics.Refused.Add(1)
	s.opts.Logger.Info("refused OCPP connection", "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "reason", msg)
	http.Error(w, msg, status)
}

// ServeHTTP upgrades a charger's request to an OCPP-J connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	if len(s.Subprotocols) == 0 {
		s.refuse(w, r, http.StatusInternalServerError, "server has no OCPP subprotocol configured")
		return
	}
	id, err := ChargerIDFromPath(r.URL.EscapedPath())
	if err != nil {
		s.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Upgrade", "websocket")
		s.refuse(w, r, http.StatusUpgradeRequired, "this is an OCPP-J websocket endpoint: connect with a websocket client")
		return
	}
	proto, err := s.selectSubprotocol(r)
	if err != nil {
		s.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if s.MaxConnections > 0 && s.opts.Metrics.Open.Load() >= int64(s.MaxConnections) {
		w.Header().Set("Retry-After", strconv.Itoa(30))
		s.refuse(w, r, http.StatusServiceUnavailable, "server is at its connection limit, retry later")
		return
	}
	if s.Authenticate != nil {
		if err := s.Authenticate(r, id); err != nil {
			s.opts.Logger.Info("charger failed authentication", "charger", id, "err", err)
			w.Header().Set("WWW-Authenticate", `Basic realm="OCPP", charset="UTF-8"`)
			s.refuse(w, r, http.StatusUnauthorized, "authentication failed")
			return
		}
	}
	up := ws.HTTPUpgrader{Timeout: s.opts.WriteTimeout}
	if len(r.Header.Values("Sec-WebSocket-Protocol")) > 0 {
		name := proto.Name
		up.Protocol = func(p string) bool { return p == name }
	}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		s.opts.Metrics.Refused.Add(1)
		s.opts.Logger.Info("websocket upgrade failed", "charger", id, "remote", r.RemoteAddr, "err", err)
		if nc != nil {
			_ = nc.Close()
		}
		return
	}
	c := newConn(nc, id, proto.Name, false, proto.Handler, s.opts, s.BaseContext)
	if rw != nil && rw.Reader.Buffered() > 0 {
		c.pre, _ = rw.Reader.Peek(rw.Reader.Buffered())
		c.pre = append([]byte(nil), c.pre...)
	}
	c.onClose = s.unregister
	s.opts.Metrics.Accepted.Add(1)
	s.opts.Metrics.Open.Add(1)
	s.register(c)
	if s.OnConnect != nil {
		s.OnConnect(c)
	}
	// The reader runs on a goroutine of its own so that this one, with the
	// HTTP server's buffers on it, can end.
	c.start()
}

// register makes c the connection of its id, replacing an older one at
// once: that one may be half-open and would otherwise block the charger.
func (s *Server) register(c *Conn) {
	sh := s.shard(c.id)
	sh.mu.Lock()
	old := sh.m[c.id]
	sh.m[c.id] = c
	sh.mu.Unlock()
	if old != nil {
		s.opts.Metrics.Replaced.Add(1)
		s.opts.Logger.Info("charger reconnected, replacing its old connection", "charger", c.id)
		go old.closeWith(closePolicy, "replaced by a new connection", ErrReplaced)
	}
}

func (s *Server) unregister(c *Conn, err error) {
	sh := s.shard(c.id)
	sh.mu.Lock()
	if sh.m[c.id] == c {
		delete(sh.m, c.id)
	}
	sh.mu.Unlock()
	if s.OnDisconnect != nil {
		s.OnDisconnect(c, err)
	}
}
