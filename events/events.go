// Package events is the in-process bus for live events: connections,
// status changes, transactions, meter values. The API streams them to
// dashboards and integrations; a cluster will bridge the bus over NATS.
//
// Publishing never blocks: a subscriber that does not keep up loses events
// (counted in Dropped) rather than slowing the chargers down.
package events

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// Event types.
const (
	ChargerConnected    = "charger.connected"
	ChargerDisconnected = "charger.disconnected"
	ChargerBooted       = "charger.booted"
	ChargerUpdated      = "charger.updated"
	ConnectorStatus     = "connector.status"
	TransactionStarted  = "transaction.started"
	TransactionStopped  = "transaction.stopped"
	MeterValues         = "meter.values"
	ChargerNotification = "charger.notification"
)

// Event is one thing that happened.
type Event struct {
	Type      string          `json:"type"`
	ChargerID string          `json:"chargerId,omitempty"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// Bus fans events out to subscribers. The zero value is ready to use.
type Bus struct {
	mu      sync.RWMutex
	subs    map[*Subscription]struct{}
	Dropped atomic.Uint64
}

// Subscription receives events on C until Close.
type Subscription struct {
	C         <-chan Event
	c         chan Event
	chargerID string
	bus       *Bus
	once      sync.Once
}

// Subscribe returns a subscription to every event, or to one charger's if
// chargerID is not empty. buffer is how many events may wait for the reader.
func (b *Bus) Subscribe(chargerID string, buffer int) *Subscription {
	if buffer <= 0 {
		buffer = 256
	}
	c := make(chan Event, buffer)
	s := &Subscription{C: c, c: c, chargerID: chargerID, bus: b}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[*Subscription]struct{})
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		close(s.c)
		s.bus.mu.Unlock()
	})
}

// Publish sends e to every matching subscriber without blocking. Data that
// is not json.RawMessage is marshalled once.
func (b *Bus) Publish(typ, chargerID string, data any) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.subs) == 0 {
		return
	}
	e := Event{Type: typ, ChargerID: chargerID, Time: time.Now().UTC()}
	switch d := data.(type) {
	case nil:
	case json.RawMessage:
		e.Data = d
	default:
		raw, err := json.Marshal(d)
		if err != nil {
			return
		}
		e.Data = raw
	}
	for s := range b.subs {
		if s.chargerID != "" && s.chargerID != chargerID {
			continue
		}
		select {
		case s.c <- e:
		default:
			b.Dropped.Add(1)
		}
	}
}
