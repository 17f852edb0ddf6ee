package v16

import (
	"bytes"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/wattson-csms/wattson/ocpp"
)

// allExamples generates the examples of every message schema, by $id.
func allExamples(r *reference) map[string][]example {
	out := map[string][]example{}
	for id, s := range r.raw {
		g := &exampleGen{root: s}
		out[id] = g.examples()
	}
	return out
}

func sortedIDs(m map[string][]example) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// TestConformance runs every generated example through our decoder and the
// reference validator and requires them to agree; valid examples must
// also survive a round trip.
func TestConformance(t *testing.T) {
	r := loadReference(t)
	if len(r.raw) != 78 {
		t.Errorf("got %d schemas, want 78", len(r.raw))
	}
	if len(Actions())*2 != len(r.raw) {
		t.Errorf("%d actions for %d schemas", len(Actions()), len(r.raw))
	}
	examples := allExamples(r)
	total, invalid := 0, 0
	for _, id := range sortedIDs(examples) {
		t.Run(strings.TrimPrefix(id, "urn:"), func(t *testing.T) {
			for _, ex := range examples[id] {
				total++
				if ex.code != "" {
					invalid++
				}
				checkExample(t, r, id, ex)
			}
		})
	}
	t.Logf("%d examples, %d of them invalid", total, invalid)
}

func checkExample(t *testing.T, r *reference, id string, ex example) {
	t.Helper()
	msg := newMessage(t, id)
	err := msg.UnmarshalOCPP(ex.json)
	refOK, refErr := r.valid(id, ex.json)
	if (err == nil) != refOK {
		t.Errorf("%s: disagreement on %s\nours: %v\nreference: %v", ex.name, ex.json, err, refErr)
		return
	}
	if ex.code == "" {
		if err != nil {
			t.Errorf("%s: want valid, got %v\n%s", ex.name, err, ex.json)
			return
		}
		checkRoundTrip(t, r, id, ex, msg)
		return
	}
	oe, ok := ocpp.AsError(err)
	if !ok {
		t.Errorf("%s: want %s, got %v (not an *ocpp.Error)\n%s", ex.name, ex.code, err, ex.json)
		return
	}
	if oe.Code != ex.code {
		t.Errorf("%s: want %s, got %v\n%s", ex.name, ex.code, err, ex.json)
	}
	if ex.path != "" && !strings.HasPrefix(oe.Description, ex.path+": ") {
		t.Errorf("%s: want description about %s, got %q", ex.name, ex.path, oe.Description)
	}
}

func checkRoundTrip(t *testing.T, r *reference, id string, ex example, msg Message) {
	t.Helper()
	if err := msg.Validate(); err != nil {
		t.Errorf("%s: decoded value fails Validate: %v\n%s", ex.name, err, ex.json)
	}
	enc := msg.AppendJSON(nil)
	if ok, err := r.valid(id, enc); !ok {
		t.Errorf("%s: our encoding is invalid for the reference: %v\n%s", ex.name, err, enc)
	}
	again := newMessage(t, id)
	if err := again.UnmarshalOCPP(enc); err != nil {
		t.Errorf("%s: re-decoding %s: %v", ex.name, enc, err)
		return
	}
	if enc2 := again.AppendJSON(nil); !bytes.Equal(enc, enc2) {
		t.Errorf("%s: encoding not stable:\n%s\n%s", ex.name, enc, enc2)
	}
	if !ex.subMsec && !reflect.DeepEqual(msg, again) {
		t.Errorf("%s: round trip changed the value:\n%#v\n%#v", ex.name, msg, again)
	}
}

// TestValidateRequestResponse covers the action-level entry points.
func TestValidateRequestResponse(t *testing.T) {
	if err := ValidateRequest("Heartbeat", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := ValidateResponse("Heartbeat", []byte(`{"currentTime":"2024-05-01T12:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, ValidateResponse("Heartbeat", []byte(`{}`)), ocpp.OccurenceConstraintViolation)
	wantCode(t, ValidateRequest("Heartbeat", []byte(`{"x":1}`)), ocpp.FormationViolation)
	wantCode(t, ValidateRequest("Heartbeet", []byte(`{}`)), ocpp.NotImplemented)
	wantCode(t, ValidateResponse("", []byte(`{}`)), ocpp.NotImplemented)
}

func wantCode(t *testing.T, err error, code ocpp.ErrorCode) {
	t.Helper()
	oe, ok := ocpp.AsError(err)
	if !ok {
		t.Fatalf("want %s, got %v", code, err)
	}
	if oe.Code != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func TestActions(t *testing.T) {
	cp := map[string]bool{
		"Authorize": true, "BootNotification": true, "DiagnosticsStatusNotification": true,
		"FirmwareStatusNotification": true, "Heartbeat": true, "MeterValues": true, "StartTransaction": true,
		"StatusNotification": true, "StopTransaction": true, "LogStatusNotification": true,
		"SecurityEventNotification": true, "SignCertificate": true, "SignedFirmwareStatusNotification": true,
	}
	acts := Actions()
	if len(acts) != 39 {
		t.Fatalf("got %d actions, want 39", len(acts))
	}
	for _, a := range acts {
		want := CentralSystem
		switch {
		case a.Name == "DataTransfer":
			want = Both
		case cp[a.Name]:
			want = ChargePoint
		}
		if a.Initiator != want {
			t.Errorf("%s: initiator %v, want %v", a.Name, a.Initiator, want)
		}
		info, ok := Lookup(a.Name)
		if !ok || info.Name != a.Name {
			t.Errorf("Lookup(%s) = %v, %v", a.Name, info.Name, ok)
		}
		req := a.NewRequest()
		if req.Action() != a.Name {
			t.Errorf("%s: request says action %s", a.Name, req.Action())
		}
		_ = a.NewResponse()
	}
	if _, ok := Lookup("Foo"); ok {
		t.Error("Lookup(Foo) succeeded")
	}
	acts[0].Name = "changed"
	if Actions()[0].Name == "changed" {
		t.Error("Actions returned the table itself")
	}
	if !ChargePoint.SentBy(ChargePoint) || ChargePoint.SentBy(CentralSystem) || !Both.SentBy(CentralSystem) {
		t.Error("SentBy is wrong")
	}
}
