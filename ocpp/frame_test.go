package ocpp

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

func TestParseFrame(t *testing.T) {
	for _, tc := range []struct {
		in      string
		typ     MessageType
		id      string
		hasID   bool
		action  string
		payload string
		code    ErrorCode // "" means it parses
	}{
		{in: `[2,"1","Heartbeat",{}]`, typ: TypeCall, id: "1", hasID: true, action: "Heartbeat", payload: `{}`},
		{in: ` [ 2 , "a\"b" , "Boot\u004eotification" , {"x":[1,2,{"y":null}]} ] `, typ: TypeCall, id: `a"b`, hasID: true, action: "BootNotification", payload: `{"x":[1,2,{"y":null}]}`},
		{in: `[3,"x",{"status":"Accepted"}]`, typ: TypeCallResult, id: "x", hasID: true, payload: `{"status":"Accepted"}`},
		{in: `[4,"x","NotSupported","nope",{}]`, typ: TypeCallError, id: "x", hasID: true},
		{in: `[4,"x","NotSupported"]`, typ: TypeCallError, id: "x", hasID: true},
		{in: `[2.0,"1","Heartbeat",{}]`, typ: TypeCall, id: "1", hasID: true, action: "Heartbeat", payload: `{}`},
		{in: ``, code: FormationViolation},
		{in: `[`, code: FormationViolation},
		{in: `[2`, code: FormationViolation},
		{in: `["2","1","Heartbeat",{}]`, code: FormationViolation},
		{in: `[2.5,"1","Heartbeat",{}]`, code: FormationViolation},
		{in: `[2,1,"Heartbeat",{}]`, code: FormationViolation},
		{in: `[2,"1"`, typ: TypeCall, id: "1", hasID: true, code: FormationViolation},
		{in: `[2,"1","Heartbeat",{}`, typ: TypeCall, id: "1", hasID: true, code: FormationViolation},
		{in: `[2,"1","Heartbeat","{}"]`, typ: TypeCall, id: "1", hasID: true, code: FormationViolation},
		{in: `[2,"1","Heartbeat",{}]]`, typ: TypeCall, id: "1", hasID: true, code: FormationViolation},
		{in: `[3,"1"]`, typ: TypeCallResult, id: "1", hasID: true, code: FormationViolation},
		{in: `[4,"1",5]`, typ: TypeCallError, id: "1", hasID: true, code: FormationViolation},
		{in: `[5,"1",{}]`, typ: 5, id: "1", hasID: true, code: ProtocolError},
	} {
		var f Frame
		err := ParseFrame([]byte(tc.in), &f)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
				continue
			}
		} else {
			var fe *FrameError
			if !errors.As(err, &fe) || fe.Code != tc.code {
				t.Errorf("%s: error %v, want code %s", tc.in, err, tc.code)
			}
		}
		if f.HasID != tc.hasID || (tc.hasID && (string(f.ID) != tc.id || f.Type != tc.typ)) {
			t.Errorf("%s: type %d id %q (has %v)", tc.in, f.Type, f.ID, f.HasID)
		}
		if tc.code == "" && (string(f.Action) != tc.action || string(f.Payload) != tc.payload) {
			t.Errorf("%s: action %q payload %s", tc.in, f.Action, f.Payload)
		}
	}
}

func TestAppendFramesAreValidJSON(t *testing.T) {
	id := []byte("id\"\\\x01é")
	frames := [][]byte{
		AppendCall(nil, string(id), "Heartbeat", nil),
		AppendCallResult(nil, id, RawJSON(`{"a":1}`)),
		AppendCallError(nil, id, &Error{Code: "Bogus", Description: "a\nb\"c"}),
	}
	for _, b := range frames {
		var v []any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		var f Frame
		if err := ParseFrame(b, &f); err != nil || string(f.ID) != string(id) {
			t.Fatalf("%s: reparse: %v, id %q", b, err, f.ID)
		}
	}
	var f Frame
	_ = ParseFrame(frames[2], &f)
	if string(f.ErrorCode) != string(GenericError) {
		t.Errorf("an invalid error code must be sent as GenericError, got %s", f.ErrorCode)
	}
}

// FuzzParseFrame: no input panics; what parses re-encodes to a frame that
// parses to the same thing; an error leaves a usable id only when one was
// really there.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{
		`[2,"1","Heartbeat",{}]`, `[3,"x",{"status":"Accepted"}]`, `[4,"x","NotSupported","nope",{}]`,
		`[2,"a\u0041","B",{"k":[1,-2.5e3,true,false,null,"\ud83d\ude00"]}]`, `[2,"1","A",{"a":{"b":{"c":[[[]]]}}}]`,
		`[5,"1"]`, `[`, `"`, `[2,"1","Heartbeat",{}] x`, `[2,"\uD800","A",{}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr Frame
		err := ParseFrame(data, &fr)
		if err != nil {
			return
		}
		var out []byte
		switch fr.Type {
		case TypeCall:
			out = AppendCall(nil, string(fr.ID), string(fr.Action), RawJSON(fr.Payload))
		case TypeCallResult:
			out = AppendCallResult(nil, fr.ID, RawJSON(fr.Payload))
		case TypeCallError:
			return
		default:
			t.Fatalf("parsed unknown type %d", fr.Type)
		}
		if !json.Valid(out) {
			t.Fatalf("re-encoded frame is not JSON: %s", out)
		}
		id, action, payload := string(fr.ID), string(fr.Action), string(fr.Payload)
		var again Frame
		if err := ParseFrame(out, &again); err != nil {
			t.Fatalf("re-encoded frame %s does not parse: %v", out, err)
		}
		// Invalid UTF-8 is replaced by U+FFFD on the way out; all else stays.
		if string(again.ID) != id && utf8.ValidString(id) {
			t.Fatalf("id changed: %q -> %q", id, again.ID)
		}
		if string(again.Payload) != payload || (fr.Type == TypeCall && string(again.Action) != action && utf8.ValidString(action)) {
			t.Fatalf("frame changed: %s -> %s", data, out)
		}
	})
}

func BenchmarkParseFrame(b *testing.B) {
	data := []byte(`[2,"19223201","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"2026-11-22T10:00:00Z"}]`)
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := ParseFrame(data, &f); err != nil {
			b.Fatal(err)
		}
	}
}
