// Package stack declares Elevate's whole AWS deployment as one CDK stack.
//
// Names that other parts of Elevate rely on are never retyped here: the
// table's keys come from pkg/tabledef, the routes and function names from
// pkg/manifest, and environment variable names from pkg/config.
package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// Context keys read from cdk.json or `cdk -c key=value`.
const (
	CtxStackName           = "elevate:stackName"
	CtxAssetDir            = "elevate:assetDir"
	CtxSenderDomain        = "elevate:senderDomain"
	CtxSenderAddress       = "elevate:senderAddress"
	CtxObjectLockMode      = "elevate:objectLockMode"
	CtxObjectLockDays      = "elevate:objectLockDays"
	CtxOIDCIssuer          = "elevate:oidcIssuer"
	CtxOIDCAudience        = "elevate:oidcAudience"
	CtxAdminGroup          = "elevate:adminGroup"
	CtxPublicURL           = "elevate:publicUrl"
	CtxReservedConcurrency = "elevate:reservedConcurrency"
	CtxLogRetentionDays    = "elevate:logRetentionDays"
	CtxThrottleRate        = "elevate:throttleRate"
	CtxThrottleBurst       = "elevate:throttleBurst"
	CtxServerAccessLogs    = "elevate:serverAccessLogs"
	CtxAlarmEmail          = "elevate:alarmEmail"
)

// Issue 10 context keys.
const (
	// CtxAllowMissingEmailVerified (false by default) accepts tokens without
	// an email_verified claim, for an external OIDC issuer that never sends
	// it. It trusts that issuer to vouch for every address it puts in a token.
	CtxAllowMissingEmailVerified = "elevate:allowMissingEmailVerified"
)

// Issue 23 context keys.
const (
	// CtxCognitoDomainPrefix names the Cognito hosted UI's domain prefix
	// (<prefix>.auth.<region>.amazoncognito.com), where `elevate login`
	// signs in; default <stack name>-<account ID>.
	CtxCognitoDomainPrefix = "elevate:cognitoDomainPrefix"
)

// Issue 12 context keys.
const (
	// CtxTicketURL is the https base URL of the ticket system the requests
	// function asks about ticket references (GET <url>/<ticket>); unset,
	// tickets are checked against the policy's pattern only.
	CtxTicketURL = "elevate:ticketUrl"
	// CtxBrokerRoleARNs lists, comma-separated, broker roles (in any
	// account) the credentials function may assume and the access function
	// may write the Elevate inline policy of; roles of the stack's account
	// tagged elevate-broker=true need no listing.
	CtxBrokerRoleARNs = "elevate:brokerRoleArns"
	// CtxBrokerRole names a broker role the stack creates in its own account
	// with the trust policy the credentials function needs (NewBrokerRole).
	CtxBrokerRole = "elevate:brokerRole"
)

// AlarmEmailNone, as elevate:alarmEmail, deploys the alarms without anyone
// subscribed to them: an explicit opt-out, never a default.
const AlarmEmailNone = "none"

// reservedDomains can never receive a DKIM verification or mail (RFC 2606);
// a stack sending from one of them sends nothing.
var reservedDomains = []string{"example.com", "example.net", "example.org"}

// Object Lock modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// Props configures the stack. The zero value is not valid: start from
// DefaultProps or PropsFromContext.
type Props struct {
	StackName string
	// AssetDir holds <function>/bootstrap for every function (make build).
	AssetDir      string
	SenderDomain  string
	SenderAddress string
	// ObjectLockMode is GOVERNANCE (privileged users may shorten retention)
	// or COMPLIANCE (nobody can, not even the root user).
	ObjectLockMode string
	ObjectLockDays int
	// OIDCIssuer and OIDCAudience select an external identity provider; when
	// both are empty the stack creates a Cognito user pool instead.
	OIDCIssuer   string
	OIDCAudience string
	AdminGroup   string
	// PublicURL overrides the base URL put in emailed links (a custom domain).
	// Empty means the HTTP API's execute-api endpoint.
	PublicURL string
	// ReservedConcurrency per function; 0 reserves none. New accounts have a
	// concurrency quota of 10 and Lambda keeps 10 unreserved, so any
	// reservation there fails to deploy: it is opt-in.
	ReservedConcurrency int
	LogRetentionDays    int
	ThrottleRate        float64
	ThrottleBurst       int
	ServerAccessLogs    bool
	// AlarmEmail is subscribed to every alarm. It must be set: an empty value
	// is refused, and AlarmEmailNone says on purpose that nobody is told.
	AlarmEmail string

	// AllowMissingEmailVerified: see CtxAllowMissingEmailVerified. Only for
	// an external IdP; Cognito always sends the claim.
	AllowMissingEmailVerified bool

	// TicketURL: see CtxTicketURL.
	TicketURL string

	// CognitoDomainPrefix: see CtxCognitoDomainPrefix.
	CognitoDomainPrefix string

	// BrokerRoleARNs and BrokerRoleName: see CtxBrokerRoleARNs, CtxBrokerRole.
	BrokerRoleARNs []string
	BrokerRoleName string
	// IAM Identity Center (issue 20): see CtxIdentityCenterInstanceArn.
	IdentityCenterInstanceArn       string
	IdentityStoreID                 string
	IdentityCenterPermissionSetArns []string
	IdentityCenterUserAttribute     string
}

// DefaultProps are the values used when the context says nothing.
func DefaultProps() Props {
	return Props{
		StackName:        "Elevate",
		AssetDir:         "build",
		ObjectLockMode:   LockGovernance,
		ObjectLockDays:   365,
		AdminGroup:       app.DefaultAdminGroup,
		LogRetentionDays: 90,
		ThrottleRate:     50,
		ThrottleBurst:    100,
		ServerAccessLogs: true,
	}
}

// UsesCognito reports whether the stack creates its own user pool.
func (p Props) UsesCognito() bool { return p.OIDCIssuer == "" && p.OIDCAudience == "" }

// Sender is the From address of Elevate's emails.
func (p Props) Sender() string {
	if p.SenderAddress != "" {
		return p.SenderAddress
	}
	return "elevate@" + p.SenderDomain
}

var (
	domainRE        = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	cognitoPrefixRE = regexp.MustCompile(`^[a-z0-9](-?[a-z0-9]){0,62}$`)
	stackNameRE     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)
)

// Validate refuses values that would synthesize a stack that cannot deploy
// or that silently weakens a guarantee.
func (p Props) Validate() error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if !stackNameRE.MatchString(p.StackName) {
		add("%s %q: letters, digits and '-', starting with a letter", CtxStackName, p.StackName)
	}
	if p.AssetDir == "" {
		add("%s must not be empty", CtxAssetDir)
	}
	for _, arn := range p.BrokerRoleARNs {
		if !roleARNRE.MatchString(arn) {
			add("%s: %q is not an IAM role ARN", CtxBrokerRoleARNs, arn)
		}
	}
	if p.BrokerRoleName != "" && !regexp.MustCompile(`^[\w+=,.@-]{1,64}$`).MatchString(p.BrokerRoleName) {
		add("%s %q is not a role name", CtxBrokerRole, p.BrokerRoleName)
	}
	switch {
	case p.SenderDomain == "":
		add("%s is not set: name the domain Elevate sends email from, which you can verify in SES (cdk.json or -c %s=mail.yourcompany.com)", CtxSenderDomain, CtxSenderDomain)
	case isReservedDomain(p.SenderDomain):
		add("%s %q is a reserved example domain that nobody can verify in SES: set your own domain", CtxSenderDomain, p.SenderDomain)
	case !domainRE.MatchString(p.SenderDomain):
		add("%s %q is not a lower-case domain name", CtxSenderDomain, p.SenderDomain)
	}
	if at := strings.LastIndexByte(p.Sender(), '@'); at <= 0 || p.Sender()[at+1:] != p.SenderDomain {
		add("%s %q must be an address at %s, the verified SES identity", CtxSenderAddress, p.Sender(), p.SenderDomain)
	}
	if p.ObjectLockMode != LockGovernance && p.ObjectLockMode != LockCompliance {
		add("%s %q: want %s or %s", CtxObjectLockMode, p.ObjectLockMode, LockGovernance, LockCompliance)
	}
	if p.ObjectLockDays < 1 || p.ObjectLockDays > 36500 {
		add("%s %d: want 1..36500", CtxObjectLockDays, p.ObjectLockDays)
	}
	if (p.OIDCIssuer == "") != (p.OIDCAudience == "") {
		add("%s and %s go together: set both for an external IdP, or neither for Cognito", CtxOIDCIssuer, CtxOIDCAudience)
	}
	if p.OIDCIssuer != "" && !strings.HasPrefix(p.OIDCIssuer, "https://") {
		add("%s %q must be an https URL", CtxOIDCIssuer, p.OIDCIssuer)
	}
	if p.AdminGroup == "" {
		add("%s must not be empty", CtxAdminGroup)
	}
	if p.PublicURL != "" && (!strings.HasPrefix(p.PublicURL, "https://") || strings.HasSuffix(p.PublicURL, "/")) {
		add("%s %q must be an https URL without a trailing slash", CtxPublicURL, p.PublicURL)
	}
	if p.ReservedConcurrency < 0 {
		add("%s %d must not be negative", CtxReservedConcurrency, p.ReservedConcurrency)
	}
	if _, ok := retentions[p.LogRetentionDays]; !ok {
		add("%s %d is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)", CtxLogRetentionDays, p.LogRetentionDays)
	}
	if p.ThrottleRate <= 0 || p.ThrottleBurst <= 0 {
		add("%s and %s must be positive", CtxThrottleRate, CtxThrottleBurst)
	}
	if p.AllowMissingEmailVerified && p.UsesCognito() {
		add("%s is only for an external OIDC issuer (%s); Cognito always sends email_verified", CtxAllowMissingEmailVerified, CtxOIDCIssuer)
	}
	p.validateIdentityCenter(add)
	if p.TicketURL != "" && (!strings.HasPrefix(p.TicketURL, "https://") || strings.ContainsAny(p.TicketURL, "?#")) {
		add("%s %q must be an https URL without query", CtxTicketURL, p.TicketURL)
	}
	switch {
	case p.AlarmEmail == "":
		add("%s is not set: name the address that receives Elevate's alarms (failed emails, stuck stream consumers, API errors), or %q to deploy alarms that notify nobody", CtxAlarmEmail, AlarmEmailNone)
	case p.AlarmEmail != AlarmEmailNone && !strings.Contains(p.AlarmEmail, "@"):
		add("%s %q is not an email address (or %q)", CtxAlarmEmail, p.AlarmEmail, AlarmEmailNone)
	}
	if p.CognitoDomainPrefix != "" && (!cognitoPrefixRE.MatchString(p.CognitoDomainPrefix) || strings.Contains(p.CognitoDomainPrefix, "aws") ||
		strings.Contains(p.CognitoDomainPrefix, "amazon") || strings.Contains(p.CognitoDomainPrefix, "cognito")) {
		add("%s %q: lower-case letters, digits and '-', without aws, amazon or cognito", CtxCognitoDomainPrefix, p.CognitoDomainPrefix)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid context: %s", strings.Join(errs, "; "))
	}
	return nil
}

func isReservedDomain(d string) bool {
	for _, r := range reservedDomains {
		if d == r || strings.HasSuffix(d, "."+r) {
			return true
		}
	}
	return false
}

var retentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// PropsFromContext reads every elevate:* context value over DefaultProps
// and validates the result. Values may be JSON strings, numbers or booleans
// (cdk.json) or strings (`cdk -c`).
func PropsFromContext(node constructs.Node) (Props, error) {
	p := DefaultProps()
	r := ctxReader{node: node}
	r.str(CtxStackName, &p.StackName)
	r.str(CtxAssetDir, &p.AssetDir)
	r.str(CtxSenderDomain, &p.SenderDomain)
	r.str(CtxSenderAddress, &p.SenderAddress)
	r.str(CtxObjectLockMode, &p.ObjectLockMode)
	r.integer(CtxObjectLockDays, &p.ObjectLockDays)
	r.str(CtxOIDCIssuer, &p.OIDCIssuer)
	r.str(CtxOIDCAudience, &p.OIDCAudience)
	r.str(CtxAdminGroup, &p.AdminGroup)
	r.str(CtxPublicURL, &p.PublicURL)
	r.integer(CtxReservedConcurrency, &p.ReservedConcurrency)
	r.integer(CtxLogRetentionDays, &p.LogRetentionDays)
	r.float(CtxThrottleRate, &p.ThrottleRate)
	r.integer(CtxThrottleBurst, &p.ThrottleBurst)
	r.boolean(CtxServerAccessLogs, &p.ServerAccessLogs)
	r.str(CtxAlarmEmail, &p.AlarmEmail)
	r.boolean(CtxAllowMissingEmailVerified, &p.AllowMissingEmailVerified)
	r.str(CtxTicketURL, &p.TicketURL)
	r.str(CtxCognitoDomainPrefix, &p.CognitoDomainPrefix)
	var brokers string
	r.str(CtxBrokerRoleARNs, &brokers)
	for arn := range strings.SplitSeq(brokers, ",") {
		if arn = strings.TrimSpace(arn); arn != "" {
			p.BrokerRoleARNs = append(p.BrokerRoleARNs, arn)
		}
	}
	r.str(CtxBrokerRole, &p.BrokerRoleName)
	readIdentityCenter(&r, &p)
	p.SenderDomain = strings.ToLower(p.SenderDomain)
	p.ObjectLockMode = strings.ToUpper(p.ObjectLockMode)
	if len(r.errs) > 0 {
		return p, fmt.Errorf("invalid context: %s", strings.Join(r.errs, "; "))
	}
	return p, p.Validate()
}

type ctxReader struct {
	node constructs.Node
	errs []string
}

func (r *ctxReader) raw(key string) (string, bool) {
	v := r.node.TryGetContext(&key)
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return strings.TrimSpace(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	default:
		r.errs = append(r.errs, fmt.Sprintf("%s: unsupported value %v", key, v))
		return "", false
	}
}

func (r *ctxReader) str(key string, dst *string) {
	if v, ok := r.raw(key); ok {
		*dst = v
	}
}

func (r *ctxReader) integer(key string, dst *int) {
	if v, ok := r.raw(key); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			r.errs = append(r.errs, fmt.Sprintf("%s %q is not an integer", key, v))
			return
		}
		*dst = n
	}
}

func (r *ctxReader) float(key string, dst *float64) {
	if v, ok := r.raw(key); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			r.errs = append(r.errs, fmt.Sprintf("%s %q is not a number", key, v))
			return
		}
		*dst = f
	}
}

func (r *ctxReader) boolean(key string, dst *bool) {
	if v, ok := r.raw(key); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			r.errs = append(r.errs, fmt.Sprintf("%s %q is not a boolean", key, v))
			return
		}
		*dst = b
	}
}

// CheckAssets fails with a pointer to `make build` when a function's
// bootstrap is missing, instead of letting CDK stage an empty directory.
func CheckAssets(dir string) error {
	var missing []string
	for _, fn := range functionNames() {
		if st, err := os.Stat(filepath.Join(dir, fn, "bootstrap")); err != nil || st.IsDir() {
			missing = append(missing, filepath.Join(dir, fn, "bootstrap"))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing Lambda binaries (run `make build` first): %s", strings.Join(missing, ", "))
	}
	return nil
}

func functionNames() []string { return manifest.Functions() }
