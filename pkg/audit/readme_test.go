package audit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeNamesEveryAction holds the detail-keys table of README.md to the
// action constants: an action added to the trail without a row fails here.
func TestReadmeNamesEveryAction(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows strings.Builder
	for line := range strings.SplitSeq(string(readme), "\n") {
		if strings.HasPrefix(line, "| `") {
			rows.WriteString(strings.SplitN(line[1:], "|", 2)[0])
		}
	}
	named := rows.String()
	actions := actionConstants(t, "../auditrecord/record.go", "Action")
	actions = append(actions, actionConstants(t, "../elevate/identitycenter.go", "ActionAssignment")...)
	if len(actions) < 30 {
		t.Fatalf("found only %d action constants; is the parser looking in the right files?", len(actions))
	}
	for _, a := range actions {
		if strings.HasPrefix(a, ".") { // a suffix, such as .direct_write
			a = "<entity>" + a
		}
		if !strings.Contains(named, "`"+a+"`") && !strings.HasPrefix(a, "refused.") {
			t.Errorf("README.md's detail-keys table has no row for %s", a)
		}
	}
}

// actionConstants returns the string values of the constants in file whose
// names start with prefix.
func actionConstants(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, prefix) || i >= len(spec.Values) {
				continue
			}
			if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				out = append(out, v)
			}
		}
		return true
	})
	return out
}
