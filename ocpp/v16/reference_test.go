package v16

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// reference holds the official schemas, raw and compiled by an independent
// validator, as the oracle for our generated decoders.
type reference struct {
	raw      map[string]map[string]any // by $id
	compiled map[string]*jsonschema.Schema
}

var (
	refOnce sync.Once
	refVal  *reference
	refErr  error
	refPath string
)

// schemaFile finds ocpp1.6.json: WATTSON_OCPP_SCHEMAS names the file or the
// folder holding it; by default the shared folder beside the repository.
func schemaFile() string {
	p := os.Getenv("WATTSON_OCPP_SCHEMAS")
	if p == "" {
		return filepath.Join("..", "..", "..", "shared", "ocpp", "schemas", "ocpp1.6.json")
	}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return filepath.Join(p, "ocpp1.6.json")
	}
	return p
}

// loadReference returns the reference or skips the test when the schema file
// is missing; on CI a missing file fails, so the conformance tests cannot
// silently stop running.
func loadReference(t testing.TB) *reference {
	t.Helper()
	refOnce.Do(func() {
		refPath = schemaFile()
		refVal, refErr = compileReference(refPath)
	})
	if refErr != nil {
		if os.IsNotExist(refErr) && os.Getenv("CI") == "" {
			t.Skipf("official OCPP 1.6 schemas not found at %s (set WATTSON_OCPP_SCHEMAS): %v", refPath, refErr)
		}
		t.Fatalf("loading the official schemas from %s: %v", refPath, refErr)
	}
	return refVal
}

func compileReference(path string) (*reference, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, err
	}
	r := &reference{raw: map[string]map[string]any{}, compiled: map[string]*jsonschema.Schema{}}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	// Strict OCPP peers (ocpp-rpc) assert formats; so must the oracle.
	c.AssertFormat()
	var ids []string
	for _, raw := range list {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		id, _ := m["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			return nil, err
		}
		r.raw[id] = m
		ids = append(ids, id)
	}
	for _, id := range ids {
		s, err := c.Compile(id)
		if err != nil {
			return nil, err
		}
		r.compiled[id] = s
	}
	return r, nil
}

// valid runs the reference validator on raw JSON. Input that is not JSON
// is invalid.
func (r *reference) valid(id string, payload []byte) (bool, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return false, err
	}
	if err := r.compiled[id].Validate(v); err != nil {
		return false, err
	}
	return true, nil
}

// schemaID is the $id of an action's request or response schema.
func schemaID(action string, response bool) string {
	if response {
		return "urn:" + action + ".conf"
	}
	return "urn:" + action + ".req"
}

func newMessage(t testing.TB, id string) Message {
	t.Helper()
	name := strings.TrimPrefix(id, "urn:")
	action, dir, _ := strings.Cut(name, ".")
	info, ok := Lookup(action)
	if !ok {
		t.Fatalf("no action %s", action)
	}
	if dir == "conf" {
		return info.NewResponse()
	}
	return info.NewRequest()
}
