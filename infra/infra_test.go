package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/elevate-pam/elevate/infra/stack"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/notify"
	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// Each synth costs seconds, so the default template is synthesized once in
// TestMain and shared; only the external-IdP variant synthesizes again.
var (
	assetDir string
	deployed *stack.Elevate
	tmpl     assertions.Template
	doc      template
)

type (
	obj      = map[string]any
	template struct {
		Resources map[string]resource
		Outputs   map[string]obj
	}
	resource struct {
		Type           string
		Properties     obj
		DeletionPolicy string
	}
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		defer jsii.Close()
		dir, err := os.MkdirTemp("", "elevate-infra-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		assetDir = filepath.Join(dir, "build")
		for _, fn := range manifest.Functions() {
			// Distinct contents give each function its own asset, as real binaries do.
			err := os.MkdirAll(filepath.Join(assetDir, fn), 0o755)
			if err == nil {
				err = os.WriteFile(filepath.Join(assetDir, fn, "bootstrap"), []byte("placeholder "+fn), 0o755)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		e, err := synth(dir, "default", nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "synth:", err)
			return 1
		}
		deployed = e
		tmpl = assertions.Template_FromStack(e.Stack, nil)
		if err := decode(tmpl, &doc); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

// The sender domain and alarm address every synth here uses.
const (
	testSenderDomain = "mail.elevate.test"
	testAlarmEmail   = "oncall@elevate.test"
)

// synth declares the stack with cdk.json's context (as the CLI would) plus
// overrides, writing the assembly under dir.
func synth(dir, name string, overrides obj) (*stack.Elevate, error) {
	raw, err := os.ReadFile("../cdk.json")
	if err != nil {
		return nil, err
	}
	var cdk struct{ Context obj }
	if err := json.Unmarshal(raw, &cdk); err != nil {
		return nil, err
	}
	ctx := cdk.Context
	ctx[stack.CtxAssetDir] = assetDir
	// cdk.json leaves both unset, which synth refuses (issue 23 item 3): an
	// operator names their own.
	ctx[stack.CtxSenderDomain] = testSenderDomain
	ctx[stack.CtxAlarmEmail] = testAlarmEmail
	for k, v := range overrides {
		ctx[k] = v
	}
	a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(dir, "cdk.out-"+name))})
	return declare(a)
}

func decode(t assertions.Template, into any) error {
	b, err := json.Marshal(t.ToJSON())
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// must turns an assertions failure (a jsii panic) into a test error.
func must(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

func ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range doc.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// one returns the single resource of typ whose logical ID starts with prefix.
func one(t *testing.T, typ, prefix string) (string, resource) {
	t.Helper()
	var ids []string
	for id := range ofType(typ) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%s with logical ID prefix %q: found %v, want exactly one", typ, prefix, ids)
	}
	return ids[0], doc.Resources[ids[0]]
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func strs(v any) []string {
	var out []string
	for _, x := range list(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// refTo reports whether v is a Ref or Fn::GetAtt naming logical ID id.
func refTo(v any, id string) bool {
	if get(v, "Ref") == id {
		return true
	}
	ga := list(get(v, "Fn::GetAtt"))
	return len(ga) > 0 && ga[0] == id
}

func TestTableFollowsTabledef(t *testing.T) {
	_, tbl := one(t, "AWS::DynamoDB::Table", "Table")
	p := tbl.Properties
	keys := map[string]string{}
	for _, k := range list(p["KeySchema"]) {
		keys[get(k, "KeyType").(string)] = get(k, "AttributeName").(string)
	}
	if keys["HASH"] != tabledef.PartitionKey || keys["RANGE"] != tabledef.SortKey {
		t.Errorf("key schema %v, want %s/%s", keys, tabledef.PartitionKey, tabledef.SortKey)
	}
	var defs []string
	for _, d := range list(p["AttributeDefinitions"]) {
		defs = append(defs, get(d, "AttributeName").(string))
		if get(d, "AttributeType") != "S" {
			t.Errorf("attribute %v is not a string", d)
		}
	}
	want := tabledef.KeyAttributes()
	sort.Strings(defs)
	sort.Strings(want)
	if !reflect.DeepEqual(defs, want) {
		t.Errorf("attribute definitions %v, want %v", defs, want)
	}
	gsis := map[string]any{}
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		gsis[get(g, "IndexName").(string)] = g
	}
	if len(gsis) != len(tabledef.Indexes) {
		t.Errorf("%d GSIs, want %d", len(gsis), len(tabledef.Indexes))
	}
	for _, ix := range tabledef.Indexes {
		g := gsis[ix.Name]
		ks := list(get(g, "KeySchema"))
		if len(ks) != 2 || get(ks[0], "AttributeName") != ix.PartitionKey || get(ks[1], "AttributeName") != ix.SortKey ||
			get(g, "Projection", "ProjectionType") != "ALL" {
			t.Errorf("GSI %s = %v, want %s/%s projecting ALL", ix.Name, g, ix.PartitionKey, ix.SortKey)
		}
	}
	must(t, "table settings", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), &obj{
			"BillingMode":                      "PAY_PER_REQUEST",
			"TimeToLiveSpecification":          obj{"AttributeName": tabledef.TTLAttribute, "Enabled": true},
			"StreamSpecification":              obj{"StreamViewType": tabledef.StreamView},
			"PointInTimeRecoverySpecification": obj{"PointInTimeRecoveryEnabled": true},
			"DeletionProtectionEnabled":        true,
			"SSESpecification":                 obj{"SSEEnabled": true},
		})
	})
	if tbl.DeletionPolicy != "Retain" {
		t.Errorf("table DeletionPolicy %q, want Retain", tbl.DeletionPolicy)
	}
}

// wantEnv is which function gets which variable (pkg/config names).
var wantEnv = map[string][]string{
	manifest.Policies:  {config.EnvTable, config.EnvAdminGroup},
	manifest.Requests:  {config.EnvTable, config.EnvAdminGroup, config.EnvPageKeySecret},
	manifest.Approvals: {config.EnvTable, config.EnvAdminGroup, config.EnvLinkKeySecret, config.EnvPublicBaseURL},
	manifest.Authorize: {config.EnvTable, config.EnvAdminGroup},
	manifest.Notify:    {config.EnvTable, config.EnvLinkKeySecret, config.EnvSender, config.EnvPublicBaseURL, config.EnvAdminGroup},
	manifest.Audit:     {config.EnvAuditBucket, config.EnvTable}, // it reads the request a grant slot's change is checked against
	// v1.2: AWS credentials and the revocation deny.
	manifest.Credentials: {config.EnvTable, config.EnvAdminGroup},
	manifest.Access:      {config.EnvTable},
	// Issue 21: the two secrets it rotates, and the table it records in.
	manifest.Rotation: {config.EnvTable, config.EnvLinkKeySecret, config.EnvPageKeySecret},
}

func TestFunctions(t *testing.T) {
	fns := ofType("AWS::Lambda::Function")
	if len(fns) != len(wantEnv) {
		t.Errorf("%d functions, want %d", len(fns), len(wantEnv))
	}
	roles := map[string]string{}
	for name, env := range wantEnv {
		_, fn := one(t, "AWS::Lambda::Function", title(name)+"Function")
		p := fn.Properties
		if p["Runtime"] != "provided.al2023" || !reflect.DeepEqual(strs(p["Architectures"]), []string{"arm64"}) || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v, architectures %v, handler %v", name, p["Runtime"], p["Architectures"], p["Handler"])
		}
		// The local runtime gives each invocation the deadline this timeout
		// sets in AWS, so both read the one constant.
		if want := budget.Timeout(name).Seconds(); p["Timeout"] != want {
			t.Errorf("%s: timeout %v s, want budget's %v s", name, p["Timeout"], want)
		}
		if get(p, "LoggingConfig", "LogFormat") != "JSON" {
			t.Errorf("%s: logging config %v, want JSON", name, p["LoggingConfig"])
		}
		logGroupID, _ := one(t, "AWS::Logs::LogGroup", title(name)+"Logs")
		if !refTo(get(p, "LoggingConfig", "LogGroup"), logGroupID) {
			t.Errorf("%s logs to %v, want its own group %s", name, get(p, "LoggingConfig", "LogGroup"), logGroupID)
		}
		got := slices.Sorted(func(yield func(string) bool) {
			for k := range get(p, "Environment", "Variables").(obj) {
				if k != config.EnvLogLevel && !yield(k) {
					return
				}
			}
		})
		want := slices.Sorted(slices.Values(env))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s environment %v, want %v", name, got, want)
		}
		roleID, _ := one(t, "AWS::IAM::Role", title(name)+"Role")
		if !refTo(p["Role"], roleID) {
			t.Errorf("%s role %v, want %s", name, p["Role"], roleID)
		}
		if other, dup := roles[roleID]; dup {
			t.Errorf("%s shares role %s with %s", name, roleID, other)
		}
		roles[roleID] = name
		if v := get(p, "Environment", "Variables", config.EnvAdminGroup); slices.Contains(env, config.EnvAdminGroup) && v != app.DefaultAdminGroup {
			t.Errorf("%s admin group %v", name, v)
		}
	}
	// The default context reserves no concurrency (new-account quota).
	for id, fn := range fns {
		if _, ok := fn.Properties["ReservedConcurrentExecutions"]; ok {
			t.Errorf("%s reserves concurrency by default", id)
		}
	}
}

// wantTableActions is the least-privilege table access per function; the
// handler tests check the same list against the calls the code really makes.
var wantTableActions = manifest.TableActions

type statement struct {
	Sid       string
	Effect    string
	Action    any
	Resource  any
	Condition any
	Principal any
}

func statements(t *testing.T, policy resource) []statement {
	t.Helper()
	var d struct{ Statement []statement }
	b, _ := json.Marshal(get(policy.Properties, "PolicyDocument"))
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d.Statement
}

func TestNoWildcardGrants(t *testing.T) {
	policies := ofType("AWS::IAM::Policy")
	if len(policies) == 0 {
		t.Fatal("no IAM policies in the template")
	}
	for id, p := range policies {
		for _, s := range statements(t, p) {
			if s.Effect != "Allow" {
				continue
			}
			actions := strs(s.Action)
			for _, a := range actions {
				if a == "*" || strings.HasSuffix(a, ":*") || strings.HasPrefix(a, "dynamodb:*") || strings.HasPrefix(a, "s3:*") {
					t.Errorf("%s grants wildcard action %q", id, a)
				}
			}
			for _, r := range list(s.Resource) {
				if r != "*" {
					continue
				}
				for _, a := range actions {
					if !slices.Contains(stack.AccountLevelActions, a) {
						t.Errorf("%s grants %s on Resource \"*\", which has a narrower resource", id, a)
					}
				}
			}
		}
	}
	for id, r := range ofType("AWS::IAM::Role") {
		if m := r.Properties["ManagedPolicyArns"]; m != nil {
			t.Errorf("role %s attaches managed policies %v; grants must be explicit", id, m)
		}
		if p := r.Properties["Policies"]; p != nil {
			t.Errorf("role %s has inline policies outside the walked AWS::IAM::Policy resources", id)
		}
	}
}

// secretActions are what function may do to a key secret: read it, or, for
// the rotation function, the four steps of a rotation.
func secretActions(function string) []string {
	if function == manifest.Rotation {
		return stack.RotationActions
	}
	return []string{"secretsmanager:GetSecretValue"}
}

func TestPerFunctionGrants(t *testing.T) {
	tableID, _ := one(t, "AWS::DynamoDB::Table", "Table")
	auditID, _ := one(t, "AWS::S3::Bucket", "AuditBucket")
	secretID, _ := one(t, "AWS::SecretsManager::Secret", "LinkKey")
	pageSecretID, _ := one(t, "AWS::SecretsManager::Secret", "PageKey")
	for name, want := range wantTableActions {
		_, policy := one(t, "AWS::IAM::Policy", title(name)+"RoleDefaultPolicy")
		var table, index, indexNames []string
		var secret, pageSecret, email, putAudit, stream bool
		var narrowed []manifest.TableKey
		for _, s := range statements(t, policy) {
			for _, r := range list(s.Resource) {
				join := list(get(r, "Fn::Join"))
				switch {
				case refTo(r, tableID) && get(r, "Fn::GetAtt") != nil && list(get(r, "Fn::GetAtt"))[1] == "Arn":
					table = append(table, strs(s.Action)...)
					narrowed = append(narrowed, manifest.TableKey{Actions: trimDynamo(strs(s.Action)), LeadingKeys: strs(get(s.Condition, "ForAllValues:StringLike", "dynamodb:LeadingKeys"))})
					if c, _ := s.Condition.(obj); len(c) != 1 || len(c["ForAllValues:StringLike"].(obj)) != 1 {
						t.Errorf("%s table statement %s has conditions %v beyond dynamodb:LeadingKeys", name, s.Sid, s.Condition)
					}
				case refTo(r, tableID): // StreamArn
					stream = true
				case len(join) == 2 && refTo(list(join[1])[0], tableID) && strings.HasPrefix(list(join[1])[1].(string), "/index/"):
					indexNames = append(indexNames, strings.TrimPrefix(list(join[1])[1].(string), "/index/"))
					if !slices.Equal(index, strs(s.Action)) {
						index = append(index, strs(s.Action)...)
					}
				case refTo(r, secretID):
					secret = true
					if !reflect.DeepEqual(strs(s.Action), secretActions(name)) {
						t.Errorf("%s secret actions %v", name, s.Action)
					}
				case refTo(r, pageSecretID):
					pageSecret = true
					if !reflect.DeepEqual(strs(s.Action), secretActions(name)) {
						t.Errorf("%s page secret actions %v", name, s.Action)
					}
				case len(join) == 2 && refTo(list(join[1])[0], auditID):
					putAudit = true
					if list(join[1])[1] != "/"+auditrecord.Prefix+"*" || !reflect.DeepEqual(strs(s.Action), []string{"s3:PutObject"}) {
						t.Errorf("%s audit grant %v on %v", name, s.Action, r)
					}
				}
			}
			if slices.Contains(strs(s.Action), "ses:SendEmail") {
				email = true
			}
			for _, a := range strs(s.Action) {
				if strings.HasPrefix(a, "s3:") && !putAudit {
					t.Errorf("%s has %s outside the audit prefix", name, a)
				}
			}
		}
		var wantFull []string
		for _, a := range want {
			wantFull = append(wantFull, "dynamodb:"+a)
		}
		if !reflect.DeepEqual(slices.Sorted(slices.Values(table)), slices.Sorted(slices.Values(wantFull))) {
			t.Errorf("%s table actions %v, want %v", name, table, wantFull)
		}
		// Issue 10 item 3: every table statement is one manifest.TableKeys
		// entry, conditioned on its partition-key patterns.
		if want := manifest.TableKeys[name]; !reflect.DeepEqual(narrowed, want) && !(len(narrowed) == 0 && len(want) == 0) {
			t.Errorf("%s table statements narrowed to %+v, want %+v", name, narrowed, want)
		}
		if wantIndex := name == manifest.Requests; (len(index) > 0) != wantIndex || (wantIndex && !reflect.DeepEqual(index, []string{"dynamodb:Query"})) {
			t.Errorf("%s index actions %v", name, index)
		}
		// Each index by name, never index/*.
		if len(index) > 0 {
			var want []string
			for _, ix := range tabledef.Indexes {
				want = append(want, ix.Name)
			}
			if !slices.Equal(indexNames, want) {
				t.Errorf("%s index grant on %v, want %v", name, indexNames, want)
			}
		}
		consumer := slices.Contains(manifest.StreamFunctions, name)
		if stream != consumer {
			t.Errorf("%s stream access %v, want %v", name, stream, consumer)
		}
		// Issue 10 item 2: only the functions that sign or verify links
		// read the link key; only the one that lists reads the page key;
		// and the rotation function, which rotates both (issue 21).
		if want := name == manifest.Approvals || name == manifest.Notify || name == manifest.Rotation; secret != want {
			t.Errorf("%s reads link key: %v, want %v", name, secret, want)
		}
		if want := name == manifest.Requests || name == manifest.Rotation; pageSecret != want {
			t.Errorf("%s reads page key: %v, want %v", name, pageSecret, want)
		}
		if want := name == manifest.Notify; email != want {
			t.Errorf("%s sends email: %v, want %v", name, email, want)
		}
		if want := name == manifest.Audit; putAudit != want {
			t.Errorf("%s writes audit objects: %v, want %v", name, putAudit, want)
		}
	}
}

func trimDynamo(actions []string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = strings.TrimPrefix(a, "dynamodb:")
	}
	return out
}

func TestBuckets(t *testing.T) {
	buckets := ofType("AWS::S3::Bucket")
	if len(buckets) != 3 {
		t.Errorf("%d buckets, want audit, Athena results and access logs", len(buckets))
	}
	policies := ofType("AWS::S3::BucketPolicy")
	for id, b := range buckets {
		p := b.Properties
		enc := list(get(p, "BucketEncryption", "ServerSideEncryptionConfiguration"))
		if len(enc) == 0 || get(enc[0], "ServerSideEncryptionByDefault", "SSEAlgorithm") != "AES256" {
			t.Errorf("%s encryption %v", id, enc)
		}
		pab := get(p, "PublicAccessBlockConfiguration")
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if get(pab, k) != true {
				t.Errorf("%s public access block %s = %v", id, k, get(pab, k))
			}
		}
		sslOnly := false
		for _, bp := range policies {
			if !refTo(bp.Properties["Bucket"], id) {
				continue
			}
			for _, s := range statements(t, bp) {
				if s.Effect == "Deny" && get(s.Condition, "Bool", "aws:SecureTransport") == "false" && slices.Contains(strs(s.Action), "s3:*") {
					sslOnly = true
				}
			}
		}
		if !sslOnly {
			t.Errorf("%s has no Deny on aws:SecureTransport=false", id)
		}
		if b.DeletionPolicy != "Retain" {
			t.Errorf("%s DeletionPolicy %q", id, b.DeletionPolicy)
		}
	}

	_, ab := one(t, "AWS::S3::Bucket", "AuditBucket")
	must(t, "audit bucket", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), &obj{
			"VersioningConfiguration": obj{"Status": "Enabled"},
			"ObjectLockEnabled":       true,
			"ObjectLockConfiguration": obj{
				"ObjectLockEnabled": "Enabled",
				"Rule":              obj{"DefaultRetention": obj{"Mode": stack.LockGovernance, "Days": 365}},
			},
			"LoggingConfiguration": assertions.Match_ObjectLike(&obj{"LogFilePrefix": "audit/"}),
		})
	})
	var classes []string
	for _, r := range list(get(ab.Properties, "LifecycleConfiguration", "Rules")) {
		for _, tr := range list(get(r, "Transitions")) {
			classes = append(classes, fmt.Sprintf("%v@%v", get(tr, "StorageClass"), get(tr, "TransitionInDays")))
		}
	}
	if !reflect.DeepEqual(classes, []string{"STANDARD_IA@90", "GLACIER_IR@365"}) {
		t.Errorf("audit transitions %v", classes)
	}
	_, rb := one(t, "AWS::S3::Bucket", "AthenaResultsBucket")
	if get(list(get(rb.Properties, "LifecycleConfiguration", "Rules"))[0], "ExpirationInDays") == nil {
		t.Error("Athena results never expire")
	}
	if rb.Properties["ObjectLockEnabled"] != nil {
		t.Error("Athena results bucket has Object Lock")
	}
}

func TestStreamConsumers(t *testing.T) {
	tableID, _ := one(t, "AWS::DynamoDB::Table", "Table")
	for _, name := range manifest.StreamFunctions {
		fnID, _ := one(t, "AWS::Lambda::Function", title(name)+"Function")
		_, esm := one(t, "AWS::Lambda::EventSourceMapping", title(name)+"Stream")
		p := esm.Properties
		if !refTo(p["FunctionName"], fnID) || !refTo(p["EventSourceArn"], tableID) {
			t.Errorf("%s mapping wires %v to %v", name, p["EventSourceArn"], p["FunctionName"])
		}
		if p["BisectBatchOnFunctionError"] != true || !reflect.DeepEqual(strs(p["FunctionResponseTypes"]), []string{"ReportBatchItemFailures"}) {
			t.Errorf("%s: bisect %v, response types %v", name, p["BisectBatchOnFunctionError"], p["FunctionResponseTypes"])
		}
		// Bounded, long enough to outlast an outage, and given up well inside
		// the stream's 24 h retention, so the failure queue's range can still
		// be read back and redriven (issue 23 item 4).
		if r, _ := p["MaximumRetryAttempts"].(float64); r < 1000 || r > 10000 {
			t.Errorf("%s retries %v, want bounded, 1000..10000", name, p["MaximumRetryAttempts"])
		}
		if a, _ := p["MaximumRecordAgeInSeconds"].(float64); a < 3600 || a > float64(stack.StreamRetentionHours-12)*3600 || a != stack.MaxRecordAgeHours*3600 {
			t.Errorf("%s max record age %v s, want %d h: at least an hour, and at least 12 h before the stream's %d h retention ends",
				name, p["MaximumRecordAgeInSeconds"], stack.MaxRecordAgeHours, stack.StreamRetentionHours)
		}
		queueID, q := one(t, "AWS::SQS::Queue", title(name)+"Failures")
		if !refTo(get(p, "DestinationConfig", "OnFailure", "Destination"), queueID) {
			t.Errorf("%s on-failure destination %v, want %s", name, get(p, "DestinationConfig"), queueID)
		}
		if q.Properties["SqsManagedSseEnabled"] != true {
			t.Errorf("%s failure queue is not encrypted", name)
		}
		alarmed := false
		for _, a := range ofType("AWS::CloudWatch::Alarm") {
			for _, d := range list(a.Properties["Dimensions"]) {
				if get(a.Properties, "MetricName") == "ApproximateNumberOfMessagesVisible" && refTo(get(d, "Value"), queueID) {
					alarmed = true
				}
			}
		}
		if !alarmed {
			t.Errorf("no depth alarm on %s", queueID)
		}
	}
}

func TestRoutesAndAuthorizer(t *testing.T) {
	authID, auth := one(t, "AWS::ApiGatewayV2::Authorizer", "")
	if auth.Properties["AuthorizerType"] != "JWT" {
		t.Errorf("authorizer type %v", auth.Properties["AuthorizerType"])
	}
	byKey := map[string]obj{}
	for _, r := range ofType("AWS::ApiGatewayV2::Route") {
		byKey[r.Properties["RouteKey"].(string)] = r.Properties
	}
	if len(byKey) != len(manifest.All) {
		t.Errorf("%d routes, want %d", len(byKey), len(manifest.All))
	}
	integrationOf := map[string]string{}
	for id, in := range ofType("AWS::ApiGatewayV2::Integration") {
		if in.Properties["PayloadFormatVersion"] != "2.0" || in.Properties["IntegrationType"] != "AWS_PROXY" {
			t.Errorf("integration %s: %v", id, in.Properties)
		}
		integrationOf[id] = fmt.Sprint(get(in.Properties, "IntegrationUri"))
	}
	for _, r := range manifest.All {
		p, ok := byKey[r.RouteKey()]
		if !ok {
			t.Errorf("route %s missing", r.RouteKey())
			continue
		}
		if r.Public {
			if p["AuthorizationType"] != "NONE" || p["AuthorizerId"] != nil {
				t.Errorf("public route %s has authorization %v", r.RouteKey(), p["AuthorizationType"])
			}
		} else if p["AuthorizationType"] != "JWT" || !refTo(p["AuthorizerId"], authID) {
			t.Errorf("route %s has authorization %v/%v, want the JWT authorizer", r.RouteKey(), p["AuthorizationType"], p["AuthorizerId"])
		}
		fnID, _ := one(t, "AWS::Lambda::Function", title(r.Function)+"Function")
		target := strings.TrimPrefix(fmt.Sprint(get(p, "Target", "Fn::Join")), "[")
		var uri string
		for id, u := range integrationOf {
			if strings.Contains(target, id) {
				uri = u
			}
		}
		if !strings.Contains(uri, fnID) {
			t.Errorf("route %s integrates %q, want function %s", r.RouteKey(), uri, fnID)
		}
	}
}

func TestStageAndLogs(t *testing.T) {
	_, st := one(t, "AWS::ApiGatewayV2::Stage", "")
	p := st.Properties
	if p["StageName"] != "$default" || p["AutoDeploy"] != true {
		t.Errorf("stage %v auto-deploy %v", p["StageName"], p["AutoDeploy"])
	}
	if r := get(p, "DefaultRouteSettings", "ThrottlingRateLimit"); r != 50.0 {
		t.Errorf("rate limit %v", r)
	}
	if b := get(p, "DefaultRouteSettings", "ThrottlingBurstLimit"); b != 100.0 {
		t.Errorf("burst limit %v", b)
	}
	logID, _ := one(t, "AWS::Logs::LogGroup", "ApiAccessLogs")
	if !refTo(get(p, "AccessLogSettings", "DestinationArn"), logID) {
		t.Errorf("access logs go to %v", get(p, "AccessLogSettings"))
	}
	format, _ := get(p, "AccessLogSettings", "Format").(string)
	if !json.Valid([]byte(format)) || strings.Contains(format, "$context.path") {
		t.Errorf("access log format %q must be JSON and must not log raw paths (link tokens)", format)
	}
	for id, lg := range ofType("AWS::Logs::LogGroup") {
		if lg.Properties["RetentionInDays"] != 90.0 {
			t.Errorf("log group %s retention %v", id, lg.Properties["RetentionInDays"])
		}
	}
}

func TestAuditCatalog(t *testing.T) {
	auditID, _ := one(t, "AWS::S3::Bucket", "AuditBucket")
	_, gt := one(t, "AWS::Glue::Table", "AuditTable")
	in := gt.Properties["TableInput"]
	params := get(in, "Parameters").(obj)
	for k, v := range map[string]string{
		"projection.enabled":   "true",
		"projection.dt.type":   "date",
		"projection.dt.format": "yyyy-MM-dd",
	} {
		if params[k] != v {
			t.Errorf("%s = %v, want %s", k, params[k], v)
		}
	}
	if r, _ := params["projection.dt.range"].(string); !strings.HasSuffix(r, ",NOW") {
		t.Errorf("projection.dt.range %v", params["projection.dt.range"])
	}
	tpl, _ := json.Marshal(params["storage.location.template"])
	if !strings.Contains(string(tpl), auditID) || !strings.Contains(string(tpl), "/"+auditrecord.Prefix+"dt=${dt}/") {
		t.Errorf("storage.location.template %s", tpl)
	}
	pk := list(get(in, "PartitionKeys"))
	if len(pk) != 1 || get(pk[0], "Name") != "dt" || get(pk[0], "Type") != "string" {
		t.Errorf("partition keys %v", pk)
	}
	sd := get(in, "StorageDescriptor")
	if get(sd, "SerdeInfo", "SerializationLibrary") != "org.openx.data.jsonserde.JsonSerDe" {
		t.Errorf("serde %v", get(sd, "SerdeInfo"))
	}
	// Every JSON field of auditrecord.Record has a column.
	var cols []string
	for _, c := range list(get(sd, "Columns")) {
		cols = append(cols, get(c, "Name").(string))
	}
	rt := reflect.TypeOf(auditrecord.Record{})
	for i := range rt.NumField() {
		tag := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
		if !slices.Contains(cols, strings.ToLower(tag)) {
			t.Errorf("no column for auditrecord.Record field %q (columns %v)", tag, cols)
		}
	}
	must(t, "Athena workgroup", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::Athena::WorkGroup"), &obj{
			"WorkGroupConfiguration": assertions.Match_ObjectLike(&obj{
				"EnforceWorkGroupConfiguration": true,
				"ResultConfiguration": assertions.Match_ObjectLike(&obj{
					"EncryptionConfiguration": obj{"EncryptionOption": "SSE_S3"},
				}),
			}),
		})
	})
}

func TestSecretAndEmail(t *testing.T) {
	for _, id := range []string{"LinkKey", "PageKey"} {
		_, s := one(t, "AWS::SecretsManager::Secret", id)
		g := s.Properties["GenerateSecretString"]
		if n, _ := get(g, "PasswordLength").(float64); n < 64 || get(g, "ExcludePunctuation") != true || s.DeletionPolicy != "Retain" {
			t.Errorf("%s generated secret %v, deletion %q", id, g, s.DeletionPolicy)
		}
	}
	must(t, "SES identity", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::SES::EmailIdentity"), &obj{"EmailIdentity": testSenderDomain})
	})
	_, fn := one(t, "AWS::Lambda::Function", "NotifyFunction")
	if v := get(fn.Properties, "Environment", "Variables", config.EnvSender); v != "elevate@"+testSenderDomain {
		t.Errorf("sender %v", v)
	}
	// Issue 23 item 6: in the SES sandbox, SES also authorizes each recipient
	// identity; notify may send to the account's identities only as its own
	// From address.
	_, policy := one(t, "AWS::IAM::Policy", "NotifyRoleDefaultPolicy")
	var sandbox bool
	for _, st := range statements(t, policy) {
		if st.Sid != "SendEmailInSandbox" {
			continue
		}
		sandbox = true
		join := list(get(list(st.Resource)[0], "Fn::Join"))
		parts := fmt.Sprint(join)
		if !reflect.DeepEqual(strs(st.Action), []string{"ses:SendEmail"}) || !strings.HasSuffix(parts, ":identity/*]]") ||
			get(st.Condition, "StringEquals", "ses:FromAddress") != "elevate@"+testSenderDomain {
			t.Errorf("sandbox statement %+v", st)
		}
	}
	if !sandbox {
		t.Error("notify may not send to sandbox recipient identities")
	}
}

func TestCognitoAndOutputs(t *testing.T) {
	_, pool := one(t, "AWS::Cognito::UserPool", "Users")
	if !reflect.DeepEqual(strs(pool.Properties["UsernameAttributes"]), []string{"email"}) {
		t.Errorf("username attributes %v", pool.Properties["UsernameAttributes"])
	}
	if get(pool.Properties, "AdminCreateUserConfig", "AllowAdminCreateUserOnly") != true {
		t.Error("self sign-up is enabled")
	}
	// The email is the principal: a new address reaches tokens only once
	// verified, and users cannot set it through the app client.
	if !reflect.DeepEqual(strs(get(pool.Properties, "UserAttributeUpdateSettings", "AttributesRequireVerificationBeforeUpdate")), []string{"email"}) {
		t.Errorf("email changes need no verification: %v", pool.Properties["UserAttributeUpdateSettings"])
	}
	// Issue 10 item 10: MFA is required, by authenticator app (TOTP) only.
	if pool.Properties["MfaConfiguration"] != "ON" || !reflect.DeepEqual(strs(pool.Properties["EnabledMfas"]), []string{"SOFTWARE_TOKEN_MFA"}) {
		t.Errorf("MFA %v with %v, want ON with SOFTWARE_TOKEN_MFA only", pool.Properties["MfaConfiguration"], pool.Properties["EnabledMfas"])
	}
	_, client := one(t, "AWS::Cognito::UserPoolClient", "UsersCliClient")
	if slices.Contains(strs(client.Properties["WriteAttributes"]), "email") || client.Properties["WriteAttributes"] == nil {
		t.Errorf("the app client may write email: %v", client.Properties["WriteAttributes"])
	}
	// Issue 23 item 1: `elevate login` signs in through the hosted UI
	// (authorization code with PKCE to its loopback redirect, where Cognito
	// enforces TOTP) and refreshes; no password flow reaches the CLI.
	cp := client.Properties
	if cp["AllowedOAuthFlowsUserPoolClient"] != true || !reflect.DeepEqual(strs(cp["AllowedOAuthFlows"]), []string{"code"}) ||
		!reflect.DeepEqual(strs(cp["CallbackURLs"]), []string{config.LoginRedirectURL}) ||
		!reflect.DeepEqual(strs(cp["SupportedIdentityProviders"]), []string{"COGNITO"}) {
		t.Errorf("app client OAuth: flows %v, callbacks %v, providers %v", cp["AllowedOAuthFlows"], cp["CallbackURLs"], cp["SupportedIdentityProviders"])
	}
	for _, scope := range []string{"openid", "email"} {
		if !slices.Contains(strs(cp["AllowedOAuthScopes"]), scope) {
			t.Errorf("app client scopes %v lack %s", cp["AllowedOAuthScopes"], scope)
		}
	}
	if flows := strs(cp["ExplicitAuthFlows"]); slices.Contains(flows, "ALLOW_USER_PASSWORD_AUTH") || !slices.Contains(flows, "ALLOW_REFRESH_TOKEN_AUTH") {
		t.Errorf("auth flows %v: want refresh, never the password flow", flows)
	}
	if _, d := one(t, "AWS::Cognito::UserPoolDomain", "UsersHostedUi"); d.Properties["Domain"] == nil {
		t.Error("hosted UI domain without a name")
	}
	var groups []string
	for _, g := range ofType("AWS::Cognito::UserPoolGroup") {
		groups = append(groups, g.Properties["GroupName"].(string))
	}
	if !reflect.DeepEqual(slices.Sorted(slices.Values(groups)), []string{app.DefaultAdminGroup, app.AuthorizersGroup}) {
		t.Errorf("groups %v", groups)
	}
	for _, o := range []string{stack.OutDkimPrefix + "1", stack.OutDkimPrefix + "3", stack.OutApiURL, stack.OutUserPoolID, stack.OutUserPoolClient, stack.OutAuditBucket, stack.OutTable, stack.OutWorkGroup,
		stack.OutLoginIssuer, stack.OutLoginCommand, stack.OutGlueDatabase, stack.OutGlueTable, stack.OutNotifyFailures, stack.OutAuditFailures,
		stack.OutNotifyFunction, stack.OutAuditFunction} {
		if _, ok := doc.Outputs[o]; !ok {
			t.Errorf("output %s missing", o)
		}
	}
}

// Issue 23 item 5: emails SES refused for good are counted from notify's own
// log lines (the attribute notify writes, see TestSESRefusalIsRecorded...)
// and alarmed, with the alarm address subscribed.
func TestFailedDeliveriesAlarm(t *testing.T) {
	logsID, _ := one(t, "AWS::Logs::LogGroup", title(manifest.Notify)+"Logs")
	_, mf := one(t, "AWS::Logs::MetricFilter", "NotifyFailedDeliveriesFilter")
	want := fmt.Sprintf(`{ $.%s = "%s" }`, notify.DeliveryLogKey, notify.DeliveryFailed)
	if !refTo(mf.Properties["LogGroupName"], logsID) || mf.Properties["FilterPattern"] != want {
		t.Errorf("metric filter on %v with %v, want %s with %s", mf.Properties["LogGroupName"], mf.Properties["FilterPattern"], logsID, want)
	}
	mt := list(mf.Properties["MetricTransformations"])
	if len(mt) != 1 || get(mt[0], "MetricNamespace") != stack.MetricNamespace || get(mt[0], "MetricName") != stack.FailedDeliveriesMetric {
		t.Errorf("metric %v", mt)
	}
	topicID, _ := one(t, "AWS::SNS::Topic", "AlarmTopic")
	_, sub := one(t, "AWS::SNS::Subscription", "AlarmTopic")
	if sub.Properties["Endpoint"] != testAlarmEmail || !refTo(sub.Properties["TopicArn"], topicID) {
		t.Errorf("alarm subscription %v", sub.Properties)
	}
	_, a := one(t, "AWS::CloudWatch::Alarm", "NotifyFailedDeliveries")
	if a.Properties["MetricName"] != stack.FailedDeliveriesMetric || len(list(a.Properties["AlarmActions"])) != 1 || !refTo(list(a.Properties["AlarmActions"])[0], topicID) {
		t.Errorf("failed-deliveries alarm %v", a.Properties)
	}
}

func TestAlarms(t *testing.T) {
	var metrics []string
	for _, a := range ofType("AWS::CloudWatch::Alarm") {
		metrics = append(metrics, fmt.Sprint(a.Properties["Namespace"], "/", a.Properties["MetricName"]))
	}
	count := func(m string) (n int) {
		for _, x := range metrics {
			if x == m {
				n++
			}
		}
		return n
	}
	fns := len(manifest.Functions())
	for m, want := range map[string]int{
		"AWS/Lambda/Errors":                                        fns,
		"AWS/Lambda/Throttles":                                     fns,
		"AWS/Lambda/IteratorAge":                                   len(manifest.StreamFunctions),
		"AWS/SQS/ApproximateNumberOfMessagesVisible":               len(manifest.StreamFunctions),
		"AWS/ApiGateway/5xx":                                       1,
		stack.MetricNamespace + "/" + stack.FailedDeliveriesMetric: 1,
	} {
		if got := count(m); got != want {
			t.Errorf("%d alarms on %s, want %d", got, m, want)
		}
	}
}

// An external IdP replaces the user pool; the same routes stay protected.
// The same synth checks the settings such a deployment may change: the
// email_verified opt-out and COMPLIANCE Object Lock (issue 10 items 4, 10).
func TestExternalIdP(t *testing.T) {
	dir := t.TempDir()
	e, err := synth(dir, "oidc", obj{
		stack.CtxOIDCIssuer:                "https://login.example.com/tenant/v2.0",
		stack.CtxOIDCAudience:              "api://elevate",
		stack.CtxAllowMissingEmailVerified: true,
		stack.CtxObjectLockMode:            "COMPLIANCE",
		stack.CtxTicketURL:                 "https://tickets.example.com/api/changes", // issue 12
		stack.CtxAlarmEmail:                stack.AlarmEmailNone,                      // issue 23: the explicit opt-out
	})
	if err != nil {
		t.Fatal(err)
	}
	var d template
	if err := decode(assertions.Template_FromStack(e.Stack, nil), &d); err != nil {
		t.Fatal(err)
	}
	var auth obj
	for id, r := range d.Resources {
		switch r.Type {
		case "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolGroup":
			t.Errorf("external IdP still declares %s %s", r.Type, id)
		case "AWS::ApiGatewayV2::Authorizer":
			auth = r.Properties
		}
	}
	if get(auth, "JwtConfiguration", "Issuer") != "https://login.example.com/tenant/v2.0" ||
		!reflect.DeepEqual(strs(get(auth, "JwtConfiguration", "Audience")), []string{"api://elevate"}) {
		t.Errorf("authorizer %v", auth)
	}
	if _, ok := d.Outputs[stack.OutUserPoolID]; ok {
		t.Error("user pool output without a user pool")
	}
	if v := get(d.Outputs[stack.OutLoginIssuer], "Value"); v != "https://login.example.com/tenant/v2.0" {
		t.Errorf("login issuer output %v", v)
	}
	var alarms int
	for id, r := range d.Resources {
		switch r.Type {
		case "AWS::SNS::Topic", "AWS::SNS::Subscription":
			t.Errorf("alarmEmail %q still declares %s %s", stack.AlarmEmailNone, r.Type, id)
		case "AWS::CloudWatch::Alarm":
			alarms++
			if a := r.Properties["AlarmActions"]; a != nil {
				t.Errorf("alarm %s notifies %v", id, a)
			}
		}
	}
	if alarms == 0 {
		t.Error("opting out of the alarm email dropped the alarms")
	}
	for id, r := range d.Resources {
		switch {
		case r.Type == "AWS::Lambda::Function":
			v := get(r.Properties, "Environment", "Variables", config.EnvAllowMissingEmailVerified)
			api := slices.ContainsFunc(manifest.APIFunctions, func(f string) bool { return strings.HasPrefix(id, title(f)+"Function") })
			if api && v != "true" || !api && v != nil {
				t.Errorf("%s %s = %v", id, config.EnvAllowMissingEmailVerified, v)
			}
			// Only the requests function asks the ticket system.
			tickets := get(r.Properties, "Environment", "Variables", config.EnvTicketURL)
			if requests := strings.HasPrefix(id, title(manifest.Requests)+"Function"); requests && tickets != "https://tickets.example.com/api/changes" || !requests && tickets != nil {
				t.Errorf("%s %s = %v", id, config.EnvTicketURL, tickets)
			}
		case r.Type == "AWS::S3::Bucket" && strings.HasPrefix(id, "AuditBucket"):
			if m := get(r.Properties, "ObjectLockConfiguration", "Rule", "DefaultRetention", "Mode"); m != stack.LockCompliance {
				t.Errorf("audit bucket Object Lock mode %v, want %s", m, stack.LockCompliance)
			}
		}
	}
	// The default deployment (Cognito) requires the claim on every function.
	for id, r := range ofType("AWS::Lambda::Function") {
		if v := get(r.Properties, "Environment", "Variables", config.EnvAllowMissingEmailVerified); v != nil {
			t.Errorf("default %s sets %s = %v", id, config.EnvAllowMissingEmailVerified, v)
		}
	}
}

func TestContextValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		ctx  obj
		want string
	}{
		"lock mode":                           {obj{stack.CtxObjectLockMode: "LEGAL"}, stack.CtxObjectLockMode},
		"ticket url not https":                {obj{stack.CtxTicketURL: "http://tickets.example.com"}, stack.CtxTicketURL},
		"lock days":                           {obj{stack.CtxObjectLockDays: "a year"}, stack.CtxObjectLockDays},
		"zero lock days":                      {obj{stack.CtxObjectLockDays: 0}, stack.CtxObjectLockDays},
		"half OIDC":                           {obj{stack.CtxOIDCIssuer: "https://idp.example.com"}, stack.CtxOIDCAudience},
		"http issuer":                         {obj{stack.CtxOIDCIssuer: "http://idp", stack.CtxOIDCAudience: "x"}, stack.CtxOIDCIssuer},
		"retention":                           {obj{stack.CtxLogRetentionDays: 42}, stack.CtxLogRetentionDays},
		"sender domain":                       {obj{stack.CtxSenderDomain: "not a domain"}, stack.CtxSenderDomain},
		"foreign sender":                      {obj{stack.CtxSenderAddress: "me@other.org"}, stack.CtxSenderAddress},
		"negative conc.":                      {obj{stack.CtxReservedConcurrency: -1}, stack.CtxReservedConcurrency},
		"public url":                          {obj{stack.CtxPublicURL: "https://x.example.com/"}, stack.CtxPublicURL},
		"bool":                                {obj{stack.CtxServerAccessLogs: "maybe"}, stack.CtxServerAccessLogs},
		"stack name":                          {obj{stack.CtxStackName: "1nvalid"}, stack.CtxStackName},
		"email_verified opt-out with Cognito": {obj{stack.CtxAllowMissingEmailVerified: true}, stack.CtxAllowMissingEmailVerified},
		// Issue 23 item 3: the two values that deploy something wrong unless
		// the operator names them.
		"example sender domain": {obj{stack.CtxSenderDomain: "example.com", stack.CtxAlarmEmail: "none"}, stack.CtxSenderDomain + ` "example.com" is a reserved example domain`},
		"example subdomain":     {obj{stack.CtxSenderDomain: "mail.example.org", stack.CtxAlarmEmail: "none"}, stack.CtxSenderDomain + ` "mail.example.org" is a reserved example domain`},
		"no sender domain":      {obj{stack.CtxAlarmEmail: "none"}, stack.CtxSenderDomain + " is not set"},
		"no alarm email":        {obj{stack.CtxSenderDomain: testSenderDomain}, stack.CtxAlarmEmail + " is not set"},
		"empty alarm email":     {obj{stack.CtxSenderDomain: testSenderDomain, stack.CtxAlarmEmail: ""}, stack.CtxAlarmEmail + " is not set"},
		"alarm email not email": {obj{stack.CtxSenderDomain: testSenderDomain, stack.CtxAlarmEmail: "ops"}, stack.CtxAlarmEmail},
		"cognito domain prefix": {obj{stack.CtxCognitoDomainPrefix: "my-cognito-login"}, stack.CtxCognitoDomainPrefix},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := tc.ctx
			_, err := stack.PropsFromContext(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}).Node())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
	ctx := obj{stack.CtxSenderDomain: testSenderDomain, stack.CtxAlarmEmail: stack.AlarmEmailNone, stack.CtxObjectLockMode: "compliance", stack.CtxObjectLockDays: "2555", stack.CtxReservedConcurrency: 5.0, stack.CtxServerAccessLogs: "false"}
	p, err := stack.PropsFromContext(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}).Node())
	if err != nil || p.ObjectLockMode != stack.LockCompliance || p.ObjectLockDays != 2555 || p.ReservedConcurrency != 5 || p.ServerAccessLogs {
		t.Errorf("props %+v, err %v", p, err)
	}
}

func TestMissingBinaries(t *testing.T) {
	err := stack.CheckAssets(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "make build") || !strings.Contains(err.Error(), "notify") {
		t.Errorf("error %v", err)
	}
	if err := stack.CheckAssets(assetDir); err != nil {
		t.Errorf("complete asset dir refused: %v", err)
	}
}

// TestAwsSolutionsRules: cdk-nag's AwsSolutions pack, applied to the whole
// stack by declare (so to every function and resource added later), finds no
// error that is not suppressed with a reason.
func TestAwsSolutionsRules(t *testing.T) {
	applied := false
	for _, a := range *awscdk.Aspects_Of(deployed.Stack).All() {
		if p, ok := a.(cdknag.NagPack); ok && *p.ReadPackName() == "AwsSolutions" {
			applied = true
		}
	}
	if !applied {
		t.Fatal("the AwsSolutions pack is not applied to the stack")
	}
	var findings int
	for _, c := range *deployed.Stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		for _, m := range *c.Node().Metadata() {
			msg, _ := m.Data.(string)
			if !strings.HasPrefix(msg, "AwsSolutions-") {
				continue
			}
			findings++
			switch *m.Type {
			case "aws:cdk:error":
				t.Errorf("%s: %s", *c.Node().Path(), msg)
			case "aws:cdk:warning":
				t.Logf("warning %s: %s", *c.Node().Path(), msg)
			}
		}
	}
	t.Logf("%d AwsSolutions findings not suppressed", findings)
}
