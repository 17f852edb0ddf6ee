package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Schema is the subset of JSON Schema draft-07 that the OCPP schemas use.
// Decoding fails on any keyword that would constrain a value and that the
// generator does not implement, so a new schema cannot be half-validated
// silently.
type Schema struct {
	ID                   string
	Ref                  string
	Type                 string
	Format               string
	Properties           []Property // in document order, which becomes field order
	Required             []string
	AdditionalProperties *bool
	Enum                 []string
	MaxLength            *int
	MinItems             *int
	MultipleOf           string // the literal, so that it is compared exactly
	Items                *Schema
	Definitions          []Property
}

// Property is a named schema: an object member or a definition.
type Property struct {
	Name   string
	Schema *Schema
}

// annotations are keywords that do not constrain values.
var annotations = map[string]bool{
	"$schema": true, "$comment": true, "description": true, "title": true,
	"javaType": true, "comment": true, "examples": true, "default": true,
}

func (s *Schema) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		var err error
		switch k {
		case "$id":
			err = json.Unmarshal(v, &s.ID)
		case "$ref":
			err = json.Unmarshal(v, &s.Ref)
		case "type":
			err = json.Unmarshal(v, &s.Type)
		case "format":
			err = json.Unmarshal(v, &s.Format)
		case "properties":
			s.Properties, err = orderedSchemas(v)
		case "definitions":
			s.Definitions, err = orderedSchemas(v)
		case "required":
			err = json.Unmarshal(v, &s.Required)
		case "additionalProperties":
			var ap bool
			if err = json.Unmarshal(v, &ap); err != nil {
				err = fmt.Errorf("only boolean additionalProperties is supported: %w", err)
			}
			s.AdditionalProperties = &ap
		case "enum":
			if err = json.Unmarshal(v, &s.Enum); err != nil {
				err = fmt.Errorf("only string enums are supported: %w", err)
			}
		case "maxLength":
			err = json.Unmarshal(v, &s.MaxLength)
		case "minItems":
			err = json.Unmarshal(v, &s.MinItems)
		case "multipleOf":
			var n json.Number
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			if err = dec.Decode(&n); err == nil {
				s.MultipleOf = n.String()
			}
		case "items":
			s.Items = new(Schema)
			err = json.Unmarshal(v, s.Items)
		default:
			if !annotations[k] {
				return fmt.Errorf("unsupported keyword %q", k)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// orderedSchemas decodes an object of schemas keeping member order.
func orderedSchemas(b []byte) ([]Property, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want an object")
	}
	var out []Property
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		s := new(Schema)
		if err := dec.Decode(s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Property{Name: name, Schema: s})
	}
	return out, nil
}
