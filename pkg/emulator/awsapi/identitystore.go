package awsapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

var identityStoreIDPattern = regexp.MustCompile(`^d-[0-9a-f]{10}$|^[0-9a-f]{8}\b-[0-9a-f]{4}\b-[0-9a-f]{4}\b-[0-9a-f]{4}\b-[0-9a-f]{12}$`)

// IdentityStore is an in-process AWS Identity Store in the JSON 1.1
// protocol: the user look-ups Elevate makes (GetUserId by user name or
// email, ListUsers filtered by user name, DescribeUser).
type IdentityStore struct {
	*JSONService

	mu    sync.Mutex
	users map[string][]User // identity store ID -> users
}

// User is an Identity Store user with the attributes Elevate looks at.
type User struct {
	UserID, UserName, Email, DisplayName string
}

// NewIdentityStore returns an empty Identity Store.
func NewIdentityStore() *IdentityStore {
	s := &IdentityStore{JSONService: newJSONService("AWSIdentityStore"), users: map[string][]User{}}
	handle(s.JSONService, "GetUserId", s.getUserID)
	handle(s.JSONService, "ListUsers", s.listUsers)
	handle(s.JSONService, "DescribeUser", s.describeUser)
	return s
}

// AddUser adds a user to a store, as provisioning from the identity
// provider would; it returns the user's ID.
func (s *IdentityStore) AddUser(storeID, userName, email string) (string, error) {
	if !identityStoreIDPattern.MatchString(storeID) {
		return "", fmt.Errorf("awsapi: %q is not an identity store ID", storeID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users[storeID] {
		if strings.EqualFold(u.UserName, userName) {
			return "", fmt.Errorf("awsapi: user %s exists", userName)
		}
	}
	id := strings.TrimPrefix(storeID, "d-") + "-" + newRequestID()
	s.users[storeID] = append(s.users[storeID], User{UserID: id, UserName: userName, Email: email, DisplayName: userName})
	return id, nil
}

func (s *IdentityStore) checkStore(id string) error {
	if !identityStoreIDPattern.MatchString(id) {
		return jsonValidation("1 validation error detected: Value at 'identityStoreId' failed to satisfy constraint")
	}
	return nil
}

type getUserIDInput struct {
	IdentityStoreID     string `json:"IdentityStoreId"`
	AlternateIdentifier struct {
		UniqueAttribute *struct {
			AttributePath  string
			AttributeValue json.RawMessage
		}
		ExternalID *struct{ Issuer, ID string } `json:"ExternalId"`
	}
}

func (s *IdentityStore) getUserID(in getUserIDInput) (any, error) {
	if err := s.checkStore(in.IdentityStoreID); err != nil {
		return nil, err
	}
	ua := in.AlternateIdentifier.UniqueAttribute
	if ua == nil {
		return nil, jsonValidation("AlternateIdentifier must name a UniqueAttribute or an ExternalId")
	}
	var value string
	if err := json.Unmarshal(ua.AttributeValue, &value); err != nil || value == "" {
		return nil, jsonValidation("AttributeValue must be a non-empty string")
	}
	var match func(User) bool
	switch strings.ToLower(ua.AttributePath) {
	case "username":
		match = func(u User) bool { return strings.EqualFold(u.UserName, value) }
	case "emails.value":
		match = func(u User) bool { return strings.EqualFold(u.Email, value) }
	default:
		return nil, jsonValidation("AttributePath " + ua.AttributePath + " is not a unique attribute")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users[in.IdentityStoreID] {
		if match(u) {
			return map[string]any{"IdentityStoreId": in.IdentityStoreID, "UserId": u.UserID}, nil
		}
	}
	return nil, jsonNotFound("USER not found.")
}

type listUsersInput struct {
	IdentityStoreID string `json:"IdentityStoreId"`
	Filters         []struct{ AttributePath, AttributeValue string }
	MaxResults      *int
	NextToken       *string
}

func (s *IdentityStore) listUsers(in listUsersInput) (any, error) {
	if err := s.checkStore(in.IdentityStoreID); err != nil {
		return nil, err
	}
	if len(in.Filters) > 1 {
		return nil, jsonValidation("at most one filter is allowed")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []map[string]any
	for _, u := range s.users[in.IdentityStoreID] {
		if len(in.Filters) == 1 {
			f := in.Filters[0]
			if f.AttributePath != "UserName" {
				return nil, jsonValidation("Filters only support the UserName attribute path")
			}
			if !strings.EqualFold(u.UserName, f.AttributeValue) {
				continue
			}
		}
		all = append(all, userShape(in.IdentityStoreID, u))
	}
	slices.SortFunc(all, func(x, y map[string]any) int { return compareStrings(x["UserName"].(string), y["UserName"].(string)) })
	items, next, err := page(all, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Users": items, "NextToken": next}, nil
}

type describeUserInput struct {
	IdentityStoreID string `json:"IdentityStoreId"`
	UserID          string `json:"UserId"`
}

func (s *IdentityStore) describeUser(in describeUserInput) (any, error) {
	if err := s.checkStore(in.IdentityStoreID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users[in.IdentityStoreID] {
		if u.UserID == in.UserID {
			return userShape(in.IdentityStoreID, u), nil
		}
	}
	return nil, jsonNotFound("USER not found.")
}

func userShape(store string, u User) map[string]any {
	out := map[string]any{"IdentityStoreId": store, "UserId": u.UserID, "UserName": u.UserName, "DisplayName": u.DisplayName}
	if u.Email != "" {
		out["Emails"] = []map[string]any{{"Value": u.Email, "Type": "work", "Primary": true}}
	}
	return out
}
