package feeds

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MaxReadingW bounds a site meter reading: ±10 MW. Beyond is a unit
// mistake or garbage.
const MaxReadingW = 10e6

const maxReadingBytes = 64 << 10 // of a reading's payload

// ParseReading reads a site meter's power in W from an MQTT payload: the
// number at field, a dot path into a JSON object ("power",
// "grid.power_w"; a number picks an array element), or the bare JSON
// number when field is "". The value may be a number or a numeric string.
// negate flips its sign, for a meter that reports import as positive.
func ParseReading(payload []byte, field string, negate bool) (float64, error) {
	if len(payload) > maxReadingBytes {
		return 0, fmt.Errorf("payload of %d bytes, over the limit of %d", len(payload), maxReadingBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return 0, errors.New("empty payload")
		}
		return 0, fmt.Errorf("payload is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, errors.New("payload is not JSON: data after the value")
	}
	field = strings.TrimSpace(field)
	name := "payload"
	if field != "" {
		name = field
		var at string // the path so far, for errors
		for key := range strings.SplitSeq(field, ".") {
			if key == "" {
				return 0, fmt.Errorf("field %q: empty name in the path", field)
			}
			switch x := v.(type) {
			case map[string]any:
				nv, ok := x[key]
				if !ok {
					return 0, fmt.Errorf("%s: not found", field)
				}
				v = nv
			case []any:
				i, err := strconv.Atoi(key)
				if err != nil || i < 0 || i >= len(x) {
					return 0, fmt.Errorf("%s: no element %q in an array of %d", field, key, len(x))
				}
				v = x[i]
			default:
				if at == "" {
					return 0, fmt.Errorf("%s: payload is %s, not an object", field, jsonKind(v))
				}
				return 0, fmt.Errorf("%s: %s is %s, not an object", field, at, jsonKind(v))
			}
			if at != "" {
				at += "."
			}
			at += key
		}
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = strings.TrimSpace(x)
	case map[string]any:
		if field == "" {
			return 0, errors.New("payload is a JSON object: configure the field to read")
		}
		return 0, fmt.Errorf("%s: want a number, got an object", name)
	default:
		return 0, fmt.Errorf("%s: want a number, got %s", name, jsonKind(v))
	}
	w, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s: not a number: %q", name, clip(s))
	}
	if math.IsNaN(w) || math.IsInf(w, 0) {
		return 0, fmt.Errorf("%s: not finite: %q", name, clip(s))
	}
	if math.Abs(w) > MaxReadingW {
		return 0, fmt.Errorf("%s: %g W is beyond ±10 MW", name, w)
	}
	if negate {
		w = -w
	}
	if w == 0 {
		w = 0 // no -0
	}
	return w, nil
}

// SiteMeterConfig says where a site meter publishes.
type SiteMeterConfig struct {
	Broker   string // tcp://127.0.0.1:1883, mqtt://, ssl:// (also tls://, mqtts://, ws://, wss://); no scheme = tcp
	Topic    string
	Field    string // dot path to the value in the JSON payload; "" = the payload is the number
	Negate   bool   // the meter reports import as positive
	ClientID string // "" = wattson-<random>
	Username string
	Password string
}

// SiteMeter follows a site meter over MQTT and hands its readings on.
type SiteMeter struct {
	cfg   SiteMeterConfig
	apply func(surplusW float64, at time.Time)
	log   *slog.Logger

	mu       sync.Mutex
	lastWarn time.Time // last invalid reading logged
	unlogged int       // invalid readings since, not logged
}

// NewSiteMeter makes a SiteMeter that calls apply with each valid
// reading: the surplus in W (positive = exporting) and when it arrived.
// apply is called from the MQTT client's goroutine, one reading at a time,
// and should return quickly.
func NewSiteMeter(cfg SiteMeterConfig, apply func(surplusW float64, at time.Time), logger *slog.Logger) *SiteMeter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SiteMeter{cfg: cfg, apply: apply, log: logger}
}

// Timing of the MQTT connection.
const (
	mqttConnectTimeout = 10 * time.Second
	mqttMaxBackoff     = 30 * time.Second
	mqttSubTimeout     = 10 * time.Second
	mqttQuiesce        = 250 // ms to finish work on disconnect
)

// Run connects to the broker and subscribes, and keeps at it until ctx
// ends: it retries a failed connection with a growing delay (up to 30 s),
// reconnects when the connection drops and subscribes again. It logs an
// invalid reading at most once a minute. It returns an error only for a
// configuration that cannot work, and nil once ctx ends and it has
// disconnected.
func (m *SiteMeter) Run(ctx context.Context) error {
	broker, err := brokerURL(m.cfg.Broker)
	if err != nil {
		return fmt.Errorf("site meter: broker %q: %w", m.cfg.Broker, err)
	}
	topic := m.cfg.Topic
	if topic == "" || strings.ContainsRune(topic, 0) {
		return fmt.Errorf("site meter: bad topic %q", topic)
	}
	if strings.Contains(m.cfg.Field, "..") || strings.HasPrefix(m.cfg.Field, ".") || strings.HasSuffix(m.cfg.Field, ".") {
		return fmt.Errorf("site meter: bad field %q", m.cfg.Field)
	}
	log := m.log.With("broker", redact(broker), "topic", topic)

	connected := make(chan struct{}, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(broker).
		SetClientID(m.clientID()).
		SetUsername(m.cfg.Username).
		SetPassword(m.cfg.Password).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetConnectTimeout(mqttConnectTimeout).
		SetMaxReconnectInterval(mqttMaxBackoff).
		SetKeepAlive(30 * time.Second).
		SetOnConnectHandler(func(mqtt.Client) {
			select {
			case connected <- struct{}{}:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Warn("site meter: connection lost, reconnecting", "err", err)
		})
	client := mqtt.NewClient(opts)

	// The first connection; later ones the client makes itself.
	backoff := time.Second
	for {
		tok := client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			client.Disconnect(0) // ends the connection once the attempt is over
			t := time.NewTimer(time.Second)
			defer t.Stop()
			select {
			case <-tok.Done():
			case <-t.C:
			}
			return nil
		}
		err := tok.Error()
		if err == nil {
			break
		}
		log.Warn("site meter: cannot connect", "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, mqttMaxBackoff)
	}
	defer client.Disconnect(mqttQuiesce)

	var resub <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-connected:
		case <-resub:
		}
		resub = nil
		if err := m.subscribe(ctx, client, topic); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Error("site meter: cannot subscribe", "err", err)
			if client.IsConnectionOpen() {
				resub = time.After(mqttMaxBackoff)
			}
			continue // else a reconnection will tell
		}
		log.Info("site meter: subscribed")
	}
}

func (m *SiteMeter) subscribe(ctx context.Context, client mqtt.Client, topic string) error {
	tok := client.Subscribe(topic, 0, m.handle)
	timer := time.NewTimer(mqttSubTimeout)
	defer timer.Stop()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errors.New("no answer from the broker")
	}
	if err := tok.Error(); err != nil {
		return err
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		if qos, ok := st.Result()[topic]; ok && qos == 0x80 {
			return errors.New("the broker refused the subscription")
		}
	}
	return nil
}

// handle takes one message.
func (m *SiteMeter) handle(_ mqtt.Client, msg mqtt.Message) {
	if msg.Retained() {
		m.log.Debug("site meter: retained reading skipped, of unknown age", "topic", msg.Topic())
		return
	}
	at := time.Now()
	w, err := ParseReading(msg.Payload(), m.cfg.Field, m.cfg.Negate)
	if err != nil {
		m.mu.Lock()
		if !m.lastWarn.IsZero() && at.Sub(m.lastWarn) < time.Minute {
			m.unlogged++
			m.mu.Unlock()
			return
		}
		n := m.unlogged
		m.lastWarn, m.unlogged = at, 0
		m.mu.Unlock()
		m.log.Warn("site meter: invalid reading skipped", "topic", msg.Topic(), "err", err,
			"payload", clip(strings.ToValidUTF8(string(msg.Payload()), "?")), "unlogged_since", n)
		return
	}
	if m.apply != nil {
		m.apply(w, at)
	}
}

func (m *SiteMeter) clientID() string {
	if m.cfg.ClientID != "" {
		return m.cfg.ClientID
	}
	var b [4]byte
	rand.Read(b[:])
	return "wattson-" + hex.EncodeToString(b[:])
}

// brokerURL checks a broker address and adds the default port.
func brokerURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty")
	}
	if !strings.Contains(s, "://") {
		s = "tcp://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", unwrapURL(err)
	}
	if u.Hostname() == "" {
		return "", errors.New("no host")
	}
	port := ""
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
		port = "1883"
	case "ssl", "tls", "mqtts", "tcps", "mqtt+ssl":
		port = "8883"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("unsupported scheme %q (want tcp, mqtt, ssl, tls, mqtts, ws or wss)", u.Scheme)
	}
	if port != "" && u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u.String(), nil
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
