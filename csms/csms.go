// Package csms is the central system: it answers the CALLs chargers send
// and keeps what they report. For now it holds the connected chargers in
// memory and answers BootNotification, Heartbeat and StatusNotification;
// persistence and the other actions follow.
package csms

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

// Charger is what the central system knows of one connected charger.
type Charger struct {
	ID          string            `json:"id"`
	Vendor      string            `json:"vendor,omitempty"`
	Model       string            `json:"model,omitempty"`
	Firmware    string            `json:"firmware,omitempty"`
	ConnectedAt time.Time         `json:"connectedAt"`
	LastSeen    time.Time         `json:"lastSeen"`
	Connectors  map[int]Connector `json:"connectors,omitempty"`
}

// Connector is the last reported state of one connector (0 is the charger
// itself).
type Connector struct {
	Status    string    `json:"status"`
	ErrorCode string    `json:"errorCode"`
	Info      string    `json:"info,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Service answers chargers. Create it with New.
type Service struct {
	log               *slog.Logger
	now               func() time.Time
	heartbeatInterval time.Duration

	mu       sync.Mutex
	chargers map[string]*Charger
}

// Config configures a Service.
type Config struct {
	Logger            *slog.Logger
	HeartbeatInterval time.Duration
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{log: cfg.Logger, now: cfg.Now, heartbeatInterval: cfg.HeartbeatInterval, chargers: make(map[string]*Charger)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.heartbeatInterval <= 0 {
		s.heartbeatInterval = 5 * time.Minute
	}
	return s
}

// Router returns the OCPP 1.6 handler of the service. Actions not yet
// handled are answered NotSupported by the router.
func (s *Service) Router() *v16.Router {
	r := &v16.Router{}
	r.HandleBootNotification(s.bootNotification)
	r.HandleHeartbeat(s.heartbeat)
	r.HandleStatusNotification(s.statusNotification)
	return r
}

// Connected records a new connection.
func (s *Service) Connected(c *ocpp.Conn) {
	now := s.now()
	s.mu.Lock()
	s.chargers[c.ID()] = &Charger{ID: c.ID(), ConnectedAt: now, LastSeen: now}
	s.mu.Unlock()
	s.log.Info("charger connected", "charger", c.ID(), "remote", c.RemoteAddr().String(), "subprotocol", c.Subprotocol())
}

// Disconnected forgets a connection, unless a newer one of the same charger
// replaced it.
func (s *Service) Disconnected(c *ocpp.Conn, err error) {
	if err == ocpp.ErrReplaced {
		return
	}
	s.mu.Lock()
	delete(s.chargers, c.ID())
	s.mu.Unlock()
	s.log.Info("charger disconnected", "charger", c.ID(), "reason", err)
}

// Chargers returns the connected chargers sorted by id.
func (s *Service) Chargers() []Charger {
	s.mu.Lock()
	out := make([]Charger, 0, len(s.chargers))
	for _, ch := range s.chargers {
		cp := *ch
		cp.Connectors = make(map[int]Connector, len(ch.Connectors))
		for k, v := range ch.Connectors {
			cp.Connectors[k] = v
		}
		out = append(out, cp)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// touch updates a charger under the lock.
func (s *Service) touch(id string, fn func(*Charger)) {
	now := s.now()
	s.mu.Lock()
	ch := s.chargers[id]
	if ch == nil {
		ch = &Charger{ID: id, ConnectedAt: now}
		s.chargers[id] = ch
	}
	ch.LastSeen = now
	if fn != nil {
		fn(ch)
	}
	s.mu.Unlock()
}

func (s *Service) bootNotification(ctx context.Context, c *ocpp.Conn, req *v16.BootNotificationRequest) (*v16.BootNotificationResponse, error) {
	s.touch(c.ID(), func(ch *Charger) {
		ch.Vendor, ch.Model, ch.Firmware = req.ChargePointVendor, req.ChargePointModel, req.FirmwareVersion
	})
	s.log.Info("charger booted", "charger", c.ID(), "vendor", req.ChargePointVendor, "model", req.ChargePointModel, "firmware", req.FirmwareVersion)
	return &v16.BootNotificationResponse{
		Status:      v16.RegistrationStatusAccepted,
		CurrentTime: s.now().UTC(),
		Interval:    int(s.heartbeatInterval / time.Second),
	}, nil
}

func (s *Service) heartbeat(ctx context.Context, c *ocpp.Conn, req *v16.HeartbeatRequest) (*v16.HeartbeatResponse, error) {
	s.touch(c.ID(), nil)
	return &v16.HeartbeatResponse{CurrentTime: s.now().UTC()}, nil
}

func (s *Service) statusNotification(ctx context.Context, c *ocpp.Conn, req *v16.StatusNotificationRequest) (*v16.StatusNotificationResponse, error) {
	s.touch(c.ID(), func(ch *Charger) {
		if ch.Connectors == nil {
			ch.Connectors = make(map[int]Connector)
		}
		ch.Connectors[req.ConnectorID] = Connector{
			Status: string(req.Status), ErrorCode: string(req.ErrorCode), Info: req.Info, UpdatedAt: s.now(),
		}
	})
	s.log.Info("status", "charger", c.ID(), "connector", req.ConnectorID, "status", req.Status, "errorCode", req.ErrorCode)
	return &v16.StatusNotificationResponse{}, nil
}
