package httpapi

import (
	"testing"

	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

// DynamoDB Local starts on the first test that needs it and stops after all.
func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }
