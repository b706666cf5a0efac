// Command requests is the Lambda function serving the requests routes of the HTTP API.
// The composition lives in pkg/wire, shared by the four HTTP functions.
package main

import (
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/wire"
)

func main() { wire.Main(manifest.Requests) }
