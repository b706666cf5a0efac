package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

const benchSessionPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}]}`

// BenchmarkCredentialsVsAssumeRole interleaves, in one run, POST
// /v1/requests/{id}/credentials through the local gateway (HTTP, JWT check,
// handler, the request and authorization reads, sts:AssumeRole, the
// conditional issuance record) with its floor: the same AssumeRole made
// directly against the same local STS. The target is p50 ≤ 1.25 × floor.
func BenchmarkCredentialsVsAssumeRole(b *testing.B) {
	st, admin := stack(b)
	admin.must(201, "POST", "/v1/policies", `{"type":"Task","scope":"S3","name":"Delete-Bucket","approvalType":"Auto",`+
		`"aws":{"roleArn":"`+emulator.BrokerRoleARN+`","sessionPolicy":`+benchSessionPolicy+`}}`)
	alice := newCaller(b, st, "alice@example.com")
	var req struct{ ID string }
	if err := json.Unmarshal(alice.must(201, "POST", "/v1/requests", `{"scope":"S3","name":"Delete-Bucket","reason":"bench"}`), &req); err != nil {
		b.Fatal(err)
	}
	client := emulator.STSClient(st.AWS.Endpoint)
	name, source, principalTag := elevate.SessionIdentity("alice@example.com", req.ID)
	ctx := context.Background()
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
	for range 20 { // warm connections and the JVM
		floor()
		gateway()
	}
	gw, fl := interleave(b, gateway, floor)
	figure(b, "credentials_gateway_p50_us", round3(micros(p50(gw))), "gateway-p50-µs")
	figure(b, "credentials_floor_p50_us", round3(micros(p50(fl))), "floor-p50-µs")
	figure(b, "credentials_p50_ratio", round3(float64(p50(gw))/float64(p50(fl))), "p50-ratio")
}
