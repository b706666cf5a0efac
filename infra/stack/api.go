package stack

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

type httpAPI struct {
	API        awsapigatewayv2.HttpApi
	Endpoint   *string
	Authorizer awsapigatewayv2.IHttpRouteAuthorizer
	// UserPool and Client are nil when an external IdP signs the tokens.
	UserPool awscognito.UserPool
	Client   awscognito.UserPoolClient
}

// accessLogFormat logs the route template, never the raw path: link routes
// carry their signed token in the path.
var accessLogFormat = func() string {
	b, err := json.Marshal(map[string]string{
		"requestId":        "$context.requestId",
		"time":             "$context.requestTime",
		"ip":               "$context.identity.sourceIp",
		"routeKey":         "$context.routeKey",
		"status":           "$context.status",
		"latencyMs":        "$context.responseLatency",
		"principal":        "$context.authorizer.claims.email",
		"authorizerError":  "$context.authorizer.error",
		"integrationError": "$context.integrationErrorMessage",
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func newHTTPAPI(scope constructs.Construct, props Props) *httpAPI {
	h := &httpAPI{}
	if props.UsesCognito() {
		h.UserPool, h.Client = newUserPool(scope, props)
		h.Authorizer = awsapigatewayv2authorizers.NewHttpUserPoolAuthorizer(jsii.String("Cognito"), h.UserPool,
			&awsapigatewayv2authorizers.HttpUserPoolAuthorizerProps{
				UserPoolClients: &[]awscognito.IUserPoolClient{h.Client},
			})
	} else {
		h.Authorizer = awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("Oidc"), jsii.String(props.OIDCIssuer),
			&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
				JwtAudience: jsii.Strings(props.OIDCAudience),
			})
	}
	h.API = awsapigatewayv2.NewHttpApi(scope, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:     jsii.String(props.StackName + "-api"),
		Description: jsii.String("Elevate HTTP API v1"),
		// The stage is declared below with throttling and access logs.
		CreateDefaultStage: jsii.Bool(false),
		// Any route added without an explicit authorizer is protected.
		DefaultAuthorizer: h.Authorizer,
	})
	accessLogs := awslogs.NewLogGroup(scope, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     retentions[props.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	stage := h.API.AddStage(jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageOptions{
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(props.ThrottleRate),
			BurstLimit: jsii.Number(props.ThrottleBurst),
		},
	})
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})
	h.Endpoint = h.API.ApiEndpoint()
	return h
}

// addRoutes adds every route of pkg/manifest, one Lambda integration per
// function, the JWT authorizer on all but the public ones.
func (h *httpAPI) addRoutes(scope constructs.Construct, fns map[string]awslambda.Function) {
	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	for _, r := range manifest.All {
		in, ok := integrations[r.Function]
		if !ok {
			fn, ok := fns[r.Function]
			if !ok {
				panic("stack: route " + r.RouteKey() + " names unknown function " + r.Function)
			}
			in = awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(title(r.Function)+"Integration"), fn,
				&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
					PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
				})
			integrations[r.Function] = in
		}
		auth := h.Authorizer
		if r.Public {
			auth = awsapigatewayv2.NewHttpNoneAuthorizer()
		}
		added := h.API.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration: in,
			Authorizer:  auth,
		})
		if r.Public {
			why, ok := publicRouteReasons[r.Path]
			if !ok {
				panic("stack: public route " + r.RouteKey() + " has no reason in publicRouteReasons")
			}
			for _, route := range *added {
				suppress(route, "AwsSolutions-APIG4", why)
			}
		}
	}
}

// publicRouteReasons says why each public route of pkg/manifest skips the
// JWT authorizer; a public route without one fails the synth.
var publicRouteReasons = map[string]string{
	"/healthz":          "Health check for load balancers and monitors: it carries no credentials, reads no data and returns only ok",
	"/v1/openapi.json":  "The API's OpenAPI description: the same document for every caller and published in the repository; it carries no credentials and reads no data, and a client generator needs it before it has a token",
	"/v1/links/{token}": "The email-link page is opened from an approver's mailbox, without a session: it is protected by its token, HMAC-signed, bound to one approver and one request, single-use and expiring with the request; a GET never changes state",
}

// cognitoDomainPrefix names the hosted UI's domain,
// <prefix>.auth.<region>.amazoncognito.com. Prefixes are unique per region
// across all accounts, so the default adds the account ID to the stack name.
func cognitoDomainPrefix(scope constructs.Construct, props Props) *string {
	if props.CognitoDomainPrefix != "" {
		return jsii.String(props.CognitoDomainPrefix)
	}
	return awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String(strings.ToLower(props.StackName)), awscdk.Stack_Of(scope).Account()})
}

// newUserPool is the default identity provider: admin-created users signing
// in with their email, whose ID token carries the email and cognito:groups
// claims the API reads.
func newUserPool(scope constructs.Construct, props Props) (awscognito.UserPool, awscognito.UserPoolClient) {
	pool := awscognito.NewUserPool(scope, jsii.String("Users"), &awscognito.UserPoolProps{
		UserPoolName:        jsii.String(props.StackName + "-users"),
		SelfSignUpEnabled:   jsii.Bool(false),
		SignInAliases:       &awscognito.SignInAliases{Email: jsii.Bool(true)},
		SignInCaseSensitive: jsii.Bool(false),
		AutoVerify:          &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(true)},
		StandardAttributes: &awscognito.StandardAttributes{
			Email: &awscognito.StandardAttribute{Required: jsii.Bool(true), Mutable: jsii.Bool(true)},
		},
		// The email is the principal: a changed address must not reach the
		// ID token until it is verified, or a user could take an approver's.
		KeepOriginal: &awscognito.KeepOriginalAttrs{Email: jsii.Bool(true)},
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:            jsii.Number(12),
			RequireDigits:        jsii.Bool(true),
			RequireLowercase:     jsii.Bool(true),
			RequireUppercase:     jsii.Bool(true),
			RequireSymbols:       jsii.Bool(true),
			TempPasswordValidity: awscdk.Duration_Days(jsii.Number(3)),
		},
		// A password alone must not reach privileged approvals: every user
		// sets up an authenticator app (TOTP) at first sign-in.
		Mfa:                awscognito.Mfa_REQUIRED,
		MfaSecondFactor:    &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
		AccountRecovery:    awscognito.AccountRecovery_EMAIL_ONLY,
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	client := pool.AddClient(jsii.String("CliClient"), &awscognito.UserPoolClientOptions{
		UserPoolClientName: jsii.String("elevate-cli"),
		GenerateSecret:     jsii.Bool(false),
		// `elevate login` signs in through the hosted UI, where Cognito asks
		// for the TOTP code (and enrols the authenticator at first sign-in):
		// authorization code with PKCE to a loopback redirect, refreshed with
		// the refresh token. No password ever reaches the CLI, so
		// USER_PASSWORD_AUTH stays off.
		AuthFlows: &awscognito.AuthFlow{UserSrp: jsii.Bool(true)},
		OAuth: &awscognito.OAuthSettings{
			Flows:        &awscognito.OAuthFlows{AuthorizationCodeGrant: jsii.Bool(true)},
			Scopes:       &[]awscognito.OAuthScope{awscognito.OAuthScope_OPENID(), awscognito.OAuthScope_EMAIL(), awscognito.OAuthScope_PROFILE()},
			CallbackUrls: jsii.Strings(config.LoginRedirectURL),
		},
		SupportedIdentityProviders: &[]awscognito.UserPoolClientIdentityProvider{awscognito.UserPoolClientIdentityProvider_COGNITO()},
		EnableTokenRevocation:      jsii.Bool(true),
		PreventUserExistenceErrors: jsii.Bool(true),
		IdTokenValidity:            awscdk.Duration_Hours(jsii.Number(1)),
		AccessTokenValidity:        awscdk.Duration_Hours(jsii.Number(1)),
		RefreshTokenValidity:       awscdk.Duration_Days(jsii.Number(30)),
		ReadAttributes: awscognito.NewClientAttributes().WithStandardAttributes(&awscognito.StandardAttributesMask{
			Email:         jsii.Bool(true),
			EmailVerified: jsii.Bool(true),
		}),
		// Users cannot change their own email (the principal) through this
		// client; admins do, with the admin API.
		WriteAttributes: awscognito.NewClientAttributes().WithStandardAttributes(&awscognito.StandardAttributesMask{
			Fullname: jsii.Bool(true),
		}),
	})
	pool.AddDomain(jsii.String("HostedUi"), &awscognito.UserPoolDomainOptions{
		CognitoDomain: &awscognito.CognitoDomainOptions{DomainPrefix: cognitoDomainPrefix(scope, props)},
	})
	for _, g := range []struct{ id, name, description string }{
		{"AdminsGroup", props.AdminGroup, "Elevate administrators: settings, groups, policies, every request"},
		{"AuthorizersGroup", app.AuthorizersGroup, "May ask Elevate whether another principal is authorized"},
	} {
		awscognito.NewCfnUserPoolGroup(scope, jsii.String(g.id), &awscognito.CfnUserPoolGroupProps{
			UserPoolId:  pool.UserPoolId(),
			GroupName:   jsii.String(g.name),
			Description: jsii.String(g.description),
		})
	}
	suppress(pool, "AwsSolutions-COG8", "The Plus plan's threat protection is priced per active user; this pool admits only admin-created users and requires TOTP MFA at every sign-in, which is what stands between a stolen password and an approval. Organisations wanting adaptive authentication use their own IdP (context elevate:oidcIssuer)")
	return pool, client
}
