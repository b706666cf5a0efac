package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/infra/stack"
	"github.com/elevate-pam/elevate/pkg/config"
)

// stackConstants returns the string constants of infra/stack whose names
// start with prefix, read from the source so a new one cannot be missed.
func stackConstants(t *testing.T, prefix string) map[string]string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("stack", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						out[v] = n.Name
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s constants found in infra/stack", prefix)
	}
	return out
}

var backticked = regexp.MustCompile("`([^`]+)`")

// tableNames returns the backticked names in the first column of the table
// under heading in doc.
func tableNames(t *testing.T, doc, heading string) []string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("infra/README.md has no %q section", heading)
	}
	var names []string
	for _, line := range strings.Split(doc[i+len(heading)+2:], "\n") {
		if strings.HasPrefix(line, "#") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			names = append(names, m[1])
		}
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

// Issue 23 item 6: the operator runbook's context-key and output tables
// name exactly the stack's constants and the synthesized outputs, and no
// document or cdk.json names a context key the stack does not read, so
// the documents cannot drift from the code.
func TestDocsNameEveryContextKeyAndOutput(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	ctxKeys := stackConstants(t, "Ctx")

	documented := tableNames(t, readme, "### Context values")
	if got, want := slices.Sorted(slices.Values(documented)), sortedKeys(ctxKeys); !slices.Equal(got, want) {
		t.Errorf("context table names %v\nthe stack reads %v", got, want)
	}

	// Every output of the default (Cognito) template, and only those.
	outputs := tableNames(t, readme, "### Outputs")
	if got, want := slices.Sorted(slices.Values(outputs)), sortedKeys(doc.Outputs); !slices.Equal(got, want) {
		t.Errorf("outputs table names %v\nthe template has %v", got, want)
	}
	outConsts := stackConstants(t, "Out")
	for _, o := range outputs {
		if _, ok := outConsts[o]; !ok && !strings.HasPrefix(o, stack.OutDkimPrefix) {
			t.Errorf("output %s is no Out constant of infra/stack", o)
		}
	}

	// Any elevate:* key in any document or in cdk.json is one the stack reads
	// (or the tag that marks a broker role, which documents must name too).
	files, err := exec.Command("git", "-C", "..", "ls-files", "*.md", "**/*.md").Output()
	if err != nil {
		t.Fatal(err)
	}
	keyRE := regexp.MustCompile(`elevate:[A-Za-z]+`)
	for _, f := range strings.Fields(string(files)) {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keyRE.FindAllString(string(b), -1) {
			if _, ok := ctxKeys[k]; !ok && k != stack.BrokerRoleTagKey {
				t.Errorf("%s names %s, which the stack does not read", f, k)
			}
		}
	}
	var cdk struct{ Context map[string]any }
	b, err := os.ReadFile("../cdk.json")
	if err == nil {
		err = json.Unmarshal(b, &cdk)
	}
	if err != nil {
		t.Fatal(err)
	}
	for k := range cdk.Context {
		if _, ok := ctxKeys[k]; strings.HasPrefix(k, "elevate:") && !ok {
			t.Errorf("cdk.json sets %s, which the stack does not read", k)
		}
	}

	if !strings.Contains(readme, config.LoginRedirectURL) {
		t.Errorf("the runbook does not name the login redirect %s the app client allows", config.LoginRedirectURL)
	}
}
