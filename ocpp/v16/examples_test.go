package v16

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/wattson-csms/wattson/ocpp"
)

// The example generator reads the official schema directly (not the Go
// types, not the generator's model), so that it is an independent account
// of what the schema allows.

// example is one payload with the verdict we expect from our decoder: code
// "" for valid, else the CALLERROR code and the path the description names.
type example struct {
	name    string
	json    []byte
	code    ocpp.ErrorCode
	path    string
	subMsec bool // has a time finer than milliseconds: re-encoding rounds it
}

// raw is a JSON literal kept as written (1.0, 1e2, escapes).
func raw(s string) json.RawMessage { return json.RawMessage(s) }

type exampleGen struct {
	root map[string]any
}

func (g *exampleGen) resolve(s map[string]any) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name := strings.TrimPrefix(ref, "#/definitions/")
	defs, _ := g.root["definitions"].(map[string]any)
	d, _ := defs[name].(map[string]any)
	return d
}

func props(s map[string]any) []string {
	p, _ := s["properties"].(map[string]any)
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func prop(s map[string]any, name string) map[string]any {
	p, _ := s["properties"].(map[string]any)
	ps, _ := p[name].(map[string]any)
	return ps
}

func required(s map[string]any) map[string]bool {
	out := map[string]bool{}
	r, _ := s["required"].([]any)
	for _, n := range r {
		out[n.(string)] = true
	}
	return out
}

func maxLength(s map[string]any) (int, bool) {
	f, ok := s["maxLength"].(float64)
	return int(f), ok
}

// value is a valid value of s; full fills optional properties too.
func (g *exampleGen) value(s map[string]any, full bool) any {
	s = g.resolve(s)
	if e, ok := s["enum"].([]any); ok {
		return e[len(e)-1]
	}
	switch s["type"] {
	case "string":
		switch s["format"] {
		case "date-time":
			return "2024-05-01T12:30:00.250Z"
		case "uri":
			return "ftp://diag.example.com/upload/cp-17"
		}
		if n, ok := maxLength(s); ok && n < 8 {
			return strings.Repeat("v", n)
		}
		return "value-1"
	case "integer":
		return 17
	case "number":
		if _, ok := s["multipleOf"]; ok {
			return raw("16.3")
		}
		return 2.5
	case "boolean":
		return true
	case "array":
		items, _ := s["items"].(map[string]any)
		n := 1
		if full {
			n = 2
		}
		out := make([]any, n)
		for i := range out {
			out[i] = g.value(items, full)
		}
		return out
	case "object":
		obj := map[string]any{}
		req := required(s)
		for _, n := range props(s) {
			if full || req[n] {
				obj[n] = g.value(prop(s, n), full)
			}
		}
		return obj
	}
	panic(fmt.Sprintf("no example for schema %v", s))
}

// mutation is a changed value at a path below the value being mutated.
type mutation struct {
	name    string
	v       any
	code    ocpp.ErrorCode // "" when the change keeps the value valid
	path    string
	subMsec bool
}

func joinPath(parent, child string) string {
	switch {
	case child == "":
		return parent
	case strings.HasPrefix(child, "["):
		return parent + child
	}
	return parent + "." + child
}

// mutations returns variants of v (a valid value of s), valid and invalid.
func (g *exampleGen) mutations(s map[string]any, v any) []mutation {
	s = g.resolve(s)
	var out []mutation
	typeErr := func(name string, bad any) {
		out = append(out, mutation{name: "type " + name, v: bad, code: ocpp.TypeConstraintViolation})
	}
	t, _ := s["type"].(string)
	for _, w := range []struct {
		typ string
		v   any
	}{{"null", nil}, {"boolean", false}, {"integer", 3}, {"number", raw("2.5")}, {"string", "1"},
		{"array", []any{}}, {"object", map[string]any{}}} {
		ok := w.typ == t || t == "number" && w.typ == "integer"
		if t == "integer" && w.typ == "number" {
			ok = false
		}
		if !ok {
			typeErr(w.typ, w.v)
		}
	}
	if e, ok := s["enum"].([]any); ok {
		for _, val := range e {
			out = append(out, mutation{name: "enum value " + val.(string), v: val})
		}
		first := e[0].(string)
		out = append(out,
			mutation{name: "not in enum", v: "Foo", code: ocpp.PropertyConstraintViolation},
			mutation{name: "enum case", v: strings.ToLower(first), code: ocpp.PropertyConstraintViolation},
			mutation{name: "enum escaped", v: raw(`"\u` + fmt.Sprintf("%04x", first[0]) + first[1:] + `"`)},
			mutation{name: "enum with space", v: first + " ", code: ocpp.PropertyConstraintViolation},
		)
		return out
	}
	switch t {
	case "string":
		switch s["format"] {
		case "date-time":
			for _, c := range dateTimeCases {
				m := mutation{name: "date-time " + c.s, v: c.s, subMsec: c.subMsec}
				if !c.valid {
					m.code = ocpp.PropertyConstraintViolation
				}
				out = append(out, m)
			}
		case "uri":
			for _, c := range uriCases {
				m := mutation{name: "uri " + c.s, v: c.s}
				if !c.valid {
					m.code = ocpp.PropertyConstraintViolation
				}
				out = append(out, m)
			}
		}
		if n, ok := maxLength(s); ok {
			long := ocpp.PropertyConstraintViolation
			out = append(out,
				mutation{name: "maxLength ascii", v: strings.Repeat("a", n)},
				mutation{name: "maxLength+1 ascii", v: strings.Repeat("a", n+1), code: long},
				mutation{name: "maxLength 2-byte", v: strings.Repeat("é", n)},
				mutation{name: "maxLength 4-byte", v: strings.Repeat("😀", n)},
				mutation{name: "maxLength+1 2-byte", v: strings.Repeat("é", n+1), code: long},
				mutation{name: "maxLength escaped", v: raw(`"` + strings.Repeat(`\u00e9`, n) + `"`)},
				mutation{name: "maxLength surrogate pairs", v: raw(`"` + strings.Repeat(`\ud83d\ude00`, n) + `"`)},
				mutation{name: "maxLength+1 escaped", v: raw(`"` + strings.Repeat(`\n`, n+1) + `"`), code: long},
			)
			if s["format"] == nil {
				out = append(out, mutation{name: "empty string", v: ""})
			}
		} else if s["format"] == nil {
			out = append(out,
				mutation{name: "long string", v: strings.Repeat("ü", 3000)},
				mutation{name: "empty string", v: ""},
				mutation{name: "escapes", v: raw(`"a\"b\\c\/d\b\f\n\r\t\u0000\u20ac"`)},
			)
		}
	case "integer":
		for _, lit := range []string{"0", "-0", "1.0", "1e2", "1E+2", "10.0e-1", "-42", "2147483648", "100e-2"} {
			out = append(out, mutation{name: "integer " + lit, v: raw(lit)})
		}
		for _, lit := range []string{"1.5", "1e-1", "1.0000000000000000001", "-0.5", "12345678901234567.8"} {
			out = append(out, mutation{name: "integer " + lit, v: raw(lit), code: ocpp.TypeConstraintViolation})
		}
	case "number":
		if _, ok := s["multipleOf"]; ok {
			for _, lit := range []string{"16.3", "0", "-0.1", "1e1", "163e-1", "0.10", "32", "1.6E1", "0.0"} {
				out = append(out, mutation{name: "multipleOf " + lit, v: raw(lit)})
			}
			for _, lit := range []string{"16.35", "0.30000000000000004", "1e-2", "-0.05", "3.14159"} {
				out = append(out, mutation{name: "multipleOf " + lit, v: raw(lit), code: ocpp.PropertyConstraintViolation})
			}
		}
	case "boolean":
		out = append(out, mutation{name: "false", v: false})
	case "array":
		items, _ := s["items"].(map[string]any)
		minItems, _ := s["minItems"].(float64)
		empty := mutation{name: "empty array", v: []any{}}
		if minItems > 0 {
			empty.code = ocpp.OccurenceConstraintViolation
		}
		out = append(out, empty)
		arr := v.([]any)
		for _, m := range g.mutations(items, arr[0]) {
			c := append([]any{}, arr...)
			c[0] = m.v
			out = append(out, mutation{name: "[0] " + m.name, v: c, code: m.code, path: joinPath("[0]", m.path), subMsec: m.subMsec})
		}
		// An invalid later element, after a valid one.
		c := append([]any{}, arr...)
		c = append(c, nil)
		out = append(out, mutation{name: "null element", v: c, code: ocpp.TypeConstraintViolation, path: fmt.Sprintf("[%d]", len(arr))})
	case "object":
		obj := v.(map[string]any)
		req := required(s)
		for _, n := range props(s) {
			if _, ok := obj[n]; !ok {
				continue
			}
			if req[n] {
				c := copyObj(obj)
				delete(c, n)
				out = append(out, mutation{name: "drop " + n, v: c, code: ocpp.OccurenceConstraintViolation, path: n})
			}
			for _, m := range g.mutations(prop(s, n), obj[n]) {
				c := copyObj(obj)
				c[n] = m.v
				out = append(out, mutation{name: n + ": " + m.name, v: c, code: m.code, path: joinPath(n, m.path), subMsec: m.subMsec})
			}
		}
		c := copyObj(obj)
		c["wattsonExtra"] = 1
		code := ocpp.FormationViolation
		if ap, ok := s["additionalProperties"].(bool); !ok || ap {
			code = ""
		}
		out = append(out, mutation{name: "unknown property", v: c, code: code, path: "wattsonExtra"})
	}
	return out
}

func copyObj(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

var dateTimeCases = []struct {
	s       string
	valid   bool
	subMsec bool
}{
	{"2024-05-01T12:00:00Z", true, false},
	{"2024-05-01T12:00:00.123Z", true, false},
	{"2024-05-01T12:00:00.1Z", true, false},
	{"2024-05-01T12:00:00.123456789Z", true, true},
	{"2024-05-01T12:00:00.1234567891234Z", true, true},
	{"2024-05-01t12:00:00z", true, false},
	{"2024-05-01T12:00:00+02:00", true, false},
	{"2024-05-01T12:00:00-05:30", true, false},
	{"2024-02-29T00:00:00Z", true, false},
	{"2000-02-29T00:00:00Z", true, false},
	{"2016-12-31T23:59:60Z", true, false},
	{"2017-01-01T01:29:60+01:30", true, false},
	{"2016-12-31T18:59:60-05:00", true, false},
	{"2024-05-01T12:00:00", false, false},
	{"2024-05-01T12:00:00.123", false, false},
	{"2021-02-30T00:00:00Z", false, false},
	{"2023-02-29T00:00:00Z", false, false},
	{"1900-02-29T00:00:00Z", false, false},
	{"2024-04-31T00:00:00Z", false, false},
	{"2024-13-01T00:00:00Z", false, false},
	{"2024-00-01T00:00:00Z", false, false},
	{"2024-05-01 12:00:00Z", false, false},
	{"2024-05-01T12:00:60Z", false, false},
	{"2016-12-31T23:59:60+01:00", false, false},
	{"2016-12-31T23:59:61Z", false, false},
	{"2024-05-01T24:00:00Z", false, false},
	{"2024-05-01T12:60:00Z", false, false},
	{"2024-05-01T12:00:00.Z", false, false},
	{"2024-05-01T12:00Z", false, false},
	{"2024-5-01T12:00:00Z", false, false},
	{"2024-05-01T12:00:00+0200", false, false},
	{"2024-05-01T12:00:00+24:00", false, false},
	{"2024-05-01T12:00:00+02:60", false, false},
	{"2024-05-01T12:00:00ZZ", false, false},
	{"2024-05-01T12:00:00 Z", false, false},
	{"2024-05-01", false, false},
	{"", false, false},
	{"12:00:00Z", false, false},
	{"20240501T120000Z", false, false},
	{"2024-05-01T12:00:00UTC", false, false},
}

var uriCases = []struct {
	s     string
	valid bool
}{
	{"https://example.com/diagnostics", true},
	{"ftp://user:secret@192.0.2.7:2121/fw/image.bin", true},
	{"http://[2001:db8::1]/x", true},
	{"urn:example:firmware", true},
	{"example.com/diagnostics", false},
	{"/upload", false},
	{"", false},
	{"http://[fe80::1%25eth0]/x", false},
	{"http://2001:db8::1/x", false},
	{"ht tp://example.com", false},
}

// examples returns the examples of one message schema.
func (g *exampleGen) examples() []example {
	s := g.root
	var out []example
	add := func(name string, v any, code ocpp.ErrorCode, path string, subMsec bool) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		out = append(out, example{name: name, json: b, code: code, path: path, subMsec: subMsec})
	}
	minimal := g.value(s, false)
	full := g.value(s, true)
	add("minimal", minimal, "", "", false)
	add("full", full, "", "", false)
	for _, m := range g.mutations(s, full) {
		if m.code == ocpp.TypeConstraintViolation && m.path == "" {
			continue // the payload itself: see below
		}
		add(m.name, m.v, m.code, m.path, m.subMsec)
	}
	for _, m := range g.mutations(s, minimal) {
		if m.path != "" && strings.HasPrefix(m.name, "drop ") {
			add("minimal "+m.name, m.v, m.code, m.path, m.subMsec)
		}
	}
	fullJSON, _ := json.Marshal(full)
	formation := func(name, js string) {
		out = append(out, example{name: name, json: []byte(js), code: ocpp.FormationViolation})
	}
	for _, js := range []string{"null", "[]", "[{}]", `"x"`, "17", "true"} {
		formation("payload "+js, js)
	}
	formation("truncated", string(fullJSON[:len(fullJSON)-1]))
	formation("trailing data", string(fullJSON)+" {}")
	formation("trailing comma", string(fullJSON[:len(fullJSON)-1])+",}")
	if strings.Contains(string(fullJSON), ",") {
		formation("missing comma", strings.Replace(string(fullJSON), ",", " ", 1))
	}
	formation("empty", "")
	formation("garbage", "{]")
	out = append(out, example{name: "whitespace", json: []byte(" \t\r\n" + string(fullJSON) + "\n ")})

	// Duplicate names: the last one counts, as in encoding/json.
	full2, _ := full.(map[string]any)
	for _, n := range props(s) {
		if _, ok := full2[n]; !ok {
			continue
		}
		good, _ := json.Marshal(full2[n])
		bad := `null`
		out = append(out,
			example{name: "duplicate " + n + " bad first", json: []byte(fmt.Sprintf(`{%q:%s,%s`, n, bad, fullJSON[1:]))},
			example{name: "duplicate " + n + " bad last", json: []byte(fmt.Sprintf(`%s,%q:%s}`, fullJSON[:len(fullJSON)-1], n, bad)),
				code: ocpp.TypeConstraintViolation, path: n},
			example{name: "duplicate " + n + " twice good", json: []byte(fmt.Sprintf(`{%q:%s,%s`, n, good, fullJSON[1:]))},
		)
		break
	}
	return out
}
