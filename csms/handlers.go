package csms

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

func (s *Service) newRouter() *v16.Router {
	r := &v16.Router{}
	r.HandleBootNotification(s.bootNotification)
	r.HandleHeartbeat(s.heartbeat)
	r.HandleStatusNotification(s.statusNotification)
	r.HandleAuthorize(s.authorizeReq)
	r.HandleStartTransaction(s.startTransaction)
	r.HandleStopTransaction(s.stopTransaction)
	r.HandleMeterValues(s.meterValues)
	r.HandleDataTransfer(s.dataTransfer)
	r.HandleFirmwareStatusNotification(func(ctx context.Context, c *ocpp.Conn, req *v16.FirmwareStatusNotificationRequest) (*v16.FirmwareStatusNotificationResponse, error) {
		return &v16.FirmwareStatusNotificationResponse{}, s.notification(ctx, c.ID(), "FirmwareStatusNotification", string(req.Status), nil, req)
	})
	r.HandleDiagnosticsStatusNotification(func(ctx context.Context, c *ocpp.Conn, req *v16.DiagnosticsStatusNotificationRequest) (*v16.DiagnosticsStatusNotificationResponse, error) {
		return &v16.DiagnosticsStatusNotificationResponse{}, s.notification(ctx, c.ID(), "DiagnosticsStatusNotification", string(req.Status), nil, req)
	})
	r.HandleSecurityEventNotification(func(ctx context.Context, c *ocpp.Conn, req *v16.SecurityEventNotificationRequest) (*v16.SecurityEventNotificationResponse, error) {
		ts := req.Timestamp
		return &v16.SecurityEventNotificationResponse{}, s.notification(ctx, c.ID(), "SecurityEventNotification", req.Type, &ts, req)
	})
	r.HandleLogStatusNotification(func(ctx context.Context, c *ocpp.Conn, req *v16.LogStatusNotificationRequest) (*v16.LogStatusNotificationResponse, error) {
		return &v16.LogStatusNotificationResponse{}, s.notification(ctx, c.ID(), "LogStatusNotification", string(req.Status), nil, req)
	})
	r.HandleSignedFirmwareStatusNotification(func(ctx context.Context, c *ocpp.Conn, req *v16.SignedFirmwareStatusNotificationRequest) (*v16.SignedFirmwareStatusNotificationResponse, error) {
		return &v16.SignedFirmwareStatusNotificationResponse{}, s.notification(ctx, c.ID(), "SignedFirmwareStatusNotification", string(req.Status), nil, req)
	})
	r.HandleSignCertificate(func(ctx context.Context, c *ocpp.Conn, req *v16.SignCertificateRequest) (*v16.SignCertificateResponse, error) {
		// No certificate authority is configured yet: refuse to sign, but
		// keep the request so an operator sees that the charger asked.
		err := s.notification(ctx, c.ID(), "SignCertificate", "Rejected", nil, req)
		return &v16.SignCertificateResponse{Status: v16.GenericStatusRejected}, err
	})
	return r
}

func (s *Service) bootNotification(ctx context.Context, c *ocpp.Conn, req *v16.BootNotificationRequest) (*v16.BootNotificationResponse, error) {
	now := s.now()
	if !s.admitBoot() {
		return s.deferBoot(c, now), nil
	}
	ch, err := s.recordBoot(ctx, store.Boot{
		ChargerID:         c.ID(),
		Vendor:            req.ChargePointVendor,
		Model:             req.ChargePointModel,
		SerialNumber:      req.ChargePointSerialNumber,
		ChargeBoxSerial:   req.ChargeBoxSerialNumber,
		FirmwareVersion:   req.FirmwareVersion,
		ICCID:             req.ICCID,
		IMSI:              req.IMSI,
		MeterType:         req.MeterType,
		MeterSerialNumber: req.MeterSerialNumber,
		ReceivedAt:        now,
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if ses := s.sessions[c.ID()]; ses != nil && ses.conn == c {
		ses.registration = ch.Registration
		ses.booted = true
	}
	s.mu.Unlock()
	s.log.Info("charger booted", "charger", c.ID(), "vendor", req.ChargePointVendor, "model", req.ChargePointModel,
		"firmware", req.FirmwareVersion, "registration", ch.Registration)
	s.cfg.Events.Publish(events.ChargerBooted, c.ID(), map[string]any{
		"vendor": ch.Vendor, "model": ch.Model, "firmwareVersion": ch.FirmwareVersion, "registration": ch.Registration,
	})
	resp := &v16.BootNotificationResponse{CurrentTime: now, Interval: seconds(s.cfg.HeartbeatInterval)}
	switch ch.Registration {
	case store.RegistrationAccepted:
		resp.Status = v16.RegistrationStatusAccepted
	case store.RegistrationRejected:
		resp.Status = v16.RegistrationStatusRejected
		resp.Interval = seconds(s.cfg.RetryInterval)
	default:
		resp.Status = v16.RegistrationStatusPending
		resp.Interval = seconds(s.cfg.RetryInterval)
	}
	return resp, nil
}

// recordBoot writes an admitted boot and gives its place back, also if the
// store panics (the connection recovers handler panics and lives on).
func (s *Service) recordBoot(ctx context.Context, b store.Boot) (store.Charger, error) {
	defer s.doneBoot()
	ch, err := s.st.RecordBoot(ctx, b, s.cfg.UnknownChargers)
	if err == nil {
		s.metrics.BootsRecorded.Add(1)
	}
	return ch, err
}

func seconds(d time.Duration) int { return int(d / time.Second) }

func (s *Service) heartbeat(ctx context.Context, c *ocpp.Conn, req *v16.HeartbeatRequest) (*v16.HeartbeatResponse, error) {
	s.touch(c.ID())
	return &v16.HeartbeatResponse{CurrentTime: s.now()}, nil
}

func (s *Service) statusNotification(ctx context.Context, c *ocpp.Conn, req *v16.StatusNotificationRequest) (*v16.StatusNotificationResponse, error) {
	st := store.Connector{
		ChargerID:        c.ID(),
		ConnectorID:      req.ConnectorID,
		Status:           string(req.Status),
		ErrorCode:        string(req.ErrorCode),
		Info:             req.Info,
		VendorID:         req.VendorID,
		VendorErrorCode:  req.VendorErrorCode,
		ChargerTimestamp: req.Timestamp,
		UpdatedAt:        s.now(),
	}
	if err := s.st.RecordStatus(ctx, st); err != nil {
		return nil, err
	}
	s.touch(c.ID())
	s.cfg.Events.Publish(events.ConnectorStatus, c.ID(), connectorJSON(st))
	return &v16.StatusNotificationResponse{}, nil
}

func (s *Service) authorizeReq(ctx context.Context, c *ocpp.Conn, req *v16.AuthorizeRequest) (*v16.AuthorizeResponse, error) {
	info, err := s.authorize(ctx, req.IDTag, true, 0)
	if err != nil {
		return nil, err
	}
	return &v16.AuthorizeResponse{IDTagInfo: info}, nil
}

func (s *Service) startTransaction(ctx context.Context, c *ocpp.Conn, req *v16.StartTransactionRequest) (*v16.StartTransactionResponse, error) {
	res, err := s.st.StartTransaction(ctx, store.StartTx{
		ChargerID:     c.ID(),
		ConnectorID:   req.ConnectorID,
		IDTag:         req.IDTag,
		MeterStart:    int64(req.MeterStart),
		Timestamp:     req.Timestamp.UTC(),
		ReservationID: req.ReservationID,
		ReceivedAt:    s.now(),
	})
	if err != nil {
		return nil, err
	}
	tx := res.Transaction
	// The transaction is stored whatever the tag's status: the charger may
	// already be charging (it started offline). A refused tag makes it stop.
	info, err := s.authorize(ctx, req.IDTag, true, tx.ID)
	if err != nil {
		return nil, err
	}
	for _, id := range res.ClosedStale {
		s.log.Warn("closed a transaction left open on the connector", "charger", c.ID(), "connector", req.ConnectorID, "transaction", id, "newTransaction", tx.ID)
		s.cfg.Events.Publish(events.TransactionStopped, c.ID(), map[string]any{"transactionId": id, "reason": store.StaleStopReason})
	}
	// Also for a repeated start: the first may have been stored before
	// its reservation was marked (marking it again changes nothing).
	s.useReservation(ctx, c.ID(), req.ReservationID, tx, info.ParentIDTag)
	if res.Duplicate {
		s.log.Info("repeated StartTransaction answered with the stored id", "charger", c.ID(), "transaction", tx.ID)
	} else {
		s.cfg.Events.Publish(events.TransactionStarted, c.ID(), transactionJSON(tx))
	}
	s.touch(c.ID())
	return &v16.StartTransactionResponse{TransactionID: int(tx.ID), IDTagInfo: info}, nil
}

func (s *Service) stopTransaction(ctx context.Context, c *ocpp.Conn, req *v16.StopTransactionRequest) (*v16.StopTransactionResponse, error) {
	now := s.now()
	txID := int64(req.TransactionID)
	// transactionData first: once the stop is stored, a retry is answered
	// from it and its samples would not come again.
	if samples := samplesOf(c.ID(), 0, &txID, req.TransactionData, now); len(samples) > 0 {
		if tx, err := s.st.GetTransaction(ctx, txID); err == nil && tx.ChargerID == c.ID() && tx.Active() {
			for i := range samples {
				samples[i].ConnectorID = tx.ConnectorID
			}
			if err := s.meters.Add(ctx, samples); err != nil {
				return nil, err
			}
		}
	}
	tx, outcome, err := s.st.StopTransaction(ctx, store.StopTx{
		TransactionID: txID,
		ChargerID:     c.ID(),
		IDTag:         req.IDTag,
		MeterStop:     int64(req.MeterStop),
		Timestamp:     req.Timestamp.UTC(),
		Reason:        string(req.Reason),
		ReceivedAt:    now,
	})
	if err != nil {
		return nil, err
	}
	switch outcome {
	case store.UnknownTransaction:
		s.log.Warn("StopTransaction for an unknown transaction, answered so the charger stops retrying", "charger", c.ID(), "transaction", txID)
	case store.AlreadyStopped:
		s.log.Info("repeated StopTransaction answered", "charger", c.ID(), "transaction", txID)
	case store.Stopped:
		s.cfg.Events.Publish(events.TransactionStopped, c.ID(), transactionJSON(tx))
	}
	s.touch(c.ID())
	resp := &v16.StopTransactionResponse{}
	if req.IDTag != "" {
		info, err := s.authorize(ctx, req.IDTag, false, 0)
		if err != nil {
			return nil, err
		}
		resp.IDTagInfo = &info
	}
	return resp, nil
}

func (s *Service) meterValues(ctx context.Context, c *ocpp.Conn, req *v16.MeterValuesRequest) (*v16.MeterValuesResponse, error) {
	var txID *int64
	if req.TransactionID != nil {
		id := int64(*req.TransactionID)
		txID = &id
	}
	samples := samplesOf(c.ID(), req.ConnectorID, txID, req.MeterValue, s.now())
	if err := s.meters.Add(ctx, samples); err != nil {
		return nil, err
	}
	s.touch(c.ID())
	s.cfg.Events.Publish(events.MeterValues, c.ID(), meterJSON(req.ConnectorID, txID, samples))
	return &v16.MeterValuesResponse{}, nil
}

// samplesOf flattens OCPP meter values into stored samples.
func samplesOf(chargerID string, connectorID int, txID *int64, mvs []v16.MeterValue, received time.Time) []store.MeterSample {
	n := 0
	for _, mv := range mvs {
		n += len(mv.SampledValue)
	}
	out := make([]store.MeterSample, 0, n)
	for _, mv := range mvs {
		for _, sv := range mv.SampledValue {
			out = append(out, store.MeterSample{
				ChargerID:     chargerID,
				ConnectorID:   connectorID,
				TransactionID: txID,
				Timestamp:     mv.Timestamp.UTC(),
				ReceivedAt:    received,
				Value:         sv.Value,
				Measurand:     string(sv.Measurand),
				Phase:         string(sv.Phase),
				Unit:          string(sv.Unit),
				Location:      string(sv.Location),
				Context:       string(sv.Context),
				Format:        string(sv.Format),
			})
		}
	}
	return out
}

func (s *Service) dataTransfer(ctx context.Context, c *ocpp.Conn, req *v16.DataTransferRequest) (*v16.DataTransferResponse, error) {
	if err := s.notification(ctx, c.ID(), "DataTransfer", req.VendorID, nil, req); err != nil {
		return nil, err
	}
	h := s.cfg.DataTransfer[req.VendorID]
	if h == nil {
		return &v16.DataTransferResponse{Status: v16.DataTransferStatusUnknownVendorId}, nil
	}
	return h(ctx, c.ID(), req)
}

// notification stores a charger's notification as an event and publishes
// it.
func (s *Service) notification(ctx context.Context, chargerID, kind, status string, ts *time.Time, payload v16.Message) error {
	raw := payload.AppendJSON(nil)
	e, err := s.st.AddChargerEvent(ctx, store.ChargerEvent{
		ChargerID: chargerID, Kind: kind, Status: status, Timestamp: ts, ReceivedAt: s.now(), Payload: raw,
	})
	if err != nil {
		return err
	}
	s.obsMu.RLock()
	obs := s.observers
	s.obsMu.RUnlock()
	for _, fn := range obs {
		fn(ctx, e)
	}
	s.touch(chargerID)
	s.cfg.Events.Publish(events.ChargerNotification, chargerID, map[string]any{
		"kind": kind, "status": status, "payload": json.RawMessage(raw),
	})
	return nil
}
