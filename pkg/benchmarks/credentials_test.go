package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/stscreds"
)

const benchSessionPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}]}`

// minWorkKind marks the benchmark's copy of the grant slot: a kind no
// stream consumer reads, so the floor's writes are neither audited nor
// reconciled (which spares the floor background work the route's records
// cause: if anything a faster floor, never a slower one).
const minWorkKind = "bench-credentials-floor"

// BenchmarkCredentialsVsAssumeRole measures, interleaved in one run (the
// order rotating every iteration), a repeated POST
// /v1/requests/{id}/credentials through the local gateway (HTTP, JWT check,
// handler, BatchGetItem of settings + policy + grant slot, sts:AssumeRole,
// the issuance record: a TransactWriteItems of a ConditionCheck on the slot
// and the record's Put; the request's requester and target were read by an
// earlier call and never change) against two floors:
//
//   - the issue's floor: the same AssumeRole made directly against the same
//     local STS (credentials_p50_ratio, target ≤ 1.25), which does no
//     storage round trip at all;
//   - the least work any correct implementation must do for that call
//     (credentials_min_work_p50_ratio): read the settings, the policy and
//     the grant's state (on or off, the binding, whether the grant is live
//     and still fits, when it ends: all can change between calls) in one
//     BatchGetItem, the same AssumeRole through the route's own STS
//     adapter, and one conditional write that records the issuance on the
//     item holding the grant state, conditioned on the grant being live
//     (the route's own condition), so a revoke either commits first and the
//     write fails, or commits after and sees it. One item, no transaction.
//
// It also times the route without HTTP (the service, its store and STS
// adapter wrapped in timers, so each round trip is timed inside the route),
// the service's first call for a request (which reads the request too), and
// each round trip of the least work, so BENCHMARKS.md can say where the
// time goes.
func BenchmarkCredentialsVsAssumeRole(b *testing.B) {
	st, admin := stack(b)
	var pol struct{ ID string }
	if err := json.Unmarshal(admin.must(201, "POST", "/v1/policies", `{"type":"Task","scope":"S3","name":"Delete-Bucket","approvalType":"Auto",`+
		`"aws":{"roleArn":"`+emulator.BrokerRoleARN+`","sessionPolicy":`+benchSessionPolicy+`}}`), &pol); err != nil {
		b.Fatal(err)
	}
	alice := newCaller(b, st, "alice@example.com")
	var req struct{ ID string }
	if err := json.Unmarshal(alice.must(201, "POST", "/v1/requests", `{"scope":"S3","name":"Delete-Bucket","reason":"bench"}`), &req); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	db := emulator.DynamoClient(st.DynamoEndpoint)
	store := dynamo.New(db, st.Table, []byte("0123456789abcdef0123456789abcdef"))
	client := emulator.STSClient(st.AWS.Endpoint)
	assumer := stscreds.Assumer{STS: client}
	var route, least phases
	timed := &timedStore{Store: store, p: &route}
	svc := &app.Service{Store: timed, Clock: elevate.SystemClock, Issuer: timedAssumer{assumer, &route}, Issuances: timed, CredentialTargets: &app.RequestTargets{}}
	name, source, principalTag := elevate.SessionIdentity("alice@example.com", req.ID)
	tags := map[string]string{elevate.SessionTagRequest: req.ID, elevate.SessionTagPrincipal: principalTag}
	mw := newMinWork(b, ctx, db, st.Table, pol.ID, req.ID)

	floor := func() {
		_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(emulator.BrokerRoleARN), RoleSessionName: aws.String(name),
			SourceIdentity: aws.String(source), DurationSeconds: aws.Int32(3600), Policy: aws.String(benchSessionPolicy),
			Tags: []ststypes.Tag{{Key: aws.String(elevate.SessionTagPrincipal), Value: aws.String(principalTag)}, {Key: aws.String(elevate.SessionTagRequest), Value: aws.String(req.ID)}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	gateway := func() {
		if code, out := alice.do("POST", "/v1/requests/"+req.ID+"/credentials", ""); code != 200 || !bytes.Contains(out, []byte(`"sessionToken"`)) {
			b.Fatalf("credentials: %d", code) // never the body: it holds the secret
		}
	}
	// The least work, for a repeated call: the requester and the target
	// never change, so like the route it holds them from an earlier read.
	minWork := func() {
		t := time.Now()
		binding, grantEnd := mw.read(ctx)
		least.add(phaseRead, t)
		now := time.Now()
		d, _ := binding.CredentialsWindow(now, grantEnd)
		t = time.Now()
		creds, err := assumer.AssumeRole(ctx, app.AssumeRoleInput{RoleARN: binding.RoleARN, SessionName: name, SourceIdentity: source, Tags: tags,
			SessionPolicy: string(binding.SessionPolicy), PolicyARNs: binding.ManagedPolicyARNs, Duration: d})
		least.add(phaseSTS, t)
		if err != nil {
			b.Fatal(err)
		}
		t = time.Now()
		err = mw.record(ctx, req.ID, creds.AccessKeyID, name, source, now, creds.Expiration, grantEnd)
		least.add(phaseWrite, t)
		if err != nil {
			b.Fatal(err)
		}
	}
	steps := []struct {
		figure string
		f      func()
	}{
		{"credentials_gateway_p50_us", gateway},
		{"credentials_floor_p50_us", floor},
		{"credentials_min_work_p50_us", minWork},
		{"credentials_service_p50_us", func() {
			if _, err := svc.IssueCredentials(ctx, app.Caller{Principal: "alice@example.com"}, req.ID); err != nil {
				b.Fatal(err)
			}
		}},
		{"credentials_service_first_call_p50_us", func() {
			// A function's first call for the request: a service that
			// remembers nothing reads it first (one GetItem more).
			first := &app.Service{Store: store, Clock: elevate.SystemClock, Issuer: assumer, Issuances: store}
			if _, err := first.IssueCredentials(ctx, app.Caller{Principal: "alice@example.com"}, req.ID); err != nil {
				b.Fatal(err)
			}
		}},
	}
	for range 20 { // warm connections and the JVM
		for _, s := range steps {
			s.f()
		}
	}
	route, least = phases{}, phases{}
	times := make([][]time.Duration, len(steps))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := range steps {
			k := (i + j) % len(steps)
			t := time.Now()
			steps[k].f()
			times[k] = append(times[k], time.Since(t))
		}
	}
	b.StopTimer()
	for k, s := range steps {
		figure(b, s.figure, round3(micros(p50(times[k]))), s.figure[len("credentials_"):])
	}
	if len(route[phaseGet]) != 0 {
		b.Fatalf("the route read the request %d times on repeated calls", len(route[phaseGet]))
	}
	for i, name := range phaseNames {
		if i == phaseGet {
			continue // not on a repeated call's path
		}
		figure(b, "credentials_route_"+name+"_p50_us", round3(micros(p50(route[i]))), "route_"+name+"_p50_us")
		figure(b, "credentials_min_work_"+name+"_p50_us", round3(micros(p50(least[i]))), "min_work_"+name+"_p50_us")
	}
	gw, fl, mw50 := p50(times[0]), p50(times[1]), p50(times[2])
	figure(b, "credentials_p50_ratio", round3(float64(gw)/float64(fl)), "p50-ratio")
	figure(b, "credentials_min_work_p50_ratio", round3(float64(gw)/float64(mw50)), "min-work-p50-ratio")
}

// minWork holds the keys of the least-work floor's items: the settings and
// the policy (read as they are stored), and a copy of the request's grant
// slot under a key of its own, which the floor's conditional write updates.
type minWork struct {
	b     *testing.B
	db    *dynamodb.Client
	table string
	reads []map[string]types.AttributeValue
	slot  map[string]types.AttributeValue
}

// newMinWork finds the items with a Scan (the key builders stay in
// pkg/dynamo), copies the slot and checks that the floor's write really is
// conditional: refused for another request, and for an ended grant.
func newMinWork(b *testing.B, ctx context.Context, db *dynamodb.Client, table, policyID, requestID string) *minWork {
	m := &minWork{b: b, db: db, table: table}
	var slot map[string]types.AttributeValue
	var settings, policy map[string]types.AttributeValue
	pages := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range page.Items {
			var head struct {
				Kind      string `dynamodbav:"kind"`
				ID        string `dynamodbav:"id"`
				RequestID string `dynamodbav:"requestId"`
			}
			if err := attributevalue.UnmarshalMap(it, &head); err != nil {
				b.Fatal(err)
			}
			switch {
			case head.Kind == dynamo.KindSettings:
				settings = it
			case head.Kind == dynamo.KindPolicy && head.ID == policyID:
				policy = it
			case head.Kind == dynamo.KindGrant && head.RequestID == requestID:
				slot = it
			}
		}
	}
	if settings == nil || policy == nil || slot == nil {
		b.Fatal("min-work: settings, policy or grant slot not found")
	}
	m.reads = []map[string]types.AttributeValue{keyOf(settings), keyOf(policy), keyOf(slot)}
	m.slot = map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "BENCH#credentials-floor"}, "SK": slot["SK"]}
	copySlot := map[string]types.AttributeValue{}
	for k, v := range slot {
		copySlot[k] = v
	}
	copySlot["PK"], copySlot["kind"] = m.slot["PK"], &types.AttributeValueMemberS{Value: minWorkKind}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: copySlot}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if err := m.record(ctx, "another-request", "ASIABENCHCHECK1", "s", "s", now, now.Add(time.Hour), now.Add(time.Hour)); !isConditionFailed(err) {
		b.Fatalf("min-work: the write is not conditioned on the request holding the slot (%v)", err)
	}
	if err := m.record(ctx, requestID, "ASIABENCHCHECK2", "s", "s", now.Add(48*time.Hour), now.Add(49*time.Hour), now); !isConditionFailed(err) {
		b.Fatalf("min-work: the write is not conditioned on the grant being live (%v)", err)
	}
	return m
}

func keyOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]}
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// read is the floor's one BatchGetItem (strongly consistent, like the
// route's): the settings, the policy and the grant slot; it returns the
// binding and the grant's end.
func (m *minWork) read(ctx context.Context) (elevate.AWSBinding, time.Time) {
	out, err := m.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		m.table: {Keys: m.reads, ConsistentRead: aws.Bool(true)}}})
	if err != nil {
		m.b.Fatal(err)
	}
	items := out.Responses[m.table]
	if len(items) != len(m.reads) || len(out.UnprocessedKeys) != 0 {
		m.b.Fatalf("min-work: read %d items", len(items))
	}
	var binding elevate.AWSBinding
	var end time.Time
	for _, it := range items {
		// Only what it uses, into typed fields: no more decoding than the
		// route's.
		var v struct {
			Kind      string `dynamodbav:"kind"`
			ExpiresMs int64  `dynamodbav:"expiresEpochMs"`
			AWS       *struct {
				RoleARN           string   `dynamodbav:"roleArn"`
				SessionPolicy     string   `dynamodbav:"sessionPolicy"`
				ManagedPolicyARNs []string `dynamodbav:"managedPolicyArns"`
				MaxSessionMinutes int      `dynamodbav:"maxSessionMinutes"`
			} `dynamodbav:"aws"`
		}
		if err := attributevalue.UnmarshalMap(it, &v); err != nil {
			m.b.Fatal(err)
		}
		switch v.Kind {
		case dynamo.KindGrant:
			end = time.UnixMilli(v.ExpiresMs)
		case dynamo.KindPolicy:
			if v.AWS == nil {
				m.b.Fatal("min-work: the policy has no aws binding")
			}
			binding = elevate.AWSBinding{RoleARN: v.AWS.RoleARN, SessionPolicy: json.RawMessage(v.AWS.SessionPolicy),
				ManagedPolicyARNs: v.AWS.ManagedPolicyARNs, MaxSessionMinutes: v.AWS.MaxSessionMinutes}
		}
	}
	if end.IsZero() {
		m.b.Fatal("min-work: no grant end")
	}
	return binding, end
}

// record is the floor's one conditional write: the issuance (everything the
// route's record holds but the principal and target, which the slot has) set
// on the slot's copy under the route's own liveness condition.
func (m *minWork) record(ctx context.Context, requestID, accessKeyID, sessionName, sourceIdentity string, issuedAt, expiration, grantEnd time.Time) error {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	ts := func(t time.Time) types.AttributeValue { return s(t.UTC().Format("2006-01-02T15:04:05.000Z")) } // pkg/dynamo's layout
	_, err := m.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(m.table), Key: m.slot,
		UpdateExpression: aws.String("SET accessKeyId = :key, roleArn = :role, sessionName = :name, sourceIdentity = :src, " +
			"issuedAt = :nowText, credentialsExpireAt = :exp, grantEndsAt = :end"),
		ConditionExpression:      aws.String("requestId = :id AND #st = :approved AND expiresEpochMs > :now AND (attribute_not_exists(startsAt) OR startsAt <= :nowText)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": s(requestID), ":approved": s(string(elevate.StatusApproved)),
			":now": &types.AttributeValueMemberN{Value: fmt.Sprint(issuedAt.UnixMilli())}, ":nowText": ts(issuedAt),
			":key": s(accessKeyID), ":role": s(emulator.BrokerRoleARN), ":name": s(sessionName), ":src": s(sourceIdentity),
			":exp": ts(expiration), ":end": ts(grantEnd)}})
	return err
}

// The round trips of one credentials call, in order.
const (
	phaseGet = iota
	phaseRead
	phaseSTS
	phaseWrite
	phaseCount
)

var phaseNames = [phaseCount]string{"get_request", "read", "assume_role", "write"}

type phases [phaseCount][]time.Duration

func (p *phases) add(i int, since time.Time) { p[i] = append(p[i], time.Since(since)) }

// timedStore times the route's round trips to DynamoDB.
type timedStore struct {
	*dynamo.Store
	p *phases
}

func (s *timedStore) GetRequest(ctx context.Context, id string) (elevate.Request, error) {
	defer s.p.add(phaseGet, time.Now())
	return s.Store.GetRequest(ctx, id)
}

func (s *timedStore) ReadAuthz(ctx context.Context, principal string, t elevate.Target) (app.AuthzRead, error) {
	defer s.p.add(phaseRead, time.Now())
	return s.Store.ReadAuthz(ctx, principal, t)
}

func (s *timedStore) RecordIssuance(ctx context.Context, iss app.Issuance) error {
	defer s.p.add(phaseWrite, time.Now())
	return s.Store.RecordIssuance(ctx, iss)
}

// timedAssumer times the route's sts:AssumeRole (the SDK's signing, the
// local STS's verification and answer).
type timedAssumer struct {
	app.RoleAssumer
	p *phases
}

func (a timedAssumer) AssumeRole(ctx context.Context, in app.AssumeRoleInput) (app.Credentials, error) {
	defer a.p.add(phaseSTS, time.Now())
	return a.RoleAssumer.AssumeRole(ctx, in)
}
