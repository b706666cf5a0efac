package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// The parts of Signature Version 4 this endpoint verifies, as AWS documents
// them ("Create a signed AWS API request", IAM user guide).
const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	sigV4Terminal  = "aws4_request"
	amzDateLayout  = "20060102T150405Z"
	scopeDate      = "20060102"
	// MaxClockSkew is how far a request's X-Amz-Date may be from the
	// server's clock, either way, before AWS answers RequestExpired.
	MaxClockSkew = 15 * time.Minute
)

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string // lower-case, as listed
	Signature     string   // lower-case hex
}

// Scope is the credential scope the signature was made for.
func (a Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + sigV4Terminal
}

// ParseAuthorization reads an `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…` header. Anything else is IncompleteSignature, as in AWS.
func ParseAuthorization(header string) (Authorization, error) {
	var a Authorization
	algorithm, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || algorithm != sigV4Algorithm {
		return a, errIncompleteSignature("Authorization header requires the " + sigV4Algorithm + " algorithm.")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return a, errIncompleteSignature("Authorization header requires each component to be a key=value pair.")
		}
		if _, dup := fields[k]; dup {
			return a, errIncompleteSignature("Authorization header repeats " + k + ".")
		}
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return a, errIncompleteSignature("Authorization header requires '" + k + "' parameter.")
		}
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != sigV4Terminal || scope[0] == "" {
		return a, errIncompleteSignature("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/" + sigV4Terminal + ".")
	}
	if _, err := time.Parse(scopeDate, scope[1]); err != nil {
		return a, errIncompleteSignature("Credential scope date is not yyyyMMdd.")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	a.SignedHeaders = strings.Split(fields["SignedHeaders"], ";")
	if !sort.StringsAreSorted(a.SignedHeaders) || !slices.Contains(a.SignedHeaders, "host") {
		return a, errIncompleteSignature("SignedHeaders must be sorted, lower-case, and include host.")
	}
	for _, h := range a.SignedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return a, errIncompleteSignature("SignedHeaders must be sorted, lower-case, and include host.")
		}
	}
	a.Signature = fields["Signature"]
	if len(a.Signature) != 2*sha256.Size {
		return a, errIncompleteSignature("Signature must be 64 hexadecimal characters.")
	}
	if _, err := hex.DecodeString(a.Signature); err != nil {
		return a, errIncompleteSignature("Signature must be 64 hexadecimal characters.")
	}
	return a, nil
}

// Verifier checks SigV4 signatures against the keys it knows.
type Verifier struct {
	Keys   *Keys
	Region string
	Now    func() time.Time
}

// Verify authenticates r, whose body has already been read into body, and
// returns the caller. It refuses, with AWS's error codes: no Authorization
// header (MissingAuthenticationToken), a malformed one or an unsigned
// X-Amz-Date or session token (IncompleteSignature), a request dated more
// than MaxClockSkew from now (RequestExpired), an unknown access key or a
// wrong session token (InvalidClientTokenId), expired temporary credentials
// (ExpiredToken), a scope for another region or service, and any signature
// that is not the one the secret key produces (SignatureDoesNotMatch).
func (v *Verifier) Verify(r *http.Request, body []byte, service string) (Identity, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		if r.URL.Query().Has("X-Amz-Signature") {
			return Identity{}, errIncompleteSignature("Presigned (query string) requests are not accepted by this endpoint.")
		}
		return Identity{}, &Error{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token", Sender: true}
	}
	auth, err := ParseAuthorization(header)
	if err != nil {
		return Identity{}, err
	}
	if !slices.Contains(auth.SignedHeaders, "x-amz-date") {
		return Identity{}, errIncompleteSignature("Authorization header requires x-amz-date to be signed.")
	}
	signedAt, err := time.Parse(amzDateLayout, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return Identity{}, errIncompleteSignature("X-Amz-Date must be in the ISO 8601 basic format yyyyMMddTHHmmssZ.")
	}
	now := v.Now()
	if skew := now.Sub(signedAt); skew > MaxClockSkew || skew < -MaxClockSkew {
		return Identity{}, &Error{Status: http.StatusBadRequest, Code: "RequestExpired", Sender: true,
			Message: fmt.Sprintf("Request timestamp %s is more than %s from the server time %s.", signedAt.Format(amzDateLayout), MaxClockSkew, now.UTC().Format(amzDateLayout))}
	}
	if auth.Date != signedAt.Format(scopeDate) {
		return Identity{}, errSignatureDoesNotMatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + auth.Date + "' != '" + signedAt.Format(scopeDate) + "'")
	}
	if auth.Region != v.Region {
		return Identity{}, errSignatureDoesNotMatch("Credential should be scoped to a valid region, not '" + auth.Region + "'.")
	}
	if auth.Service != service {
		return Identity{}, errSignatureDoesNotMatch("Credential should be scoped to correct service: '" + service + "'.")
	}

	id, ok := v.Keys.Lookup(auth.AccessKeyID)
	if !ok {
		return Identity{}, errInvalidClientToken()
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if token != "" && !slices.Contains(auth.SignedHeaders, "x-amz-security-token") {
		return Identity{}, errIncompleteSignature("Authorization header requires x-amz-security-token to be signed.")
	}
	if !hmac.Equal([]byte(token), []byte(id.SessionToken)) {
		return Identity{}, errInvalidClientToken()
	}
	if !id.Expiration.IsZero() && !now.Before(id.Expiration) {
		return Identity{}, &Error{Status: http.StatusForbidden, Code: "ExpiredToken", Message: "The security token included in the request is expired", Sender: true}
	}

	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != hashHex(body) {
		return Identity{}, errSignatureDoesNotMatch("The provided X-Amz-Content-Sha256 header does not match what was computed.")
	}
	canonical, err := canonicalRequest(r, auth.SignedHeaders, hashHex(body))
	if err != nil {
		return Identity{}, err
	}
	stringToSign := sigV4Algorithm + "\n" + signedAt.Format(amzDateLayout) + "\n" + auth.Scope() + "\n" + hashHex([]byte(canonical))
	want := hex.EncodeToString(hmacSHA256(signingKey(id.SecretAccessKey, auth), stringToSign))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(auth.Signature))) {
		return Identity{}, errSignatureDoesNotMatch("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return id, nil
}

// signingKey derives the per-day, per-region, per-service key from the secret.
func signingKey(secret string, a Authorization) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), a.Date)
	k = hmacSHA256(k, a.Region)
	k = hmacSHA256(k, a.Service)
	return hmacSHA256(k, sigV4Terminal)
}

// canonicalRequest is the SigV4 canonical form of r for the headers the
// client signed. Services other than S3 encode the path twice.
func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) (string, error) {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uriEncode(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		var values []string
		if name == "host" {
			values = []string{r.Host}
		} else {
			values = r.Header.Values(name)
		}
		if len(values) == 0 {
			return "", errSignatureDoesNotMatch("Header " + name + " is listed in SignedHeaders but is not present.")
		}
		for i, v := range values {
			values[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(values, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), nil
}

// canonicalQuery sorts the parameters by encoded name, then value.
func canonicalQuery(q url.Values) string {
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode percent-encodes every byte except RFC 3986's unreserved
// characters (and '/' unless encodeSlash), upper-case hex, as SigV4 requires.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func errIncompleteSignature(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "IncompleteSignature", Message: msg, Sender: true}
}

func errSignatureDoesNotMatch(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch", Message: msg, Sender: true}
}

func errInvalidClientToken() *Error {
	return &Error{Status: http.StatusForbidden, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Sender: true}
}
