package manifest

import "testing"

func TestMatch(t *testing.T) {
	cases := []struct {
		method, path, wantKey string
		params                map[string]string
		ok                    bool
	}{
		{"GET", "/v1/requests/abc", "GET /v1/requests/{id}", map[string]string{"id": "abc"}, true},
		{"POST", "/v1/requests/abc/approve", "POST /v1/requests/{id}/approve", map[string]string{"id": "abc"}, true},
		{"PUT", "/v1/groups/ops/members/bob@example.com", "PUT /v1/groups/{name}/members/{principal}", map[string]string{"name": "ops", "principal": "bob@example.com"}, true},
		{"GET", "/v1/requests", "GET /v1/requests", nil, true},
		{"GET", "/v1/requests/", "", nil, false},
		{"DELETE", "/v1/requests/abc", "", nil, false},
		{"GET", "/v1/nothing", "", nil, false},
	}
	for _, c := range cases {
		r, params, ok := Match(c.method, c.path)
		if ok != c.ok || r.RouteKey() != c.wantKey && ok {
			t.Errorf("%s %s: got %q ok=%v", c.method, c.path, r.RouteKey(), ok)
			continue
		}
		for k, v := range c.params {
			if params[k] != v {
				t.Errorf("%s %s: param %s = %q, want %q", c.method, c.path, k, params[k], v)
			}
		}
	}
}

func TestEveryAPIFunctionHasRoutes(t *testing.T) {
	for _, f := range APIFunctions {
		n := 0
		for _, r := range All {
			if r.Function == f {
				n++
			}
		}
		if n == 0 {
			t.Errorf("function %s serves no route", f)
		}
	}
}
