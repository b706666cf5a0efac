// Command infra is Elevate's CDK app. `cdk synth` and `cdk deploy` run it
// through cdk.json at the repository root; see infra/README.md "Deploy to AWS step by step".
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/infra/stack"
)

func main() {
	defer jsii.Close()
	if err := run(awscdk.NewApp(nil)); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		// jsii.Close must still run so no node child outlives us.
		jsii.Close()
		os.Exit(1)
	}
}

// run declares the stack in app from its context and synthesizes it.
func run(app awscdk.App) error {
	s, err := declare(app)
	if err != nil {
		return err
	}
	_ = s
	app.Synth(nil)
	return nil
}

// declare validates the context and the function binaries, then adds the
// stack to app.
func declare(app awscdk.App) (*stack.Elevate, error) {
	props, err := stack.PropsFromContext(app.Node())
	if err != nil {
		return nil, err
	}
	if err := stack.CheckAssets(props.AssetDir); err != nil {
		return nil, err
	}
	e := stack.New(app, props)
	stack.CheckRules(e.Stack)
	return e, nil
}
