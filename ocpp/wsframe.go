package ocpp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// This file holds the WebSocket (RFC 6455) frame layer. It is our own
// because what it reads into decides the memory of an idle connection: the
// header goes into a few bytes inside Conn, the payload into a pooled buffer
// that is returned once the message is handled, so a waiting connection
// holds no buffer at all. The handshake is done by github.com/gobwas/ws.

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	maxFrameHeader = 14 // 2 + 8 bytes of length + 4 bytes of mask
	maxControl     = 125
)

// Close status codes we send.
const (
	closeNormal        = 1000
	closeGoingAway     = 1001
	closeProtocolError = 1002
	closePolicy        = 1008
	closeTooBig        = 1009
)

// wsProtocolError is a violation of RFC 6455 that ends the connection.
type wsProtocolError struct{ msg string }

func (e *wsProtocolError) Error() string { return "websocket: " + e.msg }

var errPeerClosed = errors.New("websocket: peer sent close")

type frameHeader struct {
	fin    bool
	op     byte
	masked bool
	mask   [4]byte
	length int64
}

// readFrameHeader reads one frame header straight from the socket into
// c.hdr. It is called only by the read loop.
func (c *Conn) readFrameHeader() (h frameHeader, err error) {
	b := c.hdr[:2]
	if err = c.readFull(b); err != nil {
		return h, err
	}
	if b[0]&0x70 != 0 {
		return h, &wsProtocolError{"reserved bits set without an extension"}
	}
	h.fin = b[0]&0x80 != 0
	h.op = b[0] & 0x0F
	h.masked = b[1]&0x80 != 0
	n := int64(b[1] & 0x7F)
	extra := 0
	switch n {
	case 126:
		extra = 2
	case 127:
		extra = 8
	}
	if h.masked {
		extra += 4
	}
	if extra > 0 {
		b = c.hdr[2 : 2+extra]
		if err = c.readFull(b); err != nil {
			return h, err
		}
		switch n {
		case 126:
			n = int64(binary.BigEndian.Uint16(b))
			b = b[2:]
		case 127:
			u := binary.BigEndian.Uint64(b)
			if u>>63 != 0 {
				return h, &wsProtocolError{"frame length has its top bit set"}
			}
			n = int64(u)
			b = b[8:]
		}
		if h.masked {
			copy(h.mask[:], b)
		}
	}
	h.length = n
	switch h.op {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !h.fin || n > maxControl {
			return h, &wsProtocolError{"fragmented or oversized control frame"}
		}
	default:
		return h, &wsProtocolError{fmt.Sprintf("unknown opcode %#x", h.op)}
	}
	// Clients mask, servers do not (RFC 6455 section 5.1).
	if h.masked == c.client {
		if c.client {
			return h, &wsProtocolError{"server sent a masked frame"}
		}
		return h, &wsProtocolError{"client sent an unmasked frame"}
	}
	return h, nil
}

// readFull reads len(b) bytes, first from bytes that arrived with the
// handshake, then from the socket.
func (c *Conn) readFull(b []byte) error {
	for len(b) > 0 {
		if len(c.pre) > 0 {
			n := copy(b, c.pre)
			c.pre = c.pre[n:]
			b = b[n:]
			continue
		}
		n, err := c.nc.Read(b)
		b = b[n:]
		if err != nil {
			if len(b) == 0 {
				return nil
			}
			return err
		}
	}
	return nil
}

// readPayload appends h.length payload bytes to *buf, unmasking them.
func (c *Conn) readPayload(h frameHeader, buf *[]byte) (*[]byte, error) {
	n := int(h.length)
	buf = grow(buf, n)
	start := len(*buf)
	*buf = (*buf)[:start+n]
	if err := c.readFull((*buf)[start:]); err != nil {
		return buf, err
	}
	if h.masked {
		ws.Cipher((*buf)[start:], h.mask, 0)
	}
	return buf, nil
}

// discard skips n payload bytes.
func (c *Conn) discard(n int64) error {
	var scratch [512]byte
	for n > 0 {
		k := int64(len(scratch))
		if n < k {
			k = n
		}
		if err := c.readFull(scratch[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// putFrameHeader writes the header for a payload of length n that starts at
// b[maxFrameHeader:], ending right before it, masks the payload when we are
// the client, and returns the start of the frame.
func (c *Conn) putFrameHeader(b []byte, op byte) int {
	n := len(b) - maxFrameHeader
	hlen := 2
	switch {
	case n > 0xFFFF:
		hlen += 8
	case n > 125:
		hlen += 2
	}
	if c.client {
		hlen += 4
	}
	start := maxFrameHeader - hlen
	h := b[start:maxFrameHeader]
	h[0] = 0x80 | op
	i := 2
	switch {
	case n > 0xFFFF:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
		i += 8
	case n > 125:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
		i += 2
	default:
		h[1] = byte(n)
	}
	if c.client {
		h[1] |= 0x80
		mask := ws.NewMask()
		copy(h[i:], mask[:])
		ws.Cipher(b[maxFrameHeader:], mask, 0)
	}
	return start
}
