package awsapi

import "net/url"

// STS serves the AWS Security Token Service's Query API.
type STS struct {
	keys *Keys
}

// NewSTS returns an STS that authenticates callers against keys.
func NewSTS(keys *Keys) *STS {
	return &STS{keys: keys}
}

// Service is the Query-protocol service to register under the signing name "sts".
func (s *STS) Service() *QueryService {
	return &QueryService{
		Namespace: "https://sts.amazonaws.com/doc/2011-06-15/",
		Version:   "2011-06-15",
		Actions: map[string]QueryAction{
			"GetCallerIdentity": s.getCallerIdentity,
		},
	}
}

type callerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

// getCallerIdentity needs no permission in AWS: it answers who signed.
func (s *STS) getCallerIdentity(c *Call, _ url.Values) (any, error) {
	return callerIdentityResult{Arn: c.Caller.ARN, UserID: c.Caller.UserID, Account: c.Caller.Account}, nil
}
