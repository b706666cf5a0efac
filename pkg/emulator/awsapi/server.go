// Package awsapi serves, in process and over real HTTP, the AWS APIs that
// have no emulator installable here (STS, IAM, IAM Identity Center's
// sso-admin and identitystore, Secrets Manager). Each speaks its service's
// real wire protocol (the Query protocol for STS and IAM, JSON 1.1 with
// X-Amz-Target for the Identity Center APIs and Secrets Manager), verifies
// every request's SigV4 signature against the keys it knows, and refuses
// what AWS documents it refuses, so the code under test reaches it only
// through the real aws-sdk-go-v2 clients.
package awsapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Error is an AWS error response: its HTTP status, code and message. Sender
// marks a client fault (the Query protocol's <Type>Sender</Type>).
type Error struct {
	Status  int
	Code    string
	Message string
	Sender  bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Identity is who signed a request: a long-term key or temporary
// credentials that this endpoint issued.
type Identity struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string    // empty for long-term keys
	Expiration      time.Time // zero for long-term keys
	Account         string
	ARN             string // the caller's ARN, as GetCallerIdentity reports it
	UserID          string
	// RoleARN is set when the key belongs to a role session; AssumeRole
	// called with it is role chaining, which AWS caps at one hour.
	RoleARN        string
	SessionName    string
	SourceIdentity string
	// Tags are the session tags; TransitiveTagKeys carry into chained sessions.
	Tags              map[string]string
	TransitiveTagKeys []string
	// IssuedAt is when STS issued a session (aws:TokenIssueTime).
	IssuedAt time.Time
}

// Keys are the credentials the endpoint accepts, safe for concurrent use.
type Keys struct {
	mu   sync.RWMutex
	byID map[string]Identity
}

// NewKeys returns a key set holding ids.
func NewKeys(ids ...Identity) *Keys {
	k := &Keys{byID: map[string]Identity{}}
	for _, id := range ids {
		k.Add(id)
	}
	return k
}

// Add registers (or replaces) a key.
func (k *Keys) Add(id Identity) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.byID[id.AccessKeyID] = id
}

// Lookup finds a key by its access key ID.
func (k *Keys) Lookup(accessKeyID string) (Identity, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	id, ok := k.byID[accessKeyID]
	return id, ok
}

// Protocol is how a service's requests and responses are encoded.
type Protocol int

const (
	// ProtocolQuery is the AWS Query protocol: form-encoded POSTs carrying
	// Action and Version, XML responses (STS, IAM).
	ProtocolQuery Protocol = iota + 1
	// ProtocolJSON is AWS JSON 1.1: a POST of application/x-amz-json-1.1 whose
	// X-Amz-Target header names the operation (sso-admin, identitystore).
	ProtocolJSON
)

// Call is one authenticated request handed to a service.
type Call struct {
	HTTP      *http.Request
	Body      []byte
	Caller    Identity
	Service   string // the signing name: sts, iam, sso, identitystore
	RequestID string
	Received  time.Time // the server's clock when the request arrived
}

// Handler serves the authenticated calls of one service. It writes its own
// response; protocol adapters (query.go, jsonrpc.go) do the encoding.
type Handler interface {
	ServeAWS(w http.ResponseWriter, c *Call)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w http.ResponseWriter, c *Call)

// ServeAWS calls f.
func (f HandlerFunc) ServeAWS(w http.ResponseWriter, c *Call) { f(w, c) }

type route struct {
	protocol Protocol
	handler  Handler
}

// maxBody bounds a request body. AWS's own limits on these APIs are far
// smaller; the bound keeps a bad client from filling memory.
const maxBody = 1 << 20

// Server routes SigV4-signed requests to services by the signing name in
// their credential scope, the way AWS's per-service endpoints do by host:
// so one local endpoint can stand in for STS, IAM and the Identity Center
// APIs at once (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_IAM, … all point at it).
type Server struct {
	Verifier Verifier
	mu       sync.RWMutex
	routes   map[string]route
}

// NewServer returns a server that accepts keys, signed for region, with now
// as its clock (time.Now when nil).
func NewServer(keys *Keys, region string, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{Verifier: Verifier{Keys: keys, Region: region, Now: now}, routes: map[string]route{}}
}

// Handle serves service (a signing name) in protocol p with h.
func (s *Server) Handle(service string, p Protocol, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[service] = route{protocol: p, handler: h}
}

// ServeHTTP authenticates the request and hands it to its service. Refusals
// are written in the service's protocol, so the SDK decodes them as AWS's.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set("X-Amzn-RequestId", requestID)
	protocol := ProtocolQuery
	if r.Header.Get("X-Amz-Target") != "" {
		protocol = ProtocolJSON
	}
	if r.Method != http.MethodPost {
		WriteError(w, protocol, requestID, &Error{Status: http.StatusMethodNotAllowed, Code: "InvalidAction", Message: "Only POST requests are accepted.", Sender: true})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		WriteError(w, protocol, requestID, &Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Message: "Request body is too large.", Sender: true})
		return
	}
	service := ""
	if auth, err := ParseAuthorization(r.Header.Get("Authorization")); err == nil {
		service = auth.Service
	}
	s.mu.RLock()
	rt, known := s.routes[service]
	s.mu.RUnlock()
	if known {
		protocol = rt.protocol
	}
	caller, err := s.Verifier.Verify(r, body, service)
	if err != nil {
		WriteError(w, protocol, requestID, err)
		return
	}
	if !known {
		WriteError(w, protocol, requestID, &Error{Status: http.StatusBadRequest, Code: "UnknownService", Message: "This endpoint does not serve " + service + ".", Sender: true})
		return
	}
	rt.handler.ServeAWS(w, &Call{HTTP: r, Body: body, Caller: caller, Service: service, RequestID: requestID, Received: s.Verifier.Now()})
}

// WriteError writes err as AWS would in protocol p. Errors that are not
// *Error become a 500 InternalFailure whose message reveals nothing.
func WriteError(w http.ResponseWriter, p Protocol, requestID string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure."}
	}
	switch p {
	case ProtocolJSON:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", e.Code)
		w.WriteHeader(e.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
	default:
		kind := "Receiver"
		if e.Sender {
			kind = "Sender"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(e.Status)
		_, _ = fmt.Fprintf(w, "<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>",
			kind, xmlEscape(e.Code), xmlEscape(e.Message), requestID)
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Listener serves s on a free loopback port until Close.
type Listener struct {
	Endpoint string // http://127.0.0.1:PORT
	srv      *http.Server
	done     chan struct{}
}

// Listen serves s on 127.0.0.1 at a free port.
func (s *Server) Listen() (*Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("awsapi: listen: %w", err)
	}
	l := &Listener{Endpoint: "http://" + ln.Addr().String(), done: make(chan struct{}),
		srv: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(l.done)
		_ = l.srv.Serve(ln)
	}()
	return l, nil
}

// Close stops serving.
func (l *Listener) Close() error {
	err := l.srv.Close()
	<-l.done
	return err
}
