package v16

import (
	"bytes"
	"sort"
	"testing"
)

// fuzzIDs are the message schemas the fuzz target picks from with its first
// byte: all of them, requests and responses.
func fuzzIDs() []string {
	var ids []string
	for _, a := range Actions() {
		ids = append(ids, schemaID(a.Name, false), schemaID(a.Name, true))
	}
	sort.Strings(ids)
	return ids
}

// FuzzUnmarshal feeds arbitrary bytes to the decoders. They must not panic;
// what they accept the reference validator must accept too, and encoding
// it must be stable.
func FuzzUnmarshal(f *testing.F) {
	ids := fuzzIDs()
	index := map[string]byte{}
	for i, id := range ids {
		index[id] = byte(i)
	}
	for _, seed := range []string{`{}`, `{"connectorId":1,"meterValue":[]}`, `[`, `{"a":1{"b":2}}`} {
		f.Add(byte(0), []byte(seed))
	}
	var ref *reference
	if r, err := compileReference(schemaFile()); err == nil {
		ref = r
		for id, exs := range allExamples(r) {
			for _, ex := range exs {
				f.Add(index[id], ex.json)
			}
		}
	}
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		id := ids[int(which)%len(ids)]
		msg := newMessage(t, id)
		if err := msg.UnmarshalOCPP(data); err != nil {
			return
		}
		if ref != nil {
			if ok, err := ref.valid(id, data); !ok {
				t.Fatalf("%s: we accept %q, the reference does not: %v", id, data, err)
			}
		}
		enc := msg.AppendJSON(nil)
		again := newMessage(t, id)
		if err := again.UnmarshalOCPP(enc); err != nil {
			t.Fatalf("%s: re-decoding our encoding %s of %q: %v", id, enc, data, err)
		}
		if enc2 := again.AppendJSON(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("%s: encoding not stable: %s then %s", id, enc, enc2)
		}
	})
}
