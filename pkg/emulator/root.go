// Package emulator starts the real local stand-ins for Elevate's AWS
// dependencies (DynamoDB Local, the SES v2 emulator, an in-process S3) for
// tests and for the local runtime. Everything it starts listens on loopback,
// on a free port unless told otherwise, and is killed with its whole process
// group when stopped or when the parent dies.
package emulator

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// RepoRoot returns the directory holding go.mod. It walks up from the working
// directory first (go test runs in the package directory; the binaries run
// from the checkout), then from this source file, so a binary started
// elsewhere on a developer's machine still finds the checkout.
func RepoRoot() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		if root, ok := findModuleRoot(wd); ok {
			return root, nil
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if root, ok := findModuleRoot(filepath.Dir(file)); ok {
			return root, nil
		}
	}
	return "", errors.New("emulator: cannot find the repository root (no go.mod above the working directory)")
}

func findModuleRoot(dir string) (string, bool) {
	dir = filepath.Clean(dir)
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
