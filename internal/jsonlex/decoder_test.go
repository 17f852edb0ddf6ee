package jsonlex

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// valid reports whether the lexer accepts b as exactly one JSON value.
func valid(b []byte) bool {
	d := NewDecoder(b)
	_, ok := d.Skip()
	return ok && d.End()
}

func TestSyntax(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{`{}`, true},
		{` { "a" : [ 1 , -2.5e+3 , "x" , true , false , null , { } , [ ] ] } `, true},
		{`[]`, true},
		{`[[[]]]`, true},
		{`"\u00e9\ud83d\ude00\/"`, true},
		{`0`, true},
		{`-0.0e-0`, true},
		{`{"a":1{"b":2}}`, false}, // a value directly followed by an object
		{`[1[2]]`, false},
		{`{"a":1 "b":2}`, false},
		{`{"a":1,}`, false},
		{`[1,]`, false},
		{`[,1]`, false},
		{`{,}`, false},
		{`{"a"}`, false},
		{`{"a":}`, false},
		{`{1:2}`, false},
		{`01`, false},
		{`1.`, false},
		{`.5`, false},
		{`1e`, false},
		{`-`, false},
		{`+1`, false},
		{`tru`, false},
		{`nul`, false},
		{`"abc`, false},
		{"\"a\x01\"", false},
		{`"\x"`, false},
		{`"\u12"`, false},
		{`{} {}`, false},
		{``, false},
		{`[`, false},
		{`]`, false},
		{strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2), false},
		{strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), true},
	}
	for _, c := range cases {
		if got := valid([]byte(c.in)); got != c.ok {
			t.Errorf("%q: valid = %v, want %v", c.in, got, c.ok)
		}
	}
}

func TestKeyElemWalk(t *testing.T) {
	d := NewDecoder([]byte(` {"a": [1, 2], "b\n": {}, "c": "x"} `))
	var keys []string
	for {
		k, ok := d.Key()
		if !ok {
			break
		}
		keys = append(keys, string(k))
		switch d.Peek() {
		case Array:
			n := 0
			for d.Elem() {
				if v, res := d.Int64(); res != IntOK || v != int64(n+1) {
					t.Errorf("element %d: %v %v", n, v, res)
				}
				n++
			}
		case Object:
			if _, ok := d.Key(); ok {
				t.Error("empty object has a key")
			}
		default:
			if s, ok := d.String(); !ok || s != "x" {
				t.Errorf("string %q", s)
			}
		}
	}
	if !d.End() || d.Err() != nil {
		t.Fatal(d.Err())
	}
	if strings.Join(keys, ",") != "a,b\n,c" {
		t.Errorf("keys %q", keys)
	}
}

func TestStr(t *testing.T) {
	cases := map[string]string{
		`"plain"`:             "plain",
		`"a\"b\\c\/d"`:        `a"b\c/d`,
		`"\b\f\n\r\t"`:        "\b\f\n\r\t",
		`"\u00e9\u20AC"`:      "é€",
		`"\ud83d\ude00"`:      "😀",
		`"\ud83d"`:            "\uFFFD",
		`"\ude00\ud83d"`:      "\uFFFD\uFFFD",
		`"\ud83dx"`:           "\uFFFDx",
		`"\ud83d\u0041"`:      "\uFFFDA",
		`"ü raw"`:             "ü raw",
		`"` + "\xff" + `"`:    "\xff", // raw invalid UTF-8 is passed through
		`"esc then raw \n ü"`: "esc then raw \n ü",
		`"\u0000"`:            "\x00",
		`"long ` + strings.Repeat("x", 300) + `\n"`: "long " + strings.Repeat("x", 300) + "\n",
	}
	for in, want := range cases {
		d := NewDecoder([]byte(in))
		got, ok := d.Str()
		if !ok || string(got) != want {
			t.Errorf("%s: got %q, %v (%v), want %q", in, got, ok, d.Err(), want)
		}
	}
}

func TestInt64(t *testing.T) {
	cases := []struct {
		in  string
		v   int64
		res IntResult
	}{
		{"0", 0, IntOK},
		{"-0", 0, IntOK},
		{"42", 42, IntOK},
		{"-42", -42, IntOK},
		{"1.0", 1, IntOK},
		{"1e2", 100, IntOK},
		{"1E+2", 100, IntOK},
		{"100e-2", 1, IntOK},
		{"10.50e1", 105, IntOK},
		{"0.000e99999999999", 0, IntOK},
		{"0e-5", 0, IntOK},
		{"1.5", 0, IntFraction},
		{"1e-1", 0, IntFraction},
		{"1.0000000000000000001", 0, IntFraction}, // rounds to 1.0 as a float64
		{"12345678901234567.8", 0, IntFraction},
		{"1e-99999999999", 0, IntFraction},
		{"9223372036854775807", math.MaxInt64, IntOK},
		{"-9223372036854775808", math.MinInt64, IntOK},
		{"9223372036854775808", 0, IntRange},
		{"-9223372036854775809", 0, IntRange},
		{"92233720368547758070e-1", math.MaxInt64, IntOK},
		{"1e19", 0, IntRange},
		{"1e400", 0, IntRange},
		{"1e99999999999", 0, IntRange},
		{"x", 0, IntSyntax},
		{`"1"`, 0, IntSyntax},
	}
	for _, c := range cases {
		v, res := NewDecoder([]byte(c.in)).Int64()
		if v != c.v || res != c.res {
			t.Errorf("%s: got %d, %d; want %d, %d", c.in, v, res, c.v, c.res)
		}
	}
}

func TestFloat64(t *testing.T) {
	if f, ok := NewDecoder([]byte("16.3")).Float64(); !ok || f != 16.3 {
		t.Errorf("16.3: %v %v", f, ok)
	}
	if _, ok := NewDecoder([]byte("1e400")).Float64(); ok {
		t.Error("1e400 should be out of range")
	}
}

func TestParseDateTime(t *testing.T) {
	ok := map[string]time.Time{
		"2024-05-01T12:00:00Z":           time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		"2024-05-01t12:00:00z":           time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		"2024-05-01T12:00:00.5Z":         time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC),
		"2024-05-01T12:00:00.123456789Z": time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC),
		"2024-05-01T14:00:00+02:00":      time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		"2024-05-01T06:30:00-05:30":      time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		"2024-02-29T00:00:00Z":           time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"2016-12-31T23:59:60Z":           time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC),
		"2017-01-01T00:59:60+01:00":      time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for in, want := range ok {
		got, valid := ParseDateTime([]byte(in))
		if !valid || !got.Equal(want) {
			t.Errorf("%s: got %v, %v; want %v", in, got, valid, want)
		}
	}
	for _, in := range []string{
		"2024-05-01T12:00:00", "2021-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2024-05-01 12:00:00Z", "2024-05-01T12:00:60Z", "2016-12-31T23:59:60+01:00", "2024-05-01T24:00:00Z",
		"2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200", "2024-05-01T12:00:00+24:00", "2024-05-01T12:00:00ZZ",
		"2024-5-01T12:00:00Z", "2024-05-01T12:00Z", "", "2024-05-01", "+024-05-01T12:00:00Z", "2024-05-01T12:00:00.1",
	} {
		if _, valid := ParseDateTime([]byte(in)); valid {
			t.Errorf("%s: accepted", in)
		}
	}
}

func TestAppend(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\`, "\n\r\t\x00\x1f", "é😀", "bad\xffutf8", "<&>"} {
		b := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q: %s is not JSON: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want {
			t.Errorf("%q: read back %q", s, back)
		}
	}
	floats := map[float64]string{0: "0", 16.3: "16.3", -0.1: "-0.1", 1e21: "1e+21", 1e-7: "1e-07", 123456.5: "123456.5", 3e15: "3000000000000000", math.NaN(): "0"}
	for f, want := range floats {
		if got := string(AppendFloat(nil, f)); got != want {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
	ts := time.Date(2024, 5, 1, 14, 0, 0, 250e6, time.FixedZone("x", 7200))
	if got := string(AppendTime(nil, ts)); got != `"2024-05-01T12:00:00.250Z"` {
		t.Errorf("time %s", got)
	}
	if got := string(AppendTime(nil, ts.Truncate(time.Second))); got != `"2024-05-01T12:00:00Z"` {
		t.Errorf("time %s", got)
	}
}

func TestAllocs(t *testing.T) {
	in := []byte(`{"a":[1,2.5,"x",true,null],"b":{"c":"2024-05-01T12:00:00Z"}}`)
	d := NewDecoder(nil)
	n := testing.AllocsPerRun(100, func() {
		d.Reset(in)
		if _, ok := d.Skip(); !ok {
			t.Fatal(d.Err())
		}
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// FuzzDecoder checks the lexer against encoding/json: the same inputs are
// JSON, strings read the same, and nothing panics.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1{"b":2}}`, `[1[2]]`, `"\ud83d\ude00"`, `{"a":[1,2,{"b":null}],"c":"\u00e9"}`,
		`1.0000000000000000001`, `-0e5`, `[1,]`, "\"\xff\"", `{"a":"b",}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := valid(b)
		want := json.Valid(b)
		if got != want && !deep(b) {
			t.Fatalf("%q: lexer says %v, encoding/json %v", b, got, want)
		}
		d := NewDecoder(b)
		switch d.Peek() {
		case String:
			s, ok := d.Str()
			var ref string
			if ok && d.End() {
				if err := json.Unmarshal(b, &ref); err != nil {
					t.Fatalf("%q: lexer reads %q, encoding/json fails: %v", b, s, err)
				}
				if strings.ToValidUTF8(string(s), "\uFFFD") != ref && utf8.Valid(s) {
					t.Fatalf("%q: lexer reads %q, encoding/json %q", b, s, ref)
				}
			}
		case Number:
			if v, res := d.Int64(); res == IntOK {
				var f float64
				if json.Unmarshal(b, &f) == nil && math.Abs(f-float64(v)) > math.Abs(f)*1e-15 {
					t.Fatalf("%q: Int64 = %d, float %v", b, v, f)
				}
			}
		}
	})
}

// deep reports input nested beyond the lexer's limit, which it refuses on
// purpose.
func deep(b []byte) bool {
	depth, maxd := 0, 0
	for _, c := range b {
		switch c {
		case '[', '{':
			depth++
			maxd = max(maxd, depth)
		case ']', '}':
			depth--
		}
	}
	return maxd > maxDepth
}
