package awsapi

import "time"

// Options configures Start.
type Options struct {
	Account string // the AWS account the roles live in; default 000000000000
	Region  string // the region requests must be signed for; default us-east-1
	// Now is the endpoint's clock (signature skew, expirations); time.Now when nil.
	Now func() time.Time
	// Keys are the credentials callers may sign with.
	Keys []Identity
	// ProvisioningDelay is how long sso-admin's asynchronous operations stay
	// IN_PROGRESS.
	ProvisioningDelay time.Duration
}

// Endpoint is a running STS, IAM, IAM Identity Center and Secrets Manager on one loopback port. Other services
// register on Server under their signing names.
type Endpoint struct {
	*Listener
	Server *Server
	Keys   *Keys
	STS    *STS
	IAM    *IAM
	// SSOAdmin (signing name sso) and IdentityStore are IAM Identity Center.
	SSOAdmin      *SSOAdmin
	IdentityStore *IdentityStore
	// SecretsManager keeps the keys that rotate (signing name secretsmanager).
	SecretsManager *SecretsManager
}

// Start serves STS, IAM, sso-admin, Identity Store and Secrets Manager on a free loopback port.
func Start(o Options) (*Endpoint, error) {
	if o.Account == "" {
		o.Account = "000000000000"
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	keys := NewKeys(o.Keys...)
	srv := NewServer(keys, o.Region, o.Now)
	e := &Endpoint{Server: srv, Keys: keys, IAM: NewIAM(o.Account, o.Now)}
	e.STS = NewSTS(keys, e.IAM, o.Now)
	srv.Handle("sts", ProtocolQuery, e.STS.Service())
	srv.Handle("iam", ProtocolQuery, e.IAM.Service())
	e.SSOAdmin, e.IdentityStore = NewSSOAdmin(o.ProvisioningDelay, o.Now), NewIdentityStore()
	srv.Handle("sso", ProtocolJSON, e.SSOAdmin)
	srv.Handle("identitystore", ProtocolJSON, e.IdentityStore)
	e.SecretsManager = NewSecretsManager(o.Account, o.Region, o.Now)
	srv.Handle("secretsmanager", ProtocolJSON, e.SecretsManager)
	l, err := srv.Listen()
	if err != nil {
		return nil, err
	}
	e.Listener = l
	return e, nil
}
