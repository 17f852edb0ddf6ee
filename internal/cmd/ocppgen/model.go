package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

type kind int

const (
	kString kind = iota
	kURI
	kInt
	kFloat
	kBool
	kTime
	kEnum
	kObject
	kArray
)

// typeRef is the type of one value: a scalar with its constraints, or a
// reference to a named enum or object type, or an array.
type typeRef struct {
	kind       kind
	maxLength  int // -1: none
	multipleOf string
	minItems   int
	elem       *typeRef
	named      *namedType
}

func (t *typeRef) sig() string {
	switch t.kind {
	case kEnum, kObject:
		return t.named.sig
	case kArray:
		return fmt.Sprintf("[%d]%s", t.minItems, t.elem.sig())
	}
	return fmt.Sprintf("%d/%d/%s", t.kind, t.maxLength, t.multipleOf)
}

// namedType is a generated Go type: an enum or an object.
type namedType struct {
	name       string
	candidates []string // raw names proposed by each use, in discovery order
	uses       []string // where it appears, for the doc comment
	enum       bool
	values     []string
	fields     []*field
	allowExtra bool
	root       bool
	sig        string
}

type field struct {
	json     string
	goName   string
	required bool
	t        *typeRef
}

type action struct {
	name      string
	initiator string
	req, resp *namedType
}

// model is everything the generator found in a schema file.
type model struct {
	objects map[string]*namedType // by structural signature
	enums   map[string]*namedType // by value set
	types   []*namedType          // discovery order
	actions map[string]*action
}

func newModel() *model {
	return &model{objects: map[string]*namedType{}, enums: map[string]*namedType{}, actions: map[string]*action{}}
}

// ctx says where a schema sits, for naming.
type ctx struct {
	root   *Schema
	msg    string // e.g. BootNotification.conf
	prop   string // JSON name of the property holding the value
	parent string // raw name candidate of the enclosing object, "" at the top
	path   string // for errors and docs
}

// addRoot adds one message schema ($id urn:<Action>.req or .conf).
func (m *model) addRoot(s *Schema) error {
	id := strings.TrimPrefix(s.ID, "urn:")
	var act, suffix string
	switch {
	case strings.HasSuffix(id, ".req"):
		act, suffix = strings.TrimSuffix(id, ".req"), "Request"
	case strings.HasSuffix(id, ".conf"):
		act, suffix = strings.TrimSuffix(id, ".conf"), "Response"
	default:
		return fmt.Errorf("unexpected $id %q", s.ID)
	}
	if s.Type != "object" {
		return fmt.Errorf("%s: message schema is not an object", s.ID)
	}
	nt, err := m.object(s, ctx{root: s, msg: id, path: id}, true)
	if err != nil {
		return err
	}
	nt.name = act + suffix
	a := m.actions[act]
	if a == nil {
		a = &action{name: act}
		m.actions[act] = a
	}
	if suffix == "Request" {
		a.req = nt
	} else {
		a.resp = nt
	}
	return nil
}

func (m *model) resolve(c ctx, s *Schema) (*Schema, string, error) {
	if s.Ref == "" {
		return s, "", nil
	}
	name, ok := strings.CutPrefix(s.Ref, "#/definitions/")
	if !ok {
		return nil, "", fmt.Errorf("%s: unsupported $ref %q", c.path, s.Ref)
	}
	for _, d := range c.root.Definitions {
		if d.Name == name {
			return d.Schema, name, nil
		}
	}
	return nil, "", fmt.Errorf("%s: $ref %q not found", c.path, s.Ref)
}

func (m *model) typeOf(c ctx, s *Schema) (*typeRef, error) {
	s, def, err := m.resolve(c, s)
	if err != nil {
		return nil, err
	}
	t := &typeRef{maxLength: -1}
	if s.MaxLength != nil {
		t.maxLength = *s.MaxLength
	}
	if s.MinItems != nil {
		t.minItems = *s.MinItems
	}
	if s.MaxLength != nil && s.Type != "string" || s.MinItems != nil && s.Type != "array" ||
		s.MultipleOf != "" && s.Type != "number" && s.Type != "integer" || len(s.Enum) > 0 && s.Type != "string" {
		return nil, fmt.Errorf("%s: keyword does not fit type %q", c.path, s.Type)
	}
	switch s.Type {
	case "string":
		switch {
		case len(s.Enum) > 0:
			if s.Format != "" || s.MaxLength != nil {
				return nil, fmt.Errorf("%s: enum with format or maxLength is not supported", c.path)
			}
			t.kind = kEnum
			t.named = m.enum(c, s, def)
		case s.Format == "date-time":
			t.kind = kTime
		case s.Format == "uri":
			t.kind = kURI
		case s.Format == "":
			t.kind = kString
		default:
			return nil, fmt.Errorf("%s: unsupported format %q", c.path, s.Format)
		}
	case "integer":
		if s.MultipleOf != "" {
			return nil, fmt.Errorf("%s: multipleOf on integers is not supported", c.path)
		}
		t.kind = kInt
	case "number":
		t.kind = kFloat
		t.multipleOf = s.MultipleOf
	case "boolean":
		t.kind = kBool
	case "object":
		t.kind = kObject
		nt, err := m.object(s, ctx{root: c.root, msg: c.msg, prop: c.prop, parent: c.parent, path: c.path}, false)
		if err != nil {
			return nil, err
		}
		nt.addCandidate(objectCandidate(c, def))
		t.named = nt
	case "array":
		if s.Items == nil {
			return nil, fmt.Errorf("%s: array without items", c.path)
		}
		t.kind = kArray
		c.path += "[]"
		elem, err := m.typeOf(c, s.Items)
		if err != nil {
			return nil, err
		}
		if elem.kind == kArray {
			return nil, fmt.Errorf("%s: nested arrays are not supported", c.path)
		}
		t.elem = elem
	default:
		return nil, fmt.Errorf("%s: unsupported type %q", c.path, s.Type)
	}
	if s.Format != "" && t.kind != kTime && t.kind != kURI {
		return nil, fmt.Errorf("%s: format %q on type %q", c.path, s.Format, s.Type)
	}
	return t, nil
}

func (nt *namedType) addCandidate(name string) {
	for _, c := range nt.candidates {
		if c == name {
			return
		}
	}
	nt.candidates = append(nt.candidates, name)
}

// object builds (or finds, by structure) the type of an object schema.
// Message roots are never shared: each action has its own types even when
// two payloads look alike (ClearCache.req and Heartbeat.req are both {}).
func (m *model) object(s *Schema, c ctx, root bool) (*namedType, error) {
	nt := &namedType{root: root, allowExtra: s.AdditionalProperties == nil || *s.AdditionalProperties}
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	self := ""
	if !root {
		self = objectCandidate(c, "")
	}
	seen := map[string]bool{}
	for _, p := range s.Properties {
		fc := ctx{root: c.root, msg: c.msg, prop: p.Name, parent: self, path: c.path + "." + p.Name}
		if root {
			fc.path = c.msg + " " + p.Name
		}
		t, err := m.typeOf(fc, p.Schema)
		if err != nil {
			return nil, err
		}
		f := &field{json: p.Name, goName: goIdent(p.Name), required: required[p.Name], t: t}
		if seen[f.goName] {
			return nil, fmt.Errorf("%s: two properties map to Go name %s", c.path, f.goName)
		}
		seen[f.goName] = true
		delete(required, p.Name)
		nt.fields = append(nt.fields, f)
	}
	if len(required) > 0 {
		return nil, fmt.Errorf("%s: required properties without a schema: %v", c.path, required)
	}
	if len(nt.fields) > 64 {
		return nil, fmt.Errorf("%s: more than 64 properties", c.path)
	}
	parts := make([]string, 0, len(nt.fields))
	for _, f := range nt.fields {
		parts = append(parts, fmt.Sprintf("%s:%v:%s", f.json, f.required, f.t.sig()))
	}
	sort.Strings(parts)
	nt.sig = fmt.Sprintf("obj(%v){%s}", nt.allowExtra, strings.Join(parts, ","))
	use := c.path
	if root {
		nt.uses = []string{c.msg}
		m.types = append(m.types, nt)
		return nt, nil
	}
	if old, ok := m.objects[nt.sig]; ok {
		old.uses = append(old.uses, use)
		return old, nil
	}
	nt.uses = []string{use}
	m.objects[nt.sig] = nt
	m.types = append(m.types, nt)
	return nt, nil
}

func objectCandidate(c ctx, def string) string {
	if def != "" {
		return strings.TrimSuffix(def, "Type")
	}
	return title(c.prop)
}

func (m *model) enum(c ctx, s *Schema, def string) *namedType {
	vals := append([]string(nil), s.Enum...)
	sort.Strings(vals)
	sig := "enum(" + strings.Join(vals, ",") + ")"
	var cand string
	switch {
	case def != "":
		cand = strings.TrimSuffix(strings.TrimSuffix(def, "EnumType"), "Type")
	case c.prop == "status" || c.prop == "type":
		owner := c.parent
		if owner == "" {
			owner = strings.TrimSuffix(strings.TrimSuffix(c.msg, ".req"), ".conf")
		}
		cand = owner + title(c.prop)
	default:
		cand = title(c.prop)
	}
	// A message-specific rename wins over a general one.
	if r, ok := renames[c.msg+":"+cand]; ok {
		cand = r
	}
	nt, ok := m.enums[sig]
	if !ok {
		nt = &namedType{enum: true, values: s.Enum, sig: sig}
		m.enums[sig] = nt
		m.types = append(m.types, nt)
	}
	nt.addCandidate(cand)
	nt.uses = append(nt.uses, c.path)
	return nt
}

// name gives every shared type its final name: a value-set or candidate
// rename from the tables, else the first candidate. Two types with one name
// are an error, to be settled in the tables.
func (m *model) name() error {
	taken := map[string]*namedType{}
	for _, nt := range m.types {
		if !nt.root {
			if r, ok := enumValueNames[strings.TrimSuffix(strings.TrimPrefix(nt.sig, "enum("), ")")]; ok && nt.enum {
				nt.name = r
			} else {
				n := nt.candidates[0]
				if r, ok := renames[n]; ok {
					n = r
				}
				nt.name = goIdent(n)
			}
		}
		if other, ok := taken[nt.name]; ok {
			return fmt.Errorf("type name %s used by %v and %v; add a rename", nt.name, other.uses, nt.uses)
		}
		taken[nt.name] = nt
	}
	return nil
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// initialisms are words written in capitals in Go identifiers.
var initialisms = map[string]string{
	"Id": "ID", "Iccid": "ICCID", "Imsi": "IMSI", "Csr": "CSR", "Url": "URL", "Uri": "URI",
	"Json": "JSON", "Http": "HTTP", "Ev": "EV",
}

// goIdent turns a camelCase JSON name into an exported Go identifier.
func goIdent(s string) string {
	var words []string
	start := 0
	for i := 1; i <= len(s); i++ {
		if i == len(s) || unicode.IsUpper(rune(s[i])) && !unicode.IsUpper(rune(s[i-1])) {
			words = append(words, s[start:i])
			start = i
		}
	}
	var b strings.Builder
	for _, w := range words {
		w = title(w)
		if r, ok := initialisms[w]; ok {
			w = r
		}
		b.WriteString(w)
	}
	return b.String()
}

// constIdent turns an enum value into the suffix of its constant name:
// "Energy.Active.Import.Register" → EnergyActiveImportRegister, "L1-N" → L1N.
func constIdent(v string) string {
	var b strings.Builder
	up := true
	for _, r := range v {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
