package v16

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
)

func serve(r *Router, action, payload string) (ocpp.Payload, error) {
	return r.ServeCall(context.Background(), &ocpp.Request{MessageID: "1", Action: action, Payload: []byte(payload)})
}

func TestRouter(t *testing.T) {
	var r Router
	boot := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	r.HandleBootNotification(func(ctx context.Context, c *ocpp.Conn, req *BootNotificationRequest) (*BootNotificationResponse, error) {
		if req.ChargePointVendor != "Wattson" {
			t.Errorf("vendor %q", req.ChargePointVendor)
		}
		return &BootNotificationResponse{Status: RegistrationStatusAccepted, CurrentTime: boot, Interval: 300}, nil
	})
	refuse := &ocpp.Error{Code: ocpp.SecurityError, Description: "no"}
	r.HandleAuthorize(func(ctx context.Context, c *ocpp.Conn, req *AuthorizeRequest) (*AuthorizeResponse, error) {
		switch req.IDTag {
		case "refuse":
			return nil, refuse
		case "nil":
			return nil, nil
		case "invalid":
			return &AuthorizeResponse{IDTagInfo: IDTagInfo{Status: "Maybe"}}, nil
		case "plain":
			return nil, errors.New("database down")
		}
		return &AuthorizeResponse{IDTagInfo: IDTagInfo{Status: AuthorizationStatusAccepted}}, nil
	})

	p, err := serve(&r, "BootNotification", `{"chargePointVendor":"Wattson","chargePointModel":"W1"}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.AppendJSON(nil)); got != `{"status":"Accepted","currentTime":"2024-05-01T12:00:00Z","interval":300}` {
		t.Errorf("response %s", got)
	}
	if !r.Handles("BootNotification") || r.Handles("Heartbeat") || r.Handles("Foo") {
		t.Error("Handles is wrong")
	}

	cases := []struct {
		action, payload string
		code            ocpp.ErrorCode
	}{
		{"Foo", `{}`, ocpp.NotImplemented},
		{"bootnotification", `{}`, ocpp.NotImplemented},
		{"Heartbeat", `{}`, ocpp.NotSupported},
		{"RemoteStartTransaction", `{"idTag":"x"}`, ocpp.NotSupported},
		{"BootNotification", `{"chargePointVendor":"Wattson"}`, ocpp.OccurenceConstraintViolation},
		{"BootNotification", `{"chargePointVendor":1,"chargePointModel":"W1"}`, ocpp.TypeConstraintViolation},
		{"BootNotification", `{"chargePointVendor":"Wattson","chargePointModel":"W1","x":1}`, ocpp.FormationViolation},
		{"BootNotification", `{"chargePointVendor":"Wattson","chargePointModel":"W1"`, ocpp.FormationViolation},
		{"BootNotification", `{"chargePointVendor":"WattsonWattsonWattsonW","chargePointModel":"W1"}`, ocpp.PropertyConstraintViolation},
		{"Authorize", `{"idTag":"refuse"}`, ocpp.SecurityError},
		{"Authorize", `{"idTag":"nil"}`, ocpp.InternalError},
		{"Authorize", `{"idTag":"invalid"}`, ocpp.InternalError},
	}
	for _, c := range cases {
		p, err := serve(&r, c.action, c.payload)
		if p != nil {
			t.Errorf("%s %s: got a payload with error %v", c.action, c.payload, err)
		}
		oe, ok := ocpp.AsError(err)
		if !ok || oe.Code != c.code {
			t.Errorf("%s %s: got %v, want %s", c.action, c.payload, err, c.code)
		}
	}
	// Handler errors pass through unchanged, so the connection decides
	// what a plain error becomes.
	if _, err := serve(&r, "Authorize", `{"idTag":"refuse"}`); err != refuse {
		t.Errorf("got %v, want the handler's error itself", err)
	}
	if _, err := serve(&r, "Authorize", `{"idTag":"plain"}`); err == nil || err.Error() != "database down" {
		t.Errorf("got %v", err)
	}
	if _, err := serve(&r, "Authorize", `{"idTag":"invalid"}`); !strings.Contains(err.Error(), "idTagInfo.status") {
		t.Errorf("InternalError should name the invalid field: %v", err)
	}
}

func TestRouterAllocs(t *testing.T) {
	var r Router
	resp := &HeartbeatResponse{CurrentTime: time.Now()}
	r.HandleHeartbeat(func(ctx context.Context, c *ocpp.Conn, req *HeartbeatRequest) (*HeartbeatResponse, error) {
		return resp, nil
	})
	req := &ocpp.Request{Action: "Heartbeat", Payload: []byte(`{}`)}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.ServeCall(ctx, req); err != nil {
			t.Fatal(err)
		}
	})
	// The decoder state of UnmarshalOCPP escapes through the generic
	// decode helper; the request struct itself is zero-sized.
	if allocs > 1 {
		t.Errorf("%v allocations per call", allocs)
	}
}

// fakeCaller is an ocpp.Caller that answers with a fixed payload.
type fakeCaller struct {
	calls  int
	action string
	sent   string
	answer string
	err    error
}

func (f *fakeCaller) Call(ctx context.Context, action string, p ocpp.Payload) ([]byte, error) {
	f.calls++
	f.action = action
	f.sent = string(p.AppendJSON(nil))
	if f.err != nil {
		return nil, f.err
	}
	return []byte(f.answer), nil
}

func TestCall(t *testing.T) {
	ctx := context.Background()
	limit := 16.0
	req := &SetChargingProfileRequest{
		ConnectorID: 1,
		CsChargingProfiles: ChargingProfile{
			ChargingProfileID:      7,
			StackLevel:             1,
			ChargingProfilePurpose: ChargingProfilePurposeTxDefaultProfile,
			ChargingProfileKind:    ChargingProfileKindRelative,
			ChargingSchedule: ChargingSchedule{
				ChargingRateUnit:       ChargingRateUnitA,
				ChargingSchedulePeriod: []ChargingSchedulePeriod{{StartPeriod: 0, Limit: limit}},
			},
		},
	}
	f := &fakeCaller{answer: `{"status":"Accepted"}`}
	resp, err := CallSetChargingProfile(ctx, f, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != ChargingProfileStatusAccepted || f.action != "SetChargingProfile" {
		t.Errorf("got %+v via %s", resp, f.action)
	}
	want := `{"connectorId":1,"csChargingProfiles":{"chargingProfileId":7,"stackLevel":1,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Relative","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16}]}}}`
	if f.sent != want {
		t.Errorf("sent %s\nwant %s", f.sent, want)
	}

	// An invalid request is refused before anything is sent.
	bad := *req
	tenth := 0.1 // a variable: constant arithmetic would be exact
	bad.CsChargingProfiles.ChargingSchedule.ChargingSchedulePeriod = []ChargingSchedulePeriod{{Limit: tenth + 0.2}}
	f = &fakeCaller{answer: `{"status":"Accepted"}`}
	_, err = CallSetChargingProfile(ctx, f, &bad)
	wantCode(t, err, ocpp.PropertyConstraintViolation)
	if f.calls != 0 {
		t.Error("an invalid request was sent")
	}
	if !strings.Contains(err.Error(), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit") {
		t.Errorf("path missing: %v", err)
	}
	_, err = CallSetChargingProfile(ctx, f, nil)
	if err == nil || f.calls != 0 {
		t.Errorf("nil request: %v", err)
	}

	// The peer's errors pass through.
	peerErr := &ocpp.Error{Code: ocpp.NotSupported}
	f = &fakeCaller{err: peerErr}
	if _, err := CallHeartbeat(ctx, f, &HeartbeatRequest{}); err != peerErr {
		t.Errorf("got %v", err)
	}

	// An invalid response: the *ocpp.Error is wrapped, saying whose it is.
	f = &fakeCaller{answer: `{"status":"Maybe"}`}
	_, err = CallSetChargingProfile(ctx, f, req)
	oe, ok := ocpp.AsError(err)
	if !ok || oe.Code != ocpp.PropertyConstraintViolation || !strings.Contains(err.Error(), "peer's response is invalid") {
		t.Errorf("got %v", err)
	}
	f = &fakeCaller{answer: `[]`}
	_, err = CallHeartbeat(ctx, f, &HeartbeatRequest{})
	wantCode(t, err, ocpp.FormationViolation)
}

func TestValidate(t *testing.T) {
	ts := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	nan := math.NaN()
	cases := []struct {
		name string
		m    Message
		code ocpp.ErrorCode
		path string
	}{
		{"ok", &StatusNotificationRequest{ConnectorID: 1, ErrorCode: ChargePointErrorCodeNoError, Status: ChargePointStatusAvailable}, "", ""},
		{"missing enum", &StatusNotificationRequest{ConnectorID: 1, Status: ChargePointStatusAvailable}, ocpp.OccurenceConstraintViolation, "errorCode"},
		{"bad enum", &StatusNotificationRequest{ErrorCode: "Oops", Status: ChargePointStatusAvailable}, ocpp.PropertyConstraintViolation, "errorCode"},
		{"bad optional enum", &StatusNotificationRequest{ErrorCode: ChargePointErrorCodeNoError, Status: ChargePointStatusAvailable, Info: strings.Repeat("ü", 51)}, ocpp.PropertyConstraintViolation, "info"},
		{"runes not bytes", &StatusNotificationRequest{ErrorCode: ChargePointErrorCodeNoError, Status: ChargePointStatusAvailable, Info: strings.Repeat("ü", 50)}, "", ""},
		{"zero time", &HeartbeatResponse{}, ocpp.OccurenceConstraintViolation, "currentTime"},
		{"year 10000", &HeartbeatResponse{CurrentTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, ocpp.PropertyConstraintViolation, "currentTime"},
		{"nil required slice", &MeterValuesRequest{ConnectorID: 1}, ocpp.OccurenceConstraintViolation, "meterValue"},
		{"empty required slice", &MeterValuesRequest{ConnectorID: 1, MeterValue: []MeterValue{}}, "", ""},
		{"nested", &MeterValuesRequest{MeterValue: []MeterValue{{Timestamp: ts, SampledValue: []SampledValue{{Value: "1"}, {Value: "2", Unit: "Furlong"}}}}}, ocpp.PropertyConstraintViolation, "meterValue[0].sampledValue[1].unit"},
		{"minItems", &GetInstalledCertificateIdsResponse{Status: GetInstalledCertificateStatusAccepted, CertificateHashData: []CertificateHashData{}}, ocpp.OccurenceConstraintViolation, "certificateHashData"},
		{"NaN", &GetCompositeScheduleResponse{Status: GenericStatusAccepted, ChargingSchedule: &ChargingSchedule{ChargingRateUnit: ChargingRateUnitW, ChargingSchedulePeriod: []ChargingSchedulePeriod{}, MinChargingRate: &nan}}, ocpp.TypeConstraintViolation, "chargingSchedule.minChargingRate"},
		{"uri", &GetDiagnosticsRequest{Location: "not a uri"}, ocpp.PropertyConstraintViolation, "location"},
		{"nil", (*HeartbeatRequest)(nil), ocpp.OccurenceConstraintViolation, ""},
	}
	for _, c := range cases {
		err := c.m.Validate()
		if c.code == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		oe, ok := ocpp.AsError(err)
		if !ok || oe.Code != c.code || !strings.HasPrefix(oe.Description, c.path) {
			t.Errorf("%s: got %v, want %s at %s", c.name, err, c.code, c.path)
		}
	}
}
