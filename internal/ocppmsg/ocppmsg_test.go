package ocppmsg

import (
	"math"
	"testing"

	"github.com/wattson-csms/wattson/ocpp"
)

func TestMultiple(t *testing.T) {
	cases := []struct {
		div, lit string
		want     bool
	}{
		{"0.1", "16.3", true},
		{"0.1", "16.35", false},
		{"0.1", "163e-1", true},
		{"0.1", "1e-2", false},
		{"0.1", "0", true},
		{"0.1", "-0.0e7", true},
		{"0.1", "0.30000000000000004", false},
		{"0.1", "1e-999999999999", false},
		{"0.1", "5e999999999999", true},
		{"1", "2.0", true},
		{"1", "2.5", false},
		{"0.01", "1.25", true},
		{"0.3", "0.9", true}, // not a power of ten: exact rational arithmetic
		{"0.3", "1", false},
		{"2.5", "7.5e1", true},
		{"0.3", "3e999999", false}, // too large to decide cheaply: refused
	}
	for _, c := range cases {
		if got := NewMultiple(c.div).Lit([]byte(c.lit)); got != c.want {
			t.Errorf("%s multiple of %s: %v, want %v", c.lit, c.div, got, c.want)
		}
	}
	m := NewMultiple("0.1")
	tenth := 0.1
	for f, want := range map[float64]bool{16.3: true, tenth + 0.2: false, 32: true, -0.1: true, 1e300: true} {
		if got := CheckFloat(f, m) == nil; got != want {
			t.Errorf("CheckFloat(%v): %v, want %v", f, got, want)
		}
	}
	if err := CheckFloat(math.Inf(1), nil); err == nil || err.Code != ocpp.TypeConstraintViolation {
		t.Errorf("Inf: %v", err)
	}
}

func TestValidURI(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.com/x": true, "ftp://u:p@h:21/f": true, "urn:x:y": true, "http://[::1]/": true,
		"example.com": false, "/x": false, "": false, "http://[fe80::1%25eth0]/": false, "http://::1/": false,
	} {
		if got := ValidURI(s); got != want {
			t.Errorf("ValidURI(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestErrorPath(t *testing.T) {
	err := NotAllowed([]byte("Foo")).In("measurand").At(2).In("sampledValue").At(0).In("meterValue")
	want := `meterValue[0].sampledValue[2].measurand: "Foo" is not an allowed value`
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
	oe, ok := ocpp.AsError(err.OCPP())
	if !ok || oe.Code != ocpp.PropertyConstraintViolation || oe.Description != want {
		t.Errorf("OCPP() = %v", oe)
	}
	var nilErr *Error
	if nilErr.OCPP() != nil || nilErr.In("x") != nil {
		t.Error("nil must stay nil")
	}
}

func TestDecoderStrings(t *testing.T) {
	var d Decoder
	d.Reset([]byte(`["plain", "esc\"aped", "bad` + "\xff" + `", "ééé"]`))
	var got []string
	for d.Elem() {
		var s string
		if err := d.String(&s, 3); err != nil {
			got = append(got, "ERR:"+err.Msg)
			continue
		}
		got = append(got, s)
	}
	want := []string{"ERR:longer than maxLength 3", "ERR:longer than maxLength 3", "ERR:longer than maxLength 3", "ééé"}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	d.Reset([]byte(`["a` + "\xff" + `", "x\ny"]`))
	for _, want := range []string{"a\uFFFD", "x\ny"} {
		var s string
		d.Elem()
		if err := d.String(&s, -1); err != nil || s != want {
			t.Errorf("got %q, %v; want %q", s, err, want)
		}
	}
}
