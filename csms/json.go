package csms

import (
	"time"

	"github.com/wattson-csms/wattson/store"
)

// The JSON shapes of stored things, shared by events and the API.

// ConnectorJSON is a connector's state.
type ConnectorJSON struct {
	ConnectorID      int        `json:"connectorId"`
	Status           string     `json:"status"`
	ErrorCode        string     `json:"errorCode"`
	Info             string     `json:"info,omitempty"`
	VendorID         string     `json:"vendorId,omitempty"`
	VendorErrorCode  string     `json:"vendorErrorCode,omitempty"`
	ChargerTimestamp *time.Time `json:"chargerTimestamp,omitempty"`
	UpdatedAt        time.Time  `json:"updatedAt"`
}

func connectorJSON(c store.Connector) ConnectorJSON {
	return ConnectorJSON{
		ConnectorID: c.ConnectorID, Status: c.Status, ErrorCode: c.ErrorCode, Info: c.Info,
		VendorID: c.VendorID, VendorErrorCode: c.VendorErrorCode, ChargerTimestamp: c.ChargerTimestamp, UpdatedAt: c.UpdatedAt,
	}
}

// ConnectorToJSON converts a stored connector.
func ConnectorToJSON(c store.Connector) ConnectorJSON { return connectorJSON(c) }

// TransactionJSON is a transaction as the API shows it.
type TransactionJSON struct {
	ID            int64      `json:"id"`
	ChargerID     string     `json:"chargerId"`
	ConnectorID   int        `json:"connectorId"`
	IDTag         string     `json:"idTag"`
	MeterStart    int64      `json:"meterStart"`
	MeterStop     *int64     `json:"meterStop"`
	StartedAt     time.Time  `json:"startedAt"`
	StoppedAt     *time.Time `json:"stoppedAt"`
	StopReason    string     `json:"stopReason,omitempty"`
	StopIDTag     string     `json:"stopIdTag,omitempty"`
	ReservationID *int       `json:"reservationId,omitempty"`
	Energy        int64      `json:"energy"` // Wh
	Active        bool       `json:"active"`
}

func transactionJSON(t store.Transaction) TransactionJSON {
	return TransactionJSON{
		ID: t.ID, ChargerID: t.ChargerID, ConnectorID: t.ConnectorID, IDTag: t.IDTag,
		MeterStart: t.MeterStart, MeterStop: t.MeterStop, StartedAt: t.StartedAt, StoppedAt: t.StoppedAt,
		StopReason: t.StopReason, StopIDTag: t.StopIDTag, ReservationID: t.ReservationID,
		Energy: t.EnergyWh(), Active: t.Active(),
	}
}

// TransactionToJSON converts a stored transaction.
func TransactionToJSON(t store.Transaction) TransactionJSON { return transactionJSON(t) }

// SampleJSON is one meter sample.
type SampleJSON struct {
	ConnectorID   int       `json:"connectorId"`
	TransactionID *int64    `json:"transactionId,omitempty"`
	Timestamp     time.Time `json:"timestamp"`
	Value         string    `json:"value"`
	Measurand     string    `json:"measurand,omitempty"`
	Phase         string    `json:"phase,omitempty"`
	Unit          string    `json:"unit,omitempty"`
	Location      string    `json:"location,omitempty"`
	Context       string    `json:"context,omitempty"`
	Format        string    `json:"format,omitempty"`
}

// SampleToJSON converts a stored sample.
func SampleToJSON(m store.MeterSample) SampleJSON {
	return SampleJSON{
		ConnectorID: m.ConnectorID, TransactionID: m.TransactionID, Timestamp: m.Timestamp, Value: m.Value,
		Measurand: m.Measurand, Phase: m.Phase, Unit: m.Unit, Location: m.Location, Context: m.Context, Format: m.Format,
	}
}

func meterJSON(connectorID int, txID *int64, samples []store.MeterSample) map[string]any {
	out := make([]SampleJSON, len(samples))
	for i, m := range samples {
		out[i] = SampleToJSON(m)
	}
	return map[string]any{"connectorId": connectorID, "transactionId": txID, "samples": out}
}
