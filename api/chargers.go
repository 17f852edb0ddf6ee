package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/store"
)

// ChargerJSON is a charger as the API shows it. The password hash is never
// shown; HasPassword says whether one is set.
type ChargerJSON struct {
	ID                    string               `json:"id"`
	Registration          string               `json:"registration"`
	Vendor                string               `json:"vendor"`
	Model                 string               `json:"model"`
	SerialNumber          string               `json:"serialNumber"`
	ChargeBoxSerialNumber string               `json:"chargeBoxSerialNumber"`
	FirmwareVersion       string               `json:"firmwareVersion"`
	ICCID                 string               `json:"iccid"`
	IMSI                  string               `json:"imsi"`
	MeterType             string               `json:"meterType"`
	MeterSerialNumber     string               `json:"meterSerialNumber"`
	HasPassword           bool                 `json:"hasPassword"`
	LastBootAt            *time.Time           `json:"lastBootAt"`
	LastSeenAt            *time.Time           `json:"lastSeenAt"`
	CreatedAt             time.Time            `json:"createdAt"`
	UpdatedAt             time.Time            `json:"updatedAt"`
	Connected             bool                 `json:"connected"`
	Connectors            []csms.ConnectorJSON `json:"connectors"`
}

func (a *API) chargerJSON(r *http.Request, c store.Charger) (ChargerJSON, error) {
	conns, err := a.st.ListConnectors(r.Context(), c.ID)
	if err != nil {
		return ChargerJSON{}, err
	}
	return a.chargerWith(c, conns), nil
}

// chargerWith is a charger as the API shows it, with its connectors.
func (a *API) chargerWith(c store.Charger, conns []store.Connector) ChargerJSON {
	return ChargerJSON{
		ID: c.ID, Registration: string(c.Registration), Vendor: c.Vendor, Model: c.Model,
		SerialNumber: c.SerialNumber, ChargeBoxSerialNumber: c.ChargeBoxSerial, FirmwareVersion: c.FirmwareVersion,
		ICCID: c.ICCID, IMSI: c.IMSI, MeterType: c.MeterType, MeterSerialNumber: c.MeterSerialNumber,
		HasPassword: c.PasswordHash != "", LastBootAt: c.LastBootAt, LastSeenAt: c.LastSeenAt,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Connected: a.svc.IsConnected(c.ID), Connectors: connectorsJSON(conns),
	}
}

func connectorsJSON(cs []store.Connector) []csms.ConnectorJSON {
	out := make([]csms.ConnectorJSON, len(cs))
	for i, c := range cs {
		out[i] = csms.ConnectorToJSON(c)
	}
	return out
}

func validRegistration(v string) bool {
	switch store.Registration(v) {
	case store.RegistrationAccepted, store.RegistrationPending, store.RegistrationRejected:
		return true
	}
	return false
}

func (a *API) listChargers(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := store.ChargerFilter{Search: q.str("search", 100), After: q.str("after", 100), Limit: q.limit()}
	if v := q.str("registration", 20); v != "" && !validRegistration(v) {
		q.fail("registration", "registration must be Accepted, Pending or Rejected")
	} else {
		f.Registration = store.Registration(v)
	}
	if q.err != nil {
		return q.err
	}
	limit := f.Limit
	f.Limit = fetchLimit(limit)
	cs, err := a.st.ListChargers(r.Context(), f)
	if err != nil {
		return err
	}
	// One read for the connectors of the whole page.
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	conns, err := a.st.ListConnectorsOf(r.Context(), ids)
	if err != nil {
		return err
	}
	byCharger := make(map[string][]store.Connector, len(cs))
	for _, c := range conns {
		byCharger[c.ChargerID] = append(byCharger[c.ChargerID], c)
	}
	out := make([]ChargerJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, a.chargerWith(c, byCharger[c.ID]))
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(c ChargerJSON) string { return c.ID }))
}

func (a *API) getCharger(w http.ResponseWriter, r *http.Request) error {
	c, err := a.charger(r)
	if err != nil {
		return err
	}
	cj, err := a.chargerJSON(r, c)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, cj)
}

// charger returns the charger of the {id} path value; 404 if unknown.
func (a *API) charger(r *http.Request) (store.Charger, error) {
	id, err := chargerID(r)
	if err != nil {
		return store.Charger{}, notFound("no charger %q", r.PathValue("id"))
	}
	c, err := a.st.GetCharger(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Charger{}, notFound("no charger %q", id)
	}
	return c, err
}

// ChargerPut is the body of PUT /chargers/{id}.
type ChargerPut struct {
	Registration string `json:"registration"`
	// Password sets the charger's HTTP Basic password; "" removes it;
	// absent keeps it.
	Password *string `json:"password"`
}

// Password lengths: bcrypt reads at most 72 bytes; OCPP 1.6's security
// profiles recommend 16 to 40 characters, but DIY chargers use less.
const (
	minPassword = 8
	maxPassword = 72
)

func (a *API) putCharger(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return err
	}
	var body ChargerPut
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if !validRegistration(body.Registration) {
		return invalidBody("registration", "registration must be Accepted, Pending or Rejected")
	}
	reg := store.Registration(body.Registration)
	old, err := a.st.GetCharger(r.Context(), id)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return err
	}
	c := store.Charger{ID: id, Registration: reg, PasswordHash: old.PasswordHash}
	if body.Password != nil {
		pw := *body.Password
		switch n := len(pw); {
		case n == 0:
			c.PasswordHash = ""
		case n < minPassword || n > maxPassword || !utf8.ValidString(pw):
			return invalidBody("password", "password must be %d to %d bytes of UTF-8 text, or empty to remove it", minPassword, maxPassword)
		default:
			h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
			if err != nil {
				return err
			}
			c.PasswordHash = string(h)
		}
	}
	saved, err := a.st.PutCharger(r.Context(), c)
	if err != nil {
		return err
	}
	a.svc.SetRegistration(id, saved.Registration)
	a.svc.Events().Publish(events.ChargerUpdated, id, map[string]any{
		"registration": saved.Registration, "hasPassword": saved.PasswordHash != "",
	})
	cj, err := a.chargerJSON(r, saved)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", Prefix+"/chargers/"+url.PathEscape(id))
	}
	return writeJSON(w, status, cj)
}

func (a *API) deleteCharger(w http.ResponseWriter, r *http.Request) error {
	c, err := a.charger(r)
	if err != nil {
		return err
	}
	if err := a.st.DeleteCharger(r.Context(), c.ID); err != nil {
		return err
	}
	// A deleted charger is unknown: close its connection; when it comes
	// back it is treated like any new charger.
	a.svc.SetRegistration(c.ID, "")
	a.svc.Disconnect(c.ID)
	a.svc.Events().Publish(events.ChargerUpdated, c.ID, map[string]any{"deleted": true})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listConnectors(w http.ResponseWriter, r *http.Request) error {
	c, err := a.charger(r)
	if err != nil {
		return err
	}
	cs, err := a.st.ListConnectors(r.Context(), c.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, items(connectorsJSON(cs)))
}

func (a *API) connectorHistory(w http.ResponseWriter, r *http.Request) error {
	conn, err := intPath(r, "connectorId", 0, 1<<31-1)
	if err != nil {
		return err
	}
	q := newQuery(r)
	limit := q.limit()
	if q.err != nil {
		return q.err
	}
	c, err := a.charger(r)
	if err != nil {
		return err
	}
	hist, err := a.st.StatusHistory(r.Context(), c.ID, int(conn), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, items(connectorsJSON(hist)))
}

func (a *API) latestMeterValues(w http.ResponseWriter, r *http.Request) error {
	c, err := a.charger(r)
	if err != nil {
		return err
	}
	ms, err := a.st.LatestMeterValues(r.Context(), c.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, items(samplesJSON(ms)))
}

func samplesJSON(ms []store.MeterSample) []csms.SampleJSON {
	out := make([]csms.SampleJSON, len(ms))
	for i, m := range ms {
		out[i] = csms.SampleToJSON(m)
	}
	return out
}

// EventJSON is a notification a charger sent.
type EventJSON struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`
	Status     string          `json:"status"`
	Timestamp  *time.Time      `json:"timestamp"`
	ReceivedAt time.Time       `json:"receivedAt"`
	Payload    json.RawMessage `json:"payload"`
}

// eventKinds are the actions csms keeps as charger events.
var eventKinds = map[string]bool{
	"FirmwareStatusNotification":       true,
	"DiagnosticsStatusNotification":    true,
	"SecurityEventNotification":        true,
	"LogStatusNotification":            true,
	"SignedFirmwareStatusNotification": true,
	"DataTransfer":                     true,
	"SignCertificate":                  true,
}

func (a *API) chargerEvents(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	kind, limit := q.str("kind", 50), q.limit()
	if q.err == nil && kind != "" && !eventKinds[kind] {
		q.fail("kind", "kind %q is not a notification chargers send; one of FirmwareStatusNotification, DiagnosticsStatusNotification, SecurityEventNotification, LogStatusNotification, SignedFirmwareStatusNotification, DataTransfer, SignCertificate", kind)
	}
	if q.err != nil {
		return q.err
	}
	c, err := a.charger(r)
	if err != nil {
		return err
	}
	es, err := a.st.ListChargerEvents(r.Context(), c.ID, kind, limit)
	if err != nil {
		return err
	}
	out := make([]EventJSON, len(es))
	for i, e := range es {
		out[i] = EventJSON{ID: e.ID, Kind: e.Kind, Status: e.Status, Timestamp: e.Timestamp, ReceivedAt: e.ReceivedAt, Payload: rawOrString(e.Payload)}
	}
	return writeJSON(w, http.StatusOK, items(out))
}

// LogEntryJSON is one OCPP frame of the message log.
type LogEntryJSON struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Direction string    `json:"direction"` // "in" from the charger, "out" to it
	// Frame is the frame as a JSON value when it parses, else as a string.
	Frame json.RawMessage `json:"frame"`
}

func (a *API) messageLog(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	before, limit := q.id("before"), q.limit()
	if q.err != nil {
		return q.err
	}
	c, err := a.charger(r)
	if err != nil {
		return err
	}
	es, err := a.st.ListLog(r.Context(), c.ID, before, fetchLimit(limit))
	if err != nil {
		return err
	}
	out := make([]LogEntryJSON, len(es))
	for i, e := range es {
		dir := "out"
		if e.Incoming {
			dir = "in"
		}
		out[i] = LogEntryJSON{ID: e.ID, Time: e.At, Direction: dir, Frame: rawOrString(e.Frame)}
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(e LogEntryJSON) string { return strconv.FormatInt(e.ID, 10) }))
}

// rawOrString returns b as a JSON value if it is one, else as a JSON
// string (a broken frame is still shown).
func rawOrString(b []byte) json.RawMessage {
	if len(b) > 0 && json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}
