package emulator_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

// Issue 10 item 11: DynamoDB Local and the SES emulator are reachable from
// this machine only, and DynamoDB Local lets no web page call it.
func TestLocalServicesListenOnLoopbackOnly(t *testing.T) {
	if os.Getenv(emulatortest.EnvTestDynamoEndpoint) != "" {
		t.Skip(emulatortest.EnvTestDynamoEndpoint + " points at a DynamoDB Local this package did not start")
	}
	_, endpoint := emulatortest.DynamoForTest(t)
	emulatortest.ListensOnLoopbackOnly(t, "DynamoDB Local", endpoint)

	ses, err := emulator.StartSES(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ses.Stop()
	emulatortest.ListensOnLoopbackOnly(t, "the SES emulator", ses.Endpoint)

	s3, err := emulator.StartS3("loopback-test")
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	emulatortest.ListensOnLoopbackOnly(t, "the local S3", s3.Endpoint)

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
