package emulator_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

func portOf(t *testing.T, endpoint string) int {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// listensOnLoopbackOnly fails unless something listens on port, and only on
// loopback addresses.
func listensOnLoopbackOnly(t *testing.T, what string, port int) {
	t.Helper()
	addrs, err := emulator.ListeningAddrs(port)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) == 0 {
		t.Fatalf("%s: nothing listens on port %d", what, port)
	}
	for _, a := range addrs {
		if !a.IsLoopback() {
			t.Errorf("%s listens on %s port %d, beyond loopback", what, a, port)
		}
	}
}

// Issue 10 item 11: DynamoDB Local and the SES emulator are reachable from
// this machine only, and DynamoDB Local lets no web page call it.
func TestLocalServicesListenOnLoopbackOnly(t *testing.T) {
	if os.Getenv(emulatortest.EnvTestDynamoEndpoint) != "" {
		t.Skip(emulatortest.EnvTestDynamoEndpoint + " points at a DynamoDB Local this package did not start")
	}
	_, endpoint := emulatortest.DynamoForTest(t)
	listensOnLoopbackOnly(t, "DynamoDB Local", portOf(t, endpoint))

	ses, err := emulator.StartSES(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ses.Stop()
	listensOnLoopbackOnly(t, "the SES emulator", portOf(t, ses.Endpoint))

	s3, err := emulator.StartS3("loopback-test")
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	listensOnLoopbackOnly(t, "the local S3", portOf(t, s3.Endpoint))

	// A page on another origin gets no CORS grant, neither for the preflight
	// nor for the call itself.
	client := &http.Client{Timeout: 5 * time.Second}
	for _, method := range []string{http.MethodOptions, http.MethodPost} {
		req, _ := http.NewRequest(method, endpoint, strings.NewReader("{}"))
		req.Header.Set("Origin", "http://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "x-amz-target,content-type,authorization")
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s from another origin: Access-Control-Allow-Origin %q", method, v)
		}
	}
}
