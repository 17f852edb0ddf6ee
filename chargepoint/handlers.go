package chargepoint

import (
	"context"
	"errors"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

// newRouter registers a handler for every central-system-initiated action
// the charge point supports.
func (cp *ChargePoint) newRouter() *v16.Router {
	r := &v16.Router{}
	r.HandleGetConfiguration(func(ctx context.Context, c *ocpp.Conn, req *v16.GetConfigurationRequest) (*v16.GetConfigurationResponse, error) {
		return cp.getConfiguration(req.Key), nil
	})
	r.HandleChangeConfiguration(func(ctx context.Context, c *ocpp.Conn, req *v16.ChangeConfigurationRequest) (*v16.ChangeConfigurationResponse, error) {
		return &v16.ChangeConfigurationResponse{Status: cp.changeConfiguration(req.Key, req.Value)}, nil
	})
	r.HandleRemoteStartTransaction(func(ctx context.Context, c *ocpp.Conn, req *v16.RemoteStartTransactionRequest) (*v16.RemoteStartTransactionResponse, error) {
		return &v16.RemoteStartTransactionResponse{Status: cp.remoteStart(req)}, nil
	})
	r.HandleRemoteStopTransaction(func(ctx context.Context, c *ocpp.Conn, req *v16.RemoteStopTransactionRequest) (*v16.RemoteStopTransactionResponse, error) {
		return &v16.RemoteStopTransactionResponse{Status: cp.remoteStop(req.TransactionID)}, nil
	})
	r.HandleReset(func(ctx context.Context, c *ocpp.Conn, req *v16.ResetRequest) (*v16.ResetResponse, error) {
		return &v16.ResetResponse{Status: cp.reset(req.Type)}, nil
	})
	r.HandleUnlockConnector(func(ctx context.Context, c *ocpp.Conn, req *v16.UnlockConnectorRequest) (*v16.UnlockConnectorResponse, error) {
		return &v16.UnlockConnectorResponse{Status: cp.unlockConnector(req.ConnectorID)}, nil
	})
	r.HandleChangeAvailability(func(ctx context.Context, c *ocpp.Conn, req *v16.ChangeAvailabilityRequest) (*v16.ChangeAvailabilityResponse, error) {
		return &v16.ChangeAvailabilityResponse{Status: cp.changeAvailability(req.ConnectorID, req.Type)}, nil
	})
	r.HandleTriggerMessage(func(ctx context.Context, c *ocpp.Conn, req *v16.TriggerMessageRequest) (*v16.TriggerMessageResponse, error) {
		return &v16.TriggerMessageResponse{Status: cp.trigger(c, req)}, nil
	})
	r.HandleSetChargingProfile(func(ctx context.Context, c *ocpp.Conn, req *v16.SetChargingProfileRequest) (*v16.SetChargingProfileResponse, error) {
		return &v16.SetChargingProfileResponse{Status: cp.setChargingProfile(req)}, nil
	})
	r.HandleClearChargingProfile(func(ctx context.Context, c *ocpp.Conn, req *v16.ClearChargingProfileRequest) (*v16.ClearChargingProfileResponse, error) {
		return &v16.ClearChargingProfileResponse{Status: cp.clearChargingProfile(req)}, nil
	})
	r.HandleGetCompositeSchedule(func(ctx context.Context, c *ocpp.Conn, req *v16.GetCompositeScheduleRequest) (*v16.GetCompositeScheduleResponse, error) {
		return cp.getCompositeSchedule(req), nil
	})
	r.HandleReserveNow(func(ctx context.Context, c *ocpp.Conn, req *v16.ReserveNowRequest) (*v16.ReserveNowResponse, error) {
		return &v16.ReserveNowResponse{Status: cp.reserveNow(req)}, nil
	})
	r.HandleCancelReservation(func(ctx context.Context, c *ocpp.Conn, req *v16.CancelReservationRequest) (*v16.CancelReservationResponse, error) {
		return &v16.CancelReservationResponse{Status: cp.cancelReservation(req.ReservationID)}, nil
	})
	r.HandleSendLocalList(func(ctx context.Context, c *ocpp.Conn, req *v16.SendLocalListRequest) (*v16.SendLocalListResponse, error) {
		return &v16.SendLocalListResponse{Status: cp.sendLocalList(req)}, nil
	})
	r.HandleGetLocalListVersion(func(ctx context.Context, c *ocpp.Conn, req *v16.GetLocalListVersionRequest) (*v16.GetLocalListVersionResponse, error) {
		return &v16.GetLocalListVersionResponse{ListVersion: cp.localListVersion()}, nil
	})
	r.HandleClearCache(func(ctx context.Context, c *ocpp.Conn, req *v16.ClearCacheRequest) (*v16.ClearCacheResponse, error) {
		return &v16.ClearCacheResponse{Status: cp.clearCache()}, nil
	})
	r.HandleUpdateFirmware(func(ctx context.Context, c *ocpp.Conn, req *v16.UpdateFirmwareRequest) (*v16.UpdateFirmwareResponse, error) {
		cp.updateFirmware(req)
		return &v16.UpdateFirmwareResponse{}, nil
	})
	r.HandleGetDiagnostics(func(ctx context.Context, c *ocpp.Conn, req *v16.GetDiagnosticsRequest) (*v16.GetDiagnosticsResponse, error) {
		return &v16.GetDiagnosticsResponse{FileName: cp.getDiagnostics(req)}, nil
	})
	r.HandleDataTransfer(func(ctx context.Context, c *ocpp.Conn, req *v16.DataTransferRequest) (*v16.DataTransferResponse, error) {
		if cp.cfg.DataTransfer == nil {
			return &v16.DataTransferResponse{Status: v16.DataTransferStatusUnknownVendorId}, nil
		}
		return cp.cfg.DataTransfer(ctx, req)
	})
	return r
}

func (cp *ChargePoint) remoteStart(req *v16.RemoteStartTransactionRequest) v16.GenericStatus {
	cp.lock()
	defer cp.unlock()
	var ip *installedProfile
	if p := req.ChargingProfile; p != nil {
		if p.ChargingProfilePurpose != v16.ChargingProfilePurposeTxProfile || !cp.checkProfileLocked(p) {
			return v16.GenericStatusRejected
		}
		ip = &installedProfile{}
		ip.ChargingProfile = *p
	}
	var c *connector
	if req.ConnectorID != nil {
		c = cp.connector(*req.ConnectorID)
	} else {
		// The connector with a cable in and no transaction, else the
		// first available one.
		for _, o := range cp.conns[1:] {
			if cp.canStartLocked(o) && o.plugged && o.pending == nil {
				c = o
				break
			}
		}
		for _, o := range cp.conns[1:] {
			if c == nil && cp.canStartLocked(o) && o.pending == nil && cp.reservationOnLocked(o.id) == nil {
				c = o
			}
		}
	}
	if c == nil || !cp.canStartLocked(c) {
		return v16.GenericStatusRejected
	}
	resID, ok := cp.reservationAllowsLocked(c, req.IDTag, "")
	if !ok {
		return v16.GenericStatusRejected
	}
	idTag := req.IDTag
	cp.journalLocked("remote start on connector %d for %s", c.id, idTag)
	if !cp.confBoolLocked(keyAuthorizeRemoteTxRequests) {
		cp.authorizedLocked(c, &pendingAuth{idTag: idTag, reservationID: resID, txProfile: ip})
		return v16.GenericStatusAccepted
	}
	cp.authorizeLocked(idTag, func(info v16.IDTagInfo) {
		if info.Status != v16.AuthorizationStatusAccepted {
			cp.journalLocked("remote start for %s not authorized: %s", idTag, info.Status)
			return
		}
		cp.authorizedLocked(c, &pendingAuth{idTag: idTag, parent: info.ParentIDTag, reservationID: resID, txProfile: ip})
	})
	return v16.GenericStatusAccepted
}

func (cp *ChargePoint) remoteStop(id int) v16.GenericStatus {
	cp.lock()
	defer cp.unlock()
	for _, c := range cp.conns[1:] {
		if c.tx != nil && c.tx.ID == id && id != 0 {
			cp.stopTxLocked(c, v16.ReasonRemote, "")
			return v16.GenericStatusAccepted
		}
	}
	return v16.GenericStatusRejected
}

// resetDelay lets the answer to Reset reach the central system before the
// connection closes: the ocpp package writes it when the handler returns.
const resetDelay = 200 * time.Millisecond

func (cp *ChargePoint) reset(typ v16.ResetType) v16.GenericStatus {
	reason := v16.ReasonSoftReset
	if typ == v16.ResetTypeHard {
		reason = v16.ReasonHardReset
	}
	cp.lock()
	defer cp.unlock()
	cp.journalLocked("reset %s", typ)
	ok := cp.spawnLocked(func(ctx context.Context) {
		if !sleepReal(ctx, resetDelay) {
			return
		}
		cp.lock()
		defer cp.unlock()
		for _, c := range cp.conns[1:] {
			cp.stopTxLocked(c, reason, "")
			c.pending = nil
			c.evCharging = false
		}
		cp.outbox = nil
		cp.refreshAllLocked(false)
		cp.rebootLocked()
	})
	if !ok {
		return v16.GenericStatusRejected
	}
	return v16.GenericStatusAccepted
}

func (cp *ChargePoint) unlockConnector(id int) v16.UnlockStatus {
	cp.lock()
	c := cp.connector(id)
	if c == nil {
		cp.unlock()
		return v16.UnlockStatusNotSupported
	}
	cp.stopTxLocked(c, v16.ReasonUnlockCommand, "")
	hw := c.hw
	cp.journalLocked("unlock connector %d", id)
	cp.unlock() // the contactor opens before the lock releases
	err := hw.Unlock()
	switch {
	case errors.Is(err, ErrNoLock):
		return v16.UnlockStatusNotSupported
	case err != nil:
		cp.log.Warn("unlocking", "connector", id, "err", err)
		return v16.UnlockStatusUnlockFailed
	}
	return v16.UnlockStatusUnlocked
}

func (cp *ChargePoint) changeAvailability(id int, typ v16.AvailabilityType) v16.AvailabilityStatus {
	cp.lock()
	defer cp.unlock()
	if id < 0 || id >= len(cp.conns) {
		return v16.AvailabilityStatusRejected
	}
	inop := typ == v16.AvailabilityTypeInoperative
	targets := []*connector{cp.conns[id]}
	if id == 0 {
		targets = cp.conns
	}
	scheduled := false
	for _, c := range targets {
		if c.tx != nil && c.inoperative != inop {
			v := inop
			c.scheduled = &v
			scheduled = true
			continue
		}
		c.inoperative, c.scheduled = inop, nil
		if inop {
			c.pending = nil
		}
	}
	cp.saveStateLocked()
	cp.journalLocked("availability of connector %d: %s", id, typ)
	cp.refreshAllLocked(false)
	if scheduled {
		return v16.AvailabilityStatusScheduled
	}
	return v16.AvailabilityStatusAccepted
}

func (cp *ChargePoint) trigger(conn *ocpp.Conn, req *v16.TriggerMessageRequest) v16.TriggerMessageStatus {
	cp.lock()
	defer cp.unlock()
	if req.ConnectorID != nil && (*req.ConnectorID < 0 || *req.ConnectorID >= len(cp.conns)) {
		return v16.TriggerMessageStatusRejected
	}
	targets := cp.conns
	if req.ConnectorID != nil {
		targets = []*connector{cp.conns[*req.ConnectorID]}
	}
	now := cp.clock.Now()
	switch req.RequestedMessage {
	case v16.MessageTriggerBootNotification:
		if cp.registration != string(v16.RegistrationStatusAccepted) {
			signal(cp.bootWake)
			return v16.TriggerMessageStatusAccepted
		}
		cp.spawnLocked(func(ctx context.Context) {
			resp, err := v16.CallBootNotification(conn.Context(), conn, cp.bootRequest())
			if err == nil {
				cp.bootAnswered(resp)
				if resp.Status != v16.RegistrationStatusAccepted {
					// Accepted no more: boot again until it is.
					cp.lock()
					cp.rebootLocked()
					cp.unlock()
				}
			}
		})
	case v16.MessageTriggerHeartbeat:
		cp.spawnLocked(func(ctx context.Context) {
			_, _ = v16.CallHeartbeat(conn.Context(), conn, &v16.HeartbeatRequest{})
		})
	case v16.MessageTriggerStatusNotification:
		for _, c := range targets {
			cp.statusOutLocked(c, now)
		}
	case v16.MessageTriggerMeterValues:
		sampled := splitList(cp.confLocked(keyMeterValuesSampledData))
		for _, c := range targets {
			if c.id == 0 {
				continue
			}
			mv := cp.sampleLocked(c, sampled, v16.ReadingContextTrigger, now)
			if mv == nil {
				continue
			}
			r := &v16.MeterValuesRequest{ConnectorID: c.id, MeterValue: []v16.MeterValue{*mv}}
			if c.tx != nil && c.tx.ID != 0 {
				id := c.tx.ID
				r.TransactionID = &id
			}
			cp.outLocked(r, nil)
		}
	case v16.MessageTriggerFirmwareStatusNotification:
		cp.outLocked(&v16.FirmwareStatusNotificationRequest{Status: cp.fwStatus}, nil)
	case v16.MessageTriggerDiagnosticsStatusNotification:
		cp.outLocked(&v16.DiagnosticsStatusNotificationRequest{Status: cp.diagStatus}, nil)
	default:
		return v16.TriggerMessageStatusNotImplemented
	}
	return v16.TriggerMessageStatusAccepted
}
