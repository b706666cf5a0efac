package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// CheckRules applies cdk-nag's AwsSolutions pack to st: at synthesis every
// finding becomes an error or warning annotation on its resource, and the CDK
// CLI refuses to synthesize or deploy a stack with an error. A finding that
// does not apply to Elevate is suppressed next to the resource it concerns,
// with its reason, so a new resource gets no suppression it was not given.
func CheckRules(st awscdk.Stack) {
	awscdk.Aspects_Of(st).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(false),
	}), nil)
}

// suppress records on c (and the resources under it) that rule's findings
// do not apply, for reason. appliesTo narrows a granular rule (IAM5) to the
// findings named, as strings or {"regex": "/.../"}, so a wildcard added
// later is still reported.
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...any) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		s.AppliesTo = &appliesTo
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}
