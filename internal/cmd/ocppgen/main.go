// Command ocppgen generates the Go message types of an OCPP-J version from
// the official JSON schemas: structs and enums, a single-pass decoder that
// enforces exactly the schema's constraints, an encoder, a validator for
// values built in Go, and the action table, router and typed calls. It is
// run by go generate in each message package (ocpp/v16).
//
// Usage:
//
//	ocppgen -schema ocpp1.6.json -out messages_gen.go -package v16
//
// The schema file is one JSON array of draft-07 schemas whose $id is
// urn:<Action>.req or urn:<Action>.conf.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
)

func main() {
	schemaPath := flag.String("schema", "", "schema file: a JSON array of message schemas")
	out := flag.String("out", "", "output Go file")
	pkg := flag.String("package", "", "package name of the output")
	flag.Parse()
	if *schemaPath == "" || *out == "" || *pkg == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*schemaPath, *out, *pkg); err != nil {
		fmt.Fprintln(os.Stderr, "ocppgen:", err)
		os.Exit(1)
	}
}

func run(schemaPath, out, pkg string) error {
	src, err := generate(schemaPath, pkg)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

func generate(schemaPath, pkg string) ([]byte, error) {
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		return nil, err
	}
	var schemas []*Schema
	if err := json.Unmarshal(data, &schemas); err != nil {
		return nil, fmt.Errorf("%s: %w", schemaPath, err)
	}
	m := newModel()
	for _, s := range schemas {
		if err := m.addRoot(s); err != nil {
			return nil, err
		}
	}
	for _, a := range m.actions {
		if a.req == nil || a.resp == nil {
			return nil, fmt.Errorf("action %s lacks a request or a response schema", a.name)
		}
		if a.initiator = initiators[a.name]; a.initiator == "" {
			return nil, fmt.Errorf("action %s: no initiator in the table", a.name)
		}
	}
	if err := m.name(); err != nil {
		return nil, err
	}
	code := emit(m, pkg, filepath.Base(schemaPath))
	formatted, err := format.Source(code)
	if err != nil {
		// Write the raw output next to the error so the bug can be found.
		_ = os.WriteFile(os.TempDir()+"/ocppgen-broken.go", code, 0o644)
		return nil, fmt.Errorf("generated code does not parse (see %s/ocppgen-broken.go): %w", os.TempDir(), err)
	}
	return formatted, nil
}
