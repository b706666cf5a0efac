package local

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/elevate-pam/elevate/pkg/access"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

const sessionPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::old-*"}]}`

// movableClock is the access function's clock, which a test moves forward.
type movableClock struct{ offset atomic.Int64 }

func (c *movableClock) now() time.Time {
	return time.Now().UTC().Add(time.Duration(c.offset.Load()))
}

// credentialsStack runs a stack whose logs land in logs and whose access
// function reads clock.
func credentialsStack(t *testing.T) (*Stack, *movableClock, *logBuffer) {
	t.Helper()
	_, endpoint := emulatortest.DynamoForTest(t)
	clock := &movableClock{}
	logs := &logBuffer{}
	o, _ := withOpenAPI(t, Options{
		DynamoEndpoint: endpoint,
		Table:          emulatortest.UniqueTableName("creds"),
		RecordCalls:    true,
		AccessClock:    clock.now,
		PollInterval:   100 * time.Millisecond,
		Log:            slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	st, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Error(err)
		}
		emulatortest.CheckCallsWithinGrants(t, st.Calls)
	})
	return st, clock, logs
}

// setUpBinding makes group ops (bob), turns access on and saves the S3
// Delete-Bucket policy with an aws binding on the local broker role.
func setUpBinding(t *testing.T, st *Stack) (admin, alice, bob *client) {
	admin = st.client(t, "admin@example.com", "elevate-admins")
	alice, bob = st.client(t, "alice@example.com"), st.client(t, "bob@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "S3", "name": "Delete-Bucket", "approvalType": "Manual",
		"aws": map[string]any{"roleArn": emulator.BrokerRoleARN, "sessionPolicy": json.RawMessage(sessionPolicy), "maxSessionMinutes": 30}})
	return admin, alice, bob
}

// brokerDeny reads the broker role's Elevate policy through IAM; "" when
// there is none.
func brokerDeny(t *testing.T, st *Stack) string {
	t.Helper()
	out, err := emulator.IAMClient(st.AWS.Endpoint).GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{
		RoleName: aws.String(emulator.BrokerRoleName), PolicyName: aws.String(access.PolicyName)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchEntity" {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	doc, err := url.QueryUnescape(aws.ToString(out.PolicyDocument))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// deniedOutright reports whether the document denies every session tagged
// with the request, with no time condition.
func deniedOutright(t *testing.T, doc, requestID string) bool {
	t.Helper()
	if doc == "" {
		return false
	}
	var d struct {
		Statement []struct {
			Effect, Action, Resource string
			Condition                map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("deny document %q: %v", doc, err)
	}
	for _, s := range d.Statement {
		if s.Effect != "Deny" || s.Action != "*" || s.Resource != "*" || len(s.Condition) != 1 {
			continue
		}
		ids, _ := s.Condition["StringEquals"]["aws:PrincipalTag/elevate-request"].([]any)
		for _, id := range ids {
			if id == requestID {
				return true
			}
		}
	}
	return false
}

// TestCredentialsThroughTheLocalStack is the walkthrough: a policy with a
// binding, a request, an approval, credentials whose STS session carries
// the source identity, tags and session policy and ends with the grant; a
// revoke that puts the deny in place within 5 s; a new call refused; the
// entry gone once the credentials have expired (by the access function's
// clock); and no secret in any log line or audit record.
func TestCredentialsThroughTheLocalStack(t *testing.T) {
	st, clock, logs := credentialsStack(t)
	admin, alice, bob := setUpBinding(t, st)

	// A malformed binding is 422 and changes nothing.
	code, out := admin.do("POST", "/v1/policies", map[string]any{"type": "Task", "scope": "S3", "name": "Put-Bucket-Policy", "approvalType": "Manual",
		"aws": map[string]any{"roleArn": emulator.BrokerRoleARN, "sessionPolicy": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "s3:*"}}}}})
	if code != 422 || !strings.Contains(out["detail"].(string), "Resource") {
		t.Fatalf("malformed session policy: %d %v", code, out["_raw"])
	}
	admin.must(404, "GET", "/v1/policies/task:s3:put-bucket-policy", nil)

	id := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "S3", "name": "Delete-Bucket", "reason": "tidy up", "durationHours": 0.5})["id"].(string)
	alice.must(409, "POST", "/v1/requests/"+id+"/credentials", nil) // pending
	granted := bob.must(200, "POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "ok"})
	grantEnd, err := time.Parse(time.RFC3339, granted["grantExpiresAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	bob.must(403, "POST", "/v1/requests/"+id+"/credentials", nil) // not the requester

	creds := alice.must(200, "POST", "/v1/requests/"+id+"/credentials", nil)
	keyID, secret, token := creds["accessKeyId"].(string), creds["secretAccessKey"].(string), creds["sessionToken"].(string)
	expiration, err := time.Parse(time.RFC3339, creds["expiration"].(string))
	if err != nil || keyID == "" || secret == "" || token == "" {
		t.Fatalf("credentials %v (%v)", creds["_raw"], err)
	}
	sessions := st.AWS.STS.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("STS issued %d sessions, want 1", len(sessions))
	}
	s := sessions[0]
	if s.AccessKeyID != keyID || s.RoleARN != emulator.BrokerRoleARN || s.SourceIdentity != "alice@example.com" ||
		s.Tags["elevate-request"] != id || s.Tags["elevate-principal"] != "alice@example.com" || !s.RoleChaining ||
		s.Policy != strings.ReplaceAll(sessionPolicy, " ", "") || !strings.HasSuffix(s.SessionName, "-"+id) {
		t.Fatalf("the STS session: %+v", s)
	}
	if expiration.After(grantEnd) || grantEnd.Sub(expiration) > 5*time.Second || !s.Expiration.Equal(expiration) {
		t.Fatalf("credentials expire %s, the grant ends %s (STS recorded %s)", expiration, grantEnd, s.Expiration)
	}
	issued := sts.New(sts.Options{BaseEndpoint: aws.String(st.AWS.Endpoint), Region: st.Region,
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, token)})
	who, err := issued.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || !strings.Contains(aws.ToString(who.Arn), ":assumed-role/elevate-broker/") {
		t.Fatalf("the credentials sign as %v (%v)", who, err)
	}
	if doc := brokerDeny(t, st); doc != "" {
		t.Fatalf("a deny before any revoke: %s", doc)
	}

	revokedAt := time.Now()
	bob.must(200, "POST", "/v1/requests/"+id+"/revoke", map[string]any{"comment": "done"})
	for !deniedOutright(t, brokerDeny(t, st), id) {
		if time.Since(revokedAt) > 5*time.Second {
			t.Fatalf("no deny for %s 5 s after the revoke: %q", id, brokerDeny(t, st))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("deny in place %s after the revoke", time.Since(revokedAt).Round(time.Millisecond))
	if code, out := alice.do("POST", "/v1/requests/"+id+"/credentials", nil); code != 409 || out["code"] != "approval-required" {
		t.Fatalf("credentials after the revoke: %d %v", code, out["_raw"])
	}

	// The trail has the issue and the revoke, without the secret.
	var recs []auditrecord.Record
	waitFor(t, 30*time.Second, func() bool {
		recs = auditRecords(t, st)
		return countAction(recs, id, auditrecord.ActionCredentialsIssued) == 1 && countAction(recs, id, auditrecord.ActionCredentialsRevoked) == 1
	})
	for _, r := range recs {
		if r.RequestID == id && r.Action == auditrecord.ActionCredentialsIssued && (r.Detail["accessKeyId"] != keyID || r.Detail["roleArn"] != emulator.BrokerRoleARN) {
			t.Errorf("credentials.issued detail: %v", r.Detail)
		}
	}

	// Before the credentials expire the sweep keeps the entry; after, it goes.
	if err := st.Access.Sweep(context.Background()); err != nil || !deniedOutright(t, brokerDeny(t, st), id) {
		t.Fatalf("sweep before expiry: %v, deny %q", err, brokerDeny(t, st))
	}
	clock.offset.Store(int64(time.Until(expiration) + time.Second))
	if err := st.Access.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if doc := brokerDeny(t, st); doc != "" {
		t.Fatalf("deny still there after the credentials expired: %s", doc)
	}

	scanForSecrets(t, logs.String(), recs, secret, token)
}

func countAction(recs []auditrecord.Record, requestID, action string) int {
	n := 0
	for _, r := range recs {
		if r.RequestID == requestID && r.Action == action {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scanForSecrets fails if a secret access key or session token appears in
// the logs or in any audit record.
func scanForSecrets(t *testing.T, logs string, recs []auditrecord.Record, secrets ...string) {
	t.Helper()
	if logs == "" {
		t.Fatal("no logs to scan: the scan would prove nothing")
	}
	trail, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a secret appears in the logs")
		}
		if strings.Contains(string(trail), s) {
			t.Errorf("a secret appears in the audit trail")
		}
	}
}

// TestCredentialsRaceAgainstRevoke sends 20 credentials calls and a revoke
// at once: every credential handed out is on record and covered by the
// deny; the rest are refused. No window.
func TestCredentialsRaceAgainstRevoke(t *testing.T) {
	st, _, logs := credentialsStack(t)
	_, alice, bob := setUpBinding(t, st)
	id := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "S3", "name": "Delete-Bucket", "reason": "race"})["id"].(string)
	bob.must(200, "POST", "/v1/requests/"+id+"/approve", nil)

	type answer struct {
		code        int
		keyID       string
		secret      string
		token       string
		problemCode any
	}
	answers := make([]answer, 20)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range answers {
		c := st.client(t, "alice@example.com")
		wg.Go(func() {
			<-start
			time.Sleep(time.Duration(i) * 20 * time.Millisecond) // spread over the revoke's commit
			code, out := c.do("POST", "/v1/requests/"+id+"/credentials", nil)
			a := answer{code: code, problemCode: out["code"]}
			a.keyID, _ = out["accessKeyId"].(string)
			a.secret, _ = out["secretAccessKey"].(string)
			a.token, _ = out["sessionToken"].(string)
			answers[i] = a
		})
	}
	var revokeCode int
	wg.Go(func() {
		<-start
		// Into the middle of the calls: once STS has issued a few sessions,
		// some of which may not be on record yet.
		for len(st.AWS.STS.Sessions()) < 2 {
			time.Sleep(time.Millisecond)
		}
		revokeCode, _ = bob.do("POST", "/v1/requests/"+id+"/revoke", nil)
	})
	close(start)
	wg.Wait()
	if revokeCode != 200 {
		t.Fatalf("revoke answered %d", revokeCode)
	}
	var handedOut []answer
	for i, a := range answers {
		switch {
		case a.code == 200 && a.keyID != "":
			handedOut = append(handedOut, a)
		case a.code == 409 && a.problemCode == "approval-required":
		default:
			t.Errorf("call %d: %d %v", i, a.code, a.problemCode)
		}
	}
	t.Logf("%d of 20 credentials calls got credentials before the revoke; STS issued %d sessions", len(handedOut), len(st.AWS.STS.Sessions()))
	if len(handedOut) == 0 || len(handedOut) == len(answers) {
		t.Fatalf("%d of %d calls got credentials: the revoke did not land among them, so the test shows nothing", len(handedOut), len(answers))
	}

	// Every credential handed out was recorded before the revoke committed,
	// so the revoke's event denies the request's tag.
	waitFor(t, 5*time.Second, func() bool { return deniedOutright(t, brokerDeny(t, st), id) })
	_, recorded, err := st.Access.Store.RequestIssuances(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	onRecord := map[string]bool{}
	for _, iss := range recorded {
		onRecord[iss.AccessKeyID] = true
	}
	sessions := map[string]map[string]string{}
	for _, s := range st.AWS.STS.Sessions() {
		sessions[s.AccessKeyID] = s.Tags
	}
	var secrets []string
	for _, a := range handedOut {
		if !onRecord[a.keyID] || sessions[a.keyID]["elevate-request"] != id {
			t.Errorf("credentials %s were handed out but are not covered (on record %v, tags %v)", a.keyID, onRecord[a.keyID], sessions[a.keyID])
		}
		secrets = append(secrets, a.secret, a.token)
	}
	scanForSecrets(t, logs.String(), auditRecords(t, st), secrets...)
}
