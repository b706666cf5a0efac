package httpapi

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// recordedCodes is issue 16 item 11's rule, code by code (the rule itself
// is in pkg/app/refusals.go and the security matrix): true for a refusal of
// the caller (exactly one refused.<code> record), false for an answer about
// the data (none). Every problem code the API can return must be here: a
// new one fails TestEveryProblemCodeIsClassified until it is decided.
var recordedCodes = map[string]bool{
	// 400, 413, 415, 422: input that is malformed or unacceptable.
	"invalid": false, "too-large": false, "unsupported-media-type": false, "unprocessable": false,
	"no-policy": false, "no-approver-group": false, "lockbox-disabled": false, "duration-too-long": false,
	"disabled": false, "bad-ticket-pattern": false, "ticket-invalid": false, "ticket-required": false,
	"ticket-mismatch": false, "ticket-closed": false, "ticket-unknown": false, "change-window-over": false,
	"outside-change-window": false, "start-in-past": false, "start-too-far": false, "extend-original": false,
	"too-many-extensions": false, "break-glass-not-allowed": false, "break-glass-reason": false,
	"break-glass-scheduled": false, "break-glass-duration": false, "break-glass-ratify-within": false,
	"delegate-self": false, "delegation-too-long": false, "delegation-window": false, "delegation-over": false,
	"policy-cap": false, "unknown-group": false, "no-default-group": false, "no-lockbox-group": false,
	"invalid-identity-center": false, "identity-center-unconfigured": false, "no-identity-center-user": false,
	"invalid-aws-binding": false, "no-aws-binding": false, "sts-refused": false,
	// 401 and 503: no identified caller, or nothing refused.
	"unauthenticated": false, "unavailable": false,
	// 404 and 409 about admin data, the caller's own open request, a race.
	"not-found": false, "conflict": false, "group-not-found": false, "member-not-found": false,
	"policy-not-found": false, "delegation-not-found": false, "no-break-glass-block": false,
	"group-exists": false, "policy-exists": false, "group-in-use": false, "too-many-delegations": false,
	"open-request": false, "concurrent-update": false,
	// 403: who the caller is.
	"forbidden":     false, // the bare kind carries no code of a refusal; every coded 403 is recorded
	"self-approval": true, "not-approver": true, "not-revoker": true, "not-requester": true, "admin-only": true,
	"authorize-others": true, "delegate-others": true, "delegator-not-approver": true, "break-glass-blocked": true,
	// 404 and 409 on the request, grant, link or claim the caller acts on.
	"request-not-found": true, "not-pending": true, "request-expired": true, "already-decided": true,
	"not-active": true, "link-used": true, "link-dead": true, "break-glass-open": true, "not-ratifiable": true,
	"ratification-missed": true, "not-break-glass": true, "grant-ended": true, "original-not-active": true,
	"extension-pending": true, "revoke-original": true,
}

// problemCodes finds every problem code the API can return in the source of
// the packages that make them: each refusal(Kind, "code", ...),
// Unprocessable("code", ...) and Error{Kind: ..., Code: "code"}, plus the
// generic codes of the kinds table.
func problemCodes(t *testing.T) map[string][]error {
	t.Helper()
	kindOf := map[string]error{"ErrInvalid": elevate.ErrInvalid, "ErrUnauthorized": elevate.ErrUnauthorized, "ErrForbidden": elevate.ErrForbidden,
		"ErrNotFound": elevate.ErrNotFound, "ErrConflict": elevate.ErrConflict, "ErrUnprocessable": elevate.ErrUnprocessable, "ErrUnavailable": elevate.ErrUnavailable}
	name := func(e ast.Expr) string {
		switch e := e.(type) {
		case *ast.Ident:
			return e.Name
		case *ast.SelectorExpr:
			return e.Sel.Name
		}
		return ""
	}
	str := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	out := map[string][]error{}
	add := func(code string, kind error, where token.Position) {
		if kind == nil {
			t.Errorf("%s: code %q of an unknown kind", where, code)
			return
		}
		if !slices.Contains(out[code], kind) {
			out[code] = append(out[code], kind)
		}
	}
	for _, dir := range []string{"../elevate", "../app", "."} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			file, err := parser.ParseFile(fset, f, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					switch name(n.Fun) {
					case "refusal":
						if len(n.Args) >= 2 {
							if code, ok := str(n.Args[1]); ok {
								add(code, kindOf[name(n.Args[0])], fset.Position(n.Pos()))
							}
						}
					case "Unprocessable":
						if len(n.Args) >= 1 {
							if code, ok := str(n.Args[0]); ok {
								add(code, elevate.ErrUnprocessable, fset.Position(n.Pos()))
							}
						}
					}
				case *ast.CompositeLit:
					if name(n.Type) != "Error" {
						return true
					}
					var kind error
					var code string
					for _, el := range n.Elts {
						kv, ok := el.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						switch name(kv.Key) {
						case "Kind":
							kind = kindOf[name(kv.Value)]
						case "Code":
							code, _ = str(kv.Value)
						}
					}
					if code != "" {
						add(code, kind, fset.Position(n.Pos()))
					}
				}
				return true
			})
		}
	}
	for _, k := range kinds {
		add(k.code, k.kind, token.Position{Filename: "problem.go"})
	}
	return out
}

// Issue 16 item 11: every problem code the API can return, rendered where
// the JSON API renders every error (fail), leaves exactly one refused.<code>
// record when the rule calls it a refusal of the caller, and none when it
// is an answer about the data; a caller with no identity leaves none.
func TestEveryProblemCodeIsClassified(t *testing.T) {
	codes := problemCodes(t)
	if len(codes) < 40 {
		t.Fatalf("found only %d problem codes; the source scan is broken: %v", len(codes), codes)
	}
	var names []string
	for code := range codes {
		names = append(names, code)
	}
	sort.Strings(names)
	for code := range recordedCodes {
		if _, ok := codes[code]; !ok {
			t.Errorf("%q is classified but the API no longer returns it", code)
		}
	}
	store := newMemStore()
	s := &server{deps: Deps{Service: &app.Service{Store: store, Clock: elevate.SystemClock}}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	route := manifest.Route{Method: "POST", Path: "/v1/requests/{id}/approve", Function: manifest.Approvals}
	for _, code := range names {
		want, classified := recordedCodes[code]
		if !classified {
			t.Errorf("problem code %q is not classified: decide whether it refuses the caller (recordedCodes)", code)
			continue
		}
		for _, kind := range codes[code] {
			var err error = &elevate.Error{Kind: kind, Code: code, Message: "m"}
			if isGeneric(code, kind) {
				err = fmt.Errorf("%w: wrapped", kind)
			}
			walkProblem(t, s, store, route, code, err, want)
		}
	}
	if t.Failed() {
		t.Logf("codes found: %v", names)
	}
}

// walkProblem renders err through fail for an identified caller and for
// none, and checks the records it leaves.
func walkProblem(t *testing.T, s *server, store *memStore, route manifest.Route, code string, err error, want bool) {
	t.Helper()
	{
		for _, caller := range []string{"alice@example.com", ""} {
			before := len(store.refusals)
			c := &call{ctx: context.Background(), req: &events.APIGatewayV2HTTPRequest{}, route: route, params: map[string]string{"id": "r-1"},
				caller: app.Caller{Principal: caller}}
			resp := s.fail(c, err)
			if p, _ := ProblemFor(err); resp.StatusCode != p.Status || resp.StatusCode < 400 {
				t.Errorf("%s: status %d", code, resp.StatusCode)
			}
			got := len(store.refusals) - before
			switch {
			case caller == "" && got != 0:
				t.Errorf("%s without an identified caller left %d records", code, got)
			case caller != "" && want && got != 1:
				t.Errorf("%s (a refusal of the caller) left %d records, want 1", code, got)
			case caller != "" && !want && got != 0:
				t.Errorf("%s (an answer about the data) left %d records, want 0", code, got)
			case got == 1 && (store.refusals[before].Action != app.RefusalPrefix+code || store.refusals[before].Actor != caller):
				t.Errorf("%s recorded as %+v", code, store.refusals[before])
			}
		}
	}
}

// isGeneric reports a code of the kinds table for its own kind: a bare
// kind, not a domain refusal.
func isGeneric(code string, kind error) bool {
	return slices.ContainsFunc(kinds, func(k struct {
		kind   error
		status int
		code   string
	}) bool {
		return k.code == code && errors.Is(kind, k.kind)
	})
}
