// Package config names the environment variables the functions and the local
// runtime read, so the CDK stack, the mains and elevate-local agree.
package config

import (
	"os"
	"strings"
)

// Environment variable names.
const (
	EnvTable          = "ELEVATE_TABLE"           // DynamoDB table name
	EnvAdminGroup     = "ELEVATE_ADMIN_GROUP"     // JWT group of admins; default elevate-admins
	EnvLinkKey        = "ELEVATE_LINK_KEY"        // link-signing key, local only (hex or raw, ≥ 32 bytes)
	EnvLinkKeySecret  = "ELEVATE_LINK_KEY_SECRET" // Secrets Manager ARN of the link-signing key (AWS)
	EnvPageKey        = "ELEVATE_PAGE_KEY"        // pagination-token key, local only (hex or raw, ≥ 32 bytes)
	EnvSender         = "ELEVATE_SENDER"          // From address of emails
	EnvPublicBaseURL  = "ELEVATE_PUBLIC_URL"      // base URL of the API, for links in emails
	EnvAuditBucket    = "ELEVATE_AUDIT_BUCKET"    // audit bucket name
	EnvLogLevel       = "ELEVATE_LOG_LEVEL"       // debug|info|warn|error
	EnvDynamoEndpoint = "AWS_ENDPOINT_URL_DYNAMODB"
	// EnvSTSEndpoint and EnvIAMEndpoint point the credentials and access
	// functions at a local STS and IAM (the SDK's own names).
	EnvSTSEndpoint = "AWS_ENDPOINT_URL_STS"
	EnvIAMEndpoint = "AWS_ENDPOINT_URL_IAM"
	// EnvTicketURL is the https base URL of the ticket system (F15); unset,
	// tickets are checked against the policy's pattern only.
	EnvTicketURL = "ELEVATE_TICKET_URL"
)

// The local stack's extra trusted OpenID provider (elevate-local only): its
// issuer URL, which must be on this machine, and the client ID its tokens
// are issued to. With both set, `elevate login --issuer` against that
// provider works with `make run` as with a deployment.
const (
	EnvLocalTrustIssuer   = "ELEVATE_LOCAL_TRUST_ISSUER"
	EnvLocalTrustAudience = "ELEVATE_LOCAL_TRUST_AUDIENCE"
)

// LoginRedirectURL is where `elevate login` receives the authorization code
// by default: a loopback listener on a fixed port, because Cognito matches
// callback URLs exactly (port included) and accepts plain http only for
// localhost. The stack registers it on its app client; providers that follow
// RFC 8252 and ignore the loopback port accept it too.
const LoginRedirectURL = "http://localhost:53682/callback"

// Issue 10: identity and key separation.
const (
	// EnvPageKeySecret is the Secrets Manager ARN of the pagination-token key
	// (AWS); it is a secret of its own, never the link key.
	EnvPageKeySecret = "ELEVATE_PAGE_KEY_SECRET"
	// EnvAllowMissingEmailVerified, "true", accepts tokens that carry no
	// email_verified claim (an OIDC issuer that never sends it). By default
	// such a token is refused: the address might not be the caller's.
	EnvAllowMissingEmailVerified = "ELEVATE_ALLOW_MISSING_EMAIL_VERIFIED"
	// EnvLocalTokensBeyondLoopback, "true", lets elevate-local serve
	// POST /_local/token when ELEVATE_ADDR is not a loopback address.
	EnvLocalTokensBeyondLoopback = "ELEVATE_LOCAL_TOKENS_BEYOND_LOOPBACK"
	// EnvIdentityCenter, "true", gives the requests and access functions
	// IAM Identity Center (v1.2); EnvIdentityCenterUserAttribute is how a
	// principal is found in the Identity Store: userName (default) or
	// emails.value.
	EnvIdentityCenter              = "ELEVATE_IDENTITY_CENTER"
	EnvIdentityCenterUserAttribute = "ELEVATE_IDENTITY_CENTER_USER_ATTRIBUTE"
	// EnvIdentityStoreID is the Identity Store the instance uses, so no
	// function needs sso:ListInstances (which IAM grants only on "*").
	EnvIdentityStoreID = "ELEVATE_IDENTITY_STORE_ID"
)

// Get returns the trimmed value of name, or def when unset or empty.
func Get(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
