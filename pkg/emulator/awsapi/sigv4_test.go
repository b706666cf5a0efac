package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const testRegion = "us-east-1"

var (
	longTermKey = Identity{AccessKeyID: "AKIAEXAMPLELONGTERM1", SecretAccessKey: "long-term-secret", Account: "111122223333",
		ARN: "arn:aws:iam::111122223333:user/tester", UserID: "AIDAEXAMPLE"}
	sessionKey = Identity{AccessKeyID: "ASIAEXAMPLESESSION01", SecretAccessKey: "session-secret", SessionToken: "the-session-token",
		Expiration: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Account: "111122223333",
		ARN: "arn:aws:sts::111122223333:assumed-role/elevate-fn/fn", RoleARN: "arn:aws:iam::111122223333:role/elevate-fn"}
	expiredKey = Identity{AccessKeyID: "ASIAEXAMPLEEXPIRED01", SecretAccessKey: "expired-secret", SessionToken: "expired-token",
		Expiration: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Account: "111122223333"}
)

// testServer serves STS with the test keys; skew shifts the server's clock.
func testServer(t *testing.T) (*Listener, *atomic.Int64) {
	t.Helper()
	var skew atomic.Int64
	srv := NewServer(NewKeys(longTermKey, sessionKey, expiredKey), testRegion, func() time.Time {
		return time.Now().Add(time.Duration(skew.Load()))
	})
	srv.Handle("sts", ProtocolQuery, NewSTS(srv.Verifier.Keys, NewIAM("111122223333", nil), nil).Service())
	srv.Handle("identitystore", ProtocolJSON, HandlerFunc(func(w http.ResponseWriter, c *Call) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{}`))
	}))
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, &skew
}

func stsClient(endpoint, region string, creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{
		BaseEndpoint:     aws.String(endpoint),
		Region:           region,
		Credentials:      creds,
		RetryMaxAttempts: 1,
	})
}

func static(id Identity) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(id.AccessKeyID, id.SecretAccessKey, id.SessionToken)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSigV4AcceptsTheSDKsSignature(t *testing.T) {
	l, _ := testServer(t)
	for _, id := range []Identity{longTermKey, sessionKey} {
		out, err := stsClient(l.Endpoint, testRegion, static(id)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("%s: %v", id.AccessKeyID, err)
		}
		if aws.ToString(out.Arn) != id.ARN || aws.ToString(out.Account) != id.Account {
			t.Errorf("%s: caller = %s in %s, want %s in %s", id.AccessKeyID, aws.ToString(out.Arn), aws.ToString(out.Account), id.ARN, id.Account)
		}
	}
}

func TestSigV4RefusesWhatAWSRefuses(t *testing.T) {
	l, skew := testServer(t)
	cases := []struct {
		name   string
		region string
		creds  aws.CredentialsProvider
		skew   time.Duration
		code   string
	}{
		{"no signature", testRegion, aws.AnonymousCredentials{}, 0, "MissingAuthenticationToken"},
		{"unknown access key", testRegion, credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", "x", ""), 0, "InvalidClientTokenId"},
		{"wrong secret", testRegion, credentials.NewStaticCredentialsProvider(longTermKey.AccessKeyID, "not-the-secret", ""), 0, "SignatureDoesNotMatch"},
		{"session key without its token", testRegion, credentials.NewStaticCredentialsProvider(sessionKey.AccessKeyID, sessionKey.SecretAccessKey, ""), 0, "InvalidClientTokenId"},
		{"session key with another token", testRegion, credentials.NewStaticCredentialsProvider(sessionKey.AccessKeyID, sessionKey.SecretAccessKey, "forged"), 0, "InvalidClientTokenId"},
		{"long-term key with a token", testRegion, credentials.NewStaticCredentialsProvider(longTermKey.AccessKeyID, longTermKey.SecretAccessKey, "forged"), 0, "InvalidClientTokenId"},
		{"expired temporary credentials", testRegion, static(expiredKey), 0, "ExpiredToken"},
		{"scoped to another region", "eu-west-1", static(longTermKey), 0, "SignatureDoesNotMatch"},
		{"signed 16 minutes ago", testRegion, static(longTermKey), 16 * time.Minute, "RequestExpired"},
		{"signed 16 minutes ahead", testRegion, static(longTermKey), -16 * time.Minute, "RequestExpired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			skew.Store(int64(tc.skew))
			defer skew.Store(0)
			_, err := stsClient(l.Endpoint, tc.region, tc.creds).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			if got := apiCode(err); got != tc.code {
				t.Fatalf("error code = %q (%v), want %q", got, err, tc.code)
			}
		})
	}
	// Within AWS's 15 minutes either way the same request is accepted.
	for _, d := range []time.Duration{14 * time.Minute, -14 * time.Minute} {
		skew.Store(int64(d))
		if _, err := stsClient(l.Endpoint, testRegion, static(longTermKey)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
			t.Errorf("skew %s: %v", d, err)
		}
	}
	skew.Store(0)
}

// signedRequest builds a request signed by the SDK's own SigV4 signer.
func signedRequest(t *testing.T, endpoint, service string, body []byte, header map[string]string, id Identity) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	creds := aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey, SessionToken: id.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex(body), service, testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSigV4RefusesABodyChangedAfterSigning(t *testing.T) {
	l, _ := testServer(t)
	body := []byte("Action=GetCallerIdentity&Version=2011-06-15")
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

	ok := signedRequest(t, l.Endpoint, "sts", body, form, longTermKey)
	if status, text := do(t, ok); status != http.StatusOK || !strings.Contains(text, longTermKey.ARN) {
		t.Fatalf("the untouched request: %d %s", status, text)
	}
	tampered := signedRequest(t, l.Endpoint, "sts", body, form, longTermKey)
	// Same length and meaning, different bytes: only the payload hash differs.
	tampered.Body = io.NopCloser(strings.NewReader("Version=2011-06-15&Action=GetCallerIdentity"))
	if status, text := do(t, tampered); status != http.StatusForbidden || !strings.Contains(text, "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("tampered body: %d %s", status, text)
	}
	wrongService := signedRequest(t, l.Endpoint, "iam", body, form, longTermKey)
	if status, text := do(t, wrongService); status != http.StatusBadRequest || !strings.Contains(text, "UnknownService") {
		t.Fatalf("a service the endpoint does not serve: %d %s", status, text)
	}
}

// JSON 1.1 services get their refusals in JSON, as the SDK expects them.
func TestSigV4RefusalsUseTheServicesProtocol(t *testing.T) {
	l, _ := testServer(t)
	header := map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSIdentityStore.ListUsers"}
	stranger := Identity{AccessKeyID: "AKIASTRANGER00000000", SecretAccessKey: "x"}
	status, text := do(t, signedRequest(t, l.Endpoint, "identitystore", []byte(`{}`), header, stranger))
	var body struct {
		Type string `json:"__type"`
	}
	if err := json.Unmarshal([]byte(text), &body); err != nil {
		t.Fatalf("%d %q is not JSON: %v", status, text, err)
	}
	if status != http.StatusForbidden || body.Type != "InvalidClientTokenId" {
		t.Fatalf("unknown key on a JSON service: %d %s", status, text)
	}
	if status, text := do(t, signedRequest(t, l.Endpoint, "identitystore", []byte(`{}`), header, longTermKey)); status != http.StatusOK {
		t.Fatalf("a signed JSON call: %d %s", status, text)
	}
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestParseAuthorizationRefusesMalformedHeaders(t *testing.T) {
	good := "AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("ab", 32)
	if _, err := ParseAuthorization(good); err != nil {
		t.Fatalf("a well-formed header: %v", err)
	}
	for _, h := range []string{
		"AWS4-HMAC-SHA1 Credential=AKID/20261202/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("ab", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sts, SignedHeaders=host, Signature=" + strings.Repeat("ab", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/2026-12-02/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("ab", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sts/aws4_request, SignedHeaders=x-amz-date, Signature=" + strings.Repeat("ab", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sts/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + strings.Repeat("ab", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=zz",
		"AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sts/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sts/aws4_request, Credential=X/20261202/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("ab", 32),
	} {
		_, err := ParseAuthorization(h)
		var e *Error
		if !errors.As(err, &e) || e.Code != "IncompleteSignature" {
			t.Errorf("%q: err = %v, want IncompleteSignature", h, err)
		}
	}
}
