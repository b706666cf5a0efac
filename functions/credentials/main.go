// Command credentials is the Lambda function serving POST
// /v1/requests/{id}/credentials: the only function that may call
// sts:AssumeRole. The composition lives in pkg/wire; only the STS client is
// added here, so no other function links it.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/stscreds"
	"github.com/elevate-pam/elevate/pkg/wire"
)

func main() {
	wire.Main(manifest.Credentials, func(svc *app.Service, cfg aws.Config, store *dynamo.Store) {
		svc.Issuer = stscreds.Assumer{STS: sts.NewFromConfig(cfg, func(o *sts.Options) {
			if ep := config.Get(config.EnvSTSEndpoint, ""); ep != "" {
				o.BaseEndpoint = aws.String(ep)
			}
		})}
		svc.Issuances = store
	})
}
