// Command rotation is the Lambda function Secrets Manager invokes to rotate
// the link-signing and pagination key secrets, once per step of a rotation
// (pkg/keyrotation). Composition root only.
package main

import "github.com/elevate-pam/elevate/pkg/wire"

func main() { wire.RotationMain() }
