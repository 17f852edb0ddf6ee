package api

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPIMatchesRoutes keeps openapi.yaml and the route table in step:
// every route is documented with its path parameters, security and role,
// nothing else is documented, and every $ref resolves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi %v", doc["openapi"])
	}
	paths, _ := doc["paths"].(map[string]any)
	documented := map[string]bool{}
	for p, item := range paths {
		for m := range item.(map[string]any) {
			switch m {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented[strings.ToUpper(m)+" "+p] = true
			}
		}
	}

	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		if !documented[key] {
			t.Errorf("route %s is not in openapi.yaml", key)
			continue
		}
		delete(documented, key)
		item := paths[rt.Path].(map[string]any)
		op := item[strings.ToLower(rt.Method)].(map[string]any)

		if role := op["x-wattson-role"]; role != rt.Role.String() {
			t.Errorf("%s: x-wattson-role %v, the route needs %s", key, role, rt.Role)
		}
		sec, hasSec := op["security"].([]any)
		if isPublic := hasSec && len(sec) == 0; isPublic != (rt.Role == public) {
			t.Errorf("%s: documented security %v does not match role %s", key, op["security"], rt.Role)
		}
		if _, ok := op["responses"].(map[string]any)["200"]; !ok && rt.Method == "GET" {
			t.Errorf("%s: no 200 response", key)
		}
		if rt.Role != public {
			if _, ok := op["responses"].(map[string]any)["401"]; !ok {
				t.Errorf("%s: no 401 response", key)
			}
		}

		var declared []string
		for _, list := range []any{item["parameters"], op["parameters"]} {
			ps, _ := list.([]any)
			for _, p := range ps {
				pm := resolve(t, doc, p).(map[string]any)
				if pm["in"] == "path" {
					declared = append(declared, pm["name"].(string))
					if pm["required"] != true {
						t.Errorf("%s: path parameter %v not required", key, pm["name"])
					}
				}
			}
		}
		var want []string
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			want = append(want, m[1])
		}
		slices.Sort(declared)
		slices.Sort(want)
		if !slices.Equal(declared, want) {
			t.Errorf("%s: path parameters %v documented, the route has %v", key, declared, want)
		}
	}
	for key := range documented {
		t.Errorf("openapi.yaml documents %s, which is not a route", key)
	}

	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				resolve(t, doc, v)
				_ = ref
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)

	// The JSON form is the same document.
	js, err := openAPIToJSON(openAPIYAML)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if len(back["paths"].(map[string]any)) != len(paths) {
		t.Error("the JSON document lost paths")
	}
}

// resolve follows a local $ref, failing the test if it dangles.
func resolve(t *testing.T, doc map[string]any, v any) any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	ref, ok := m["$ref"].(string)
	if !ok {
		return v
	}
	if !strings.HasPrefix(ref, "#/") {
		t.Errorf("non-local $ref %q", ref)
		return v
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		cm, ok := cur.(map[string]any)
		if !ok || cm[part] == nil {
			t.Errorf("$ref %q does not resolve", ref)
			return map[string]any{}
		}
		cur = cm[part]
	}
	return resolve(t, doc, cur)
}
