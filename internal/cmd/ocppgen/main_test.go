package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate regenerates ocpp/v16 and compares it with the
// committed file, so a change to the generator or its runtime cannot be
// forgotten.
func TestGeneratedUpToDate(t *testing.T) {
	schema := filepath.Join("..", "..", "..", "..", "shared", "ocpp", "schemas", "ocpp1.6.json")
	if p := os.Getenv("WATTSON_OCPP_SCHEMAS"); p != "" {
		schema = filepath.Join(p, "ocpp1.6.json")
	}
	if _, err := os.Stat(schema); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("official schemas not found: %v", err)
		}
		t.Fatal(err)
	}
	got, err := generate(schema, "v16")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "..", "ocpp", "v16", "messages_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("ocpp/v16/messages_gen.go is stale: run go generate ./ocpp/v16")
	}
}

func TestGoIdent(t *testing.T) {
	for in, want := range map[string]string{
		"idTag": "IDTag", "connectorId": "ConnectorID", "parentIdTag": "ParentIDTag", "iccid": "ICCID",
		"chargeBoxSerialNumber": "ChargeBoxSerialNumber", "csr": "CSR", "data": "Data",
	} {
		if got := goIdent(in); got != want {
			t.Errorf("goIdent(%s) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"Energy.Active.Import.Register": "EnergyActiveImportRegister", "L1-N": "L1N", "kWh": "KWh", "SoC": "SoC"} {
		if got := constIdent(in); got != want {
			t.Errorf("constIdent(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestUnsupportedKeyword(t *testing.T) {
	var s Schema
	if err := s.UnmarshalJSON([]byte(`{"type":"integer","minimum":0}`)); err == nil {
		t.Error("minimum accepted silently")
	}
}
