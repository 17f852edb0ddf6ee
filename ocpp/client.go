package ocpp

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gobwas/ws"
)

// DialOptions configure Dial.
type DialOptions struct {
	// Subprotocols in order of preference; the server picks one.
	Subprotocols []Subprotocol
	// Header is added to the upgrade request (e.g. Authorization for HTTP
	// Basic authentication, security profiles 1 and 2).
	Header http.Header
	// TLSConfig is used for wss:// URLs.
	TLSConfig *tls.Config
	// HandshakeTimeout bounds connecting and upgrading; default 30 s.
	HandshakeTimeout time.Duration
	// LocalAddr, if set, is the source IP address to dial from (e.g.
	// 127.0.0.2): a load generator spreads connections over several source
	// addresses to get past one address's ephemeral ports.
	LocalAddr string
	// Options for the connection.
	Options Options
	// OnClose, if set, is called once when the connection has closed.
	OnClose func(c *Conn, err error)
	// BaseContext, if set, gives the context whose values the connection
	// carries.
	BaseContext context.Context
}

// Dial connects to an OCPP-J endpoint such as ws://host/ocpp/CP1 as the
// charger whose id is the URL's last path segment, and starts serving CALLs
// from the server with the negotiated subprotocol's handler.
func Dial(ctx context.Context, rawURL string, o DialOptions) (*Conn, error) {
	if len(o.Subprotocols) == 0 {
		return nil, fmt.Errorf("ocpp: dial %s: no subprotocol given", rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("ocpp: dial: %w", err)
	}
	id, err := ChargerIDFromPath(u.EscapedPath())
	if err != nil {
		return nil, fmt.Errorf("ocpp: dial %s: %w", rawURL, err)
	}
	names := make([]string, len(o.Subprotocols))
	for i, p := range o.Subprotocols {
		names[i] = p.Name
	}
	timeout := o.HandshakeTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := ws.Dialer{Protocols: names, Timeout: timeout, TLSConfig: o.TLSConfig}
	if len(o.Header) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(o.Header)
	}
	if o.LocalAddr != "" {
		ip := net.ParseIP(o.LocalAddr)
		if ip == nil {
			return nil, fmt.Errorf("ocpp: dial %s: local address %q is not an IP address", rawURL, o.LocalAddr)
		}
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
		d.NetDial = nd.DialContext
	}
	var status int
	d.OnStatusError = func(s int, _ []byte, _ io.Reader) { status = s }
	nc, br, hs, err := d.Dial(ctx, rawURL)
	if err != nil {
		if status != 0 {
			return nil, fmt.Errorf("ocpp: dial %s: server answered HTTP %d: %w", rawURL, status, err)
		}
		return nil, fmt.Errorf("ocpp: dial %s: %w", rawURL, err)
	}
	proto := &o.Subprotocols[0]
	for i := range o.Subprotocols {
		if o.Subprotocols[i].Name == hs.Protocol {
			proto = &o.Subprotocols[i]
		}
	}
	opts := o.Options.withDefaults()
	c := newConn(nc, id, proto.Name, true, proto.Handler, opts, o.BaseContext)
	if br != nil {
		if n := br.Buffered(); n > 0 {
			p, _ := br.Peek(n)
			c.pre = append([]byte(nil), p...)
		}
		ws.PutReader(br)
	}
	c.onClose = o.OnClose
	opts.Metrics.Accepted.Add(1)
	opts.Metrics.Open.Add(1)
	c.start()
	return c, nil
}
