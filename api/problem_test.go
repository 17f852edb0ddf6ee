package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/store"
)

func TestProblemOf(t *testing.T) {
	schema := &ocpp.Error{Code: ocpp.PropertyConstraintViolation, Description: `chargingProfile.chargingSchedule.chargingSchedulePeriod[0].limit: "x" is not a number`}
	cases := []struct {
		err    error
		status int
		kind   Kind
		field  string
	}{
		{&Error{Kind: KindInvalidRequest, Field: "limit"}, 400, KindInvalidRequest, "limit"},
		{&csms.RequestError{Action: "SetChargingProfile", Err: schema}, 400, KindInvalidPayload, "chargingProfile.chargingSchedule.chargingSchedulePeriod[0].limit"},
		{&csms.RequestError{Action: "Reset", Err: &ocpp.Error{Code: ocpp.FormationViolation, Description: "unexpected end of JSON input: at offset 3"}}, 400, KindInvalidPayload, ""},
		{&csms.ResponseError{Action: "Reset", Payload: []byte(`{"status":"Maybe"}`), Err: schema}, 502, KindInvalidResponse, ""},
		{fmt.Errorf("%w: CP9", csms.ErrUnknownCharger), 404, KindNotFound, ""},
		{fmt.Errorf("%w: CP9", csms.ErrNotConnected), 409, KindNotConnected, ""},
		{&ocpp.Error{Code: ocpp.GenericError, Description: "no"}, 502, KindChargerError, ""},
		{fmt.Errorf("%w: Reset to CP1: %w", ocpp.ErrTimeout, context.DeadlineExceeded), 504, KindChargerTimeout, ""},
		{ocpp.ErrClosed, 503, KindConnectionClosed, ""},
		{fmt.Errorf("get: %w", store.ErrNotFound), 404, KindNotFound, ""},
		{fmt.Errorf("put: %w", store.ErrConflict), 409, KindConflict, ""},
		{fmt.Errorf("put: %w", store.ErrInvalid), 400, KindInvalidPayload, ""},
		{&http.MaxBytesError{Limit: 10}, 413, KindPayloadTooLarge, ""},
		{errors.New("disk on fire"), 500, KindInternal, ""},
	}
	for _, c := range cases {
		p := problemOf(c.err)
		if p.Status != c.status || p.Type != ProblemBase+string(c.kind) || p.Field != c.field || p.Title == "" {
			t.Errorf("%v: got %+v, want %d %s field %q", c.err, p, c.status, c.kind, c.field)
		}
	}
	if p := problemOf(errors.New("secret path /var/db")); p.Detail != "" {
		t.Errorf("an internal error leaks %q", p.Detail)
	}
	p := problemOf(fmt.Errorf("call: %w", &ocpp.Error{Code: ocpp.NotSupported}))
	b, _ := json.Marshal(p)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m["errorCode"] != "NotSupported" || m["errorDescription"] != "" || m["errorDetails"] == nil {
		t.Errorf("CALLERROR problem %s", b)
	}
	// Every kind has a status.
	for k, v := range kinds {
		if v.status < 400 || v.title == "" {
			t.Errorf("kind %s: %+v", k, v)
		}
	}
}

func TestFieldOf(t *testing.T) {
	for desc, want := range map[string]string{
		"type: required property is missing": "type",
		"a[0].b: x":                          "a[0].b",
		"[2]: x":                             "[2]",
		"unexpected end of JSON input":       "",
		"invalid character 'x' looking for beginning of value: " + "at 3": "",
		`x: "y: z" is not an allowed value`:                               "x",
	} {
		if got := fieldOf(&ocpp.Error{Description: desc}); got != want {
			t.Errorf("fieldOf(%q) = %q, want %q", desc, got, want)
		}
	}
}
