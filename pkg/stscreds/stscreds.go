// Package stscreds is the credentials function's STS adapter: it issues a
// live grant's credentials with sts:AssumeRole. It is its own package so
// that only that function links the STS client.
package stscreds

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// STSAPI is the part of the STS client the assumer uses.
type STSAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// Assumer is app.RoleAssumer over STS.
type Assumer struct{ STS STSAPI }

var _ app.RoleAssumer = Assumer{}

// refusedByConfig are STS's answers that the policy's binding or the broker
// role's trust policy can fix: the caller gets a 422, not a retry.
var refusedByConfig = map[string]bool{
	"ValidationError": true, "MalformedPolicyDocument": true, "PackedPolicyTooLarge": true, "AccessDenied": true, "RegionDisabledException": true,
}

// AssumeRole calls sts:AssumeRole. Its errors never carry the credentials:
// the SDK's error names the operation and AWS's code and message only.
func (a Assumer) AssumeRole(ctx context.Context, in app.AssumeRoleInput) (app.Credentials, error) {
	req := &sts.AssumeRoleInput{RoleArn: aws.String(in.RoleARN), RoleSessionName: aws.String(in.SessionName),
		SourceIdentity: aws.String(in.SourceIdentity), DurationSeconds: aws.Int32(int32(in.Duration.Seconds()))}
	if in.SessionPolicy != "" {
		req.Policy = aws.String(in.SessionPolicy)
	}
	for _, arn := range in.PolicyARNs {
		req.PolicyArns = append(req.PolicyArns, ststypes.PolicyDescriptorType{Arn: aws.String(arn)})
	}
	for _, k := range slices.Sorted(maps.Keys(in.Tags)) {
		req.Tags = append(req.Tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(in.Tags[k])})
	}
	out, err := a.STS.AssumeRole(ctx, req)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && refusedByConfig[ae.ErrorCode()] {
			return app.Credentials{}, fmt.Errorf("%w (%s)", app.ErrSTSRefused, ae.ErrorCode())
		}
		return app.Credentials{}, fmt.Errorf("stscreds: assume role: %w", errors.Join(elevate.ErrUnavailable, err))
	}
	if out.Credentials == nil {
		return app.Credentials{}, fmt.Errorf("stscreds: assume role returned no credentials: %w", elevate.ErrUnavailable)
	}
	c := out.Credentials
	return app.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), Expiration: aws.ToTime(c.Expiration).UTC()}, nil
}
