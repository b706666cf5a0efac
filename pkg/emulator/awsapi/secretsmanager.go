package awsapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The staging labels Secrets Manager gives meaning to.
const (
	smCurrent  = "AWSCURRENT"
	smPrevious = "AWSPREVIOUS"
	smPending  = "AWSPENDING"
)

// Secrets Manager's error shapes (JSON 1.1, all 400 but ResourceNotFound's).
func smInvalidParameter(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "InvalidParameterException", Message: msg, Sender: true}
}
func smInvalidRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "InvalidRequestException", Message: msg, Sender: true}
}
func smNotFound(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "ResourceNotFoundException", Message: msg, Sender: true}
}
func smExists(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "ResourceExistsException", Message: msg, Sender: true}
}

var (
	smNamePattern  = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	smTokenPattern = regexp.MustCompile(`^[A-Za-z0-9-]{32,64}$`)
)

// smMaxSecret is the largest SecretString AWS stores (65,536 bytes).
const smMaxSecret = 65536

// RotationEvent is what Secrets Manager invokes a rotation function with,
// once per step: createSecret, setSecret, testSecret, finishSecret.
type RotationEvent struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	RotationToken      string `json:"RotationToken,omitempty"`
}

// Rotator runs a rotation function (by its ARN) for one step.
type Rotator func(ctx context.Context, functionARN string, ev RotationEvent) error

// SecretsManager is an in-process AWS Secrets Manager in the JSON 1.1
// protocol (target prefix "secretsmanager"), serving what Elevate uses:
// CreateSecret, DescribeSecret, GetSecretValue, PutSecretValue,
// UpdateSecretVersionStage and RotateSecret, with AWS's staging-label rules
// (one version per label; moving AWSCURRENT moves AWSPREVIOUS to the version
// it left). RotateSecret runs the rotation function's four steps through
// Rotate before it answers (AWS runs them after; here a failed step is the
// call's error, so a local rotation on demand says whether it worked).
type SecretsManager struct {
	*JSONService
	// Rotate invokes rotation functions; RotateSecret is refused while nil.
	Rotate Rotator

	account, region string
	now             func() time.Time

	mu      sync.Mutex
	secrets map[string]*smSecret // by name
}

type smSecret struct {
	arn, name   string
	rotationARN string
	rotateDays  int64
	schedule    string
	rotating    bool
	lastRotated time.Time
	created     time.Time
	versions    map[string]*smVersion
}

type smVersion struct {
	id    string
	value string
	// placeholder: the AWSPENDING version RotateSecret stages before it
	// invokes createSecret, which has no value until PutSecretValue.
	placeholder bool
	stages      []string
	created     time.Time
}

// NewSecretsManager returns an empty Secrets Manager of account in region.
func NewSecretsManager(account, region string, now func() time.Time) *SecretsManager {
	s := &SecretsManager{JSONService: newJSONService("secretsmanager"), account: account, region: region, now: now, secrets: map[string]*smSecret{}}
	handle(s.JSONService, "CreateSecret", s.createSecret)
	handle(s.JSONService, "DescribeSecret", s.describeSecret)
	handle(s.JSONService, "GetSecretValue", s.getSecretValue)
	handle(s.JSONService, "PutSecretValue", s.putSecretValue)
	handle(s.JSONService, "UpdateSecretVersionStage", s.updateSecretVersionStage)
	handleContext(s.JSONService, "RotateSecret", s.rotateSecret)
	return s
}

// find resolves a SecretId (a name or an ARN); the caller holds s.mu.
func (s *SecretsManager) find(id string) (*smSecret, error) {
	if id == "" {
		return nil, smInvalidParameter("You must provide a value for SecretId.")
	}
	if sec, ok := s.secrets[id]; ok {
		return sec, nil
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec, nil
		}
	}
	return nil, smNotFound("Secrets Manager can't find the specified secret.")
}

func (sec *smSecret) holder(stage string) *smVersion {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

// moveStage attaches stage to v, taking it from whichever version holds it;
// AWSCURRENT moving makes the version it left AWSPREVIOUS.
func (sec *smSecret) moveStage(stage string, v *smVersion) {
	old := sec.holder(stage)
	if old == v {
		return
	}
	if old != nil {
		old.stages = slices.DeleteFunc(old.stages, func(s string) bool { return s == stage })
	}
	v.stages = append(v.stages, stage)
	if stage == smCurrent && old != nil {
		sec.moveStage(smPrevious, old)
	}
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

type createSecretInput struct {
	Name               string
	SecretString       *string
	ClientRequestToken string
	Description        string
	KmsKeyID           string `json:"KmsKeyId"`
}

func (s *SecretsManager) createSecret(in createSecretInput) (any, error) {
	if !smNamePattern.MatchString(in.Name) {
		return nil, smInvalidParameter("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if in.ClientRequestToken != "" && !smTokenPattern.MatchString(in.ClientRequestToken) {
		return nil, smInvalidParameter("ClientRequestToken must be 32 to 64 characters.")
	}
	if in.SecretString != nil && len(*in.SecretString) > smMaxSecret {
		return nil, smInvalidParameter("SecretString is longer than 65536 bytes.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.secrets[in.Name]; ok {
		return nil, smExists("The operation failed because the secret " + in.Name + " already exists.")
	}
	now := s.now()
	sec := &smSecret{name: in.Name, created: now, versions: map[string]*smVersion{},
		arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.region, s.account, in.Name, newRequestID()[:6])}
	s.secrets[in.Name] = sec
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.SecretString != nil {
		id := in.ClientRequestToken
		if id == "" {
			id = newRequestID()
		}
		sec.versions[id] = &smVersion{id: id, value: *in.SecretString, stages: []string{smCurrent}, created: now}
		out["VersionId"] = id
	}
	return out, nil
}

type secretIDInput struct {
	SecretID string `json:"SecretId"`
}

func (s *SecretsManager) describeSecret(in secretIDInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(in.SecretID)
	if err != nil {
		return nil, err
	}
	stages := map[string][]string{}
	for id, v := range sec.versions {
		if len(v.stages) > 0 {
			stages[id] = slices.Clone(v.stages)
		}
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "RotationEnabled": sec.rotating, "VersionIdsToStages": stages, "CreatedDate": epochSeconds(sec.created)}
	if sec.rotationARN != "" {
		out["RotationLambdaARN"] = sec.rotationARN
		rules := map[string]any{}
		if sec.rotateDays > 0 {
			rules["AutomaticallyAfterDays"] = sec.rotateDays
		}
		if sec.schedule != "" {
			rules["ScheduleExpression"] = sec.schedule
		}
		out["RotationRules"] = rules
	}
	if !sec.lastRotated.IsZero() {
		out["LastRotatedDate"] = epochSeconds(sec.lastRotated)
	}
	return out, nil
}

type getSecretValueInput struct {
	SecretID     string `json:"SecretId"`
	VersionID    string `json:"VersionId"`
	VersionStage string
}

func (s *SecretsManager) getSecretValue(in getSecretValueInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(in.SecretID)
	if err != nil {
		return nil, err
	}
	var v *smVersion
	switch {
	case in.VersionID != "":
		v = sec.versions[in.VersionID]
		if v != nil && in.VersionStage != "" && !slices.Contains(v.stages, in.VersionStage) {
			v = nil
		}
	default:
		stage := in.VersionStage
		if stage == "" {
			stage = smCurrent
		}
		v = sec.holder(stage)
	}
	if v == nil || v.placeholder {
		return nil, smNotFound("Secrets Manager can't find the specified secret value for the version or staging label given.")
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "SecretString": v.value,
		"VersionStages": slices.Clone(v.stages), "CreatedDate": epochSeconds(v.created)}, nil
}

type putSecretValueInput struct {
	SecretID           string `json:"SecretId"`
	ClientRequestToken string
	SecretString       *string
	VersionStages      []string
}

func (s *SecretsManager) putSecretValue(in putSecretValueInput) (any, error) {
	if in.SecretString == nil {
		return nil, smInvalidParameter("You must provide either SecretString or SecretBinary.")
	}
	if len(*in.SecretString) > smMaxSecret {
		return nil, smInvalidParameter("SecretString is longer than 65536 bytes.")
	}
	if !smTokenPattern.MatchString(in.ClientRequestToken) {
		return nil, smInvalidParameter("ClientRequestToken must be 32 to 64 characters.")
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{smCurrent}
	}
	if len(stages) > 20 {
		return nil, smInvalidParameter("A version can have at most 20 staging labels.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(in.SecretID)
	if err != nil {
		return nil, err
	}
	v, ok := sec.versions[in.ClientRequestToken]
	switch {
	case ok && v.placeholder:
		v.value, v.placeholder = *in.SecretString, false
	case ok && v.value != *in.SecretString:
		return nil, smExists("You can't modify an existing version, you can only create a new version.")
	case !ok:
		v = &smVersion{id: in.ClientRequestToken, value: *in.SecretString, created: s.now()}
		sec.versions[v.id] = v
	}
	for _, st := range stages {
		sec.moveStage(st, v)
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": slices.Clone(v.stages)}, nil
}

type updateSecretVersionStageInput struct {
	SecretID            string `json:"SecretId"`
	VersionStage        string
	MoveToVersionID     string `json:"MoveToVersionId"`
	RemoveFromVersionID string `json:"RemoveFromVersionId"`
}

func (s *SecretsManager) updateSecretVersionStage(in updateSecretVersionStageInput) (any, error) {
	if in.VersionStage == "" || len(in.VersionStage) > 256 {
		return nil, smInvalidParameter("You must provide a VersionStage of 1 to 256 characters.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(in.SecretID)
	if err != nil {
		return nil, err
	}
	holder := sec.holder(in.VersionStage)
	if in.RemoveFromVersionID != "" && (holder == nil || holder.id != in.RemoveFromVersionID) {
		return nil, smInvalidParameter("The staging label " + in.VersionStage + " is not attached to version " + in.RemoveFromVersionID + ".")
	}
	if in.MoveToVersionID == "" {
		if in.VersionStage == smCurrent {
			return nil, smInvalidParameter("You can't remove the staging label AWSCURRENT from a version without moving it to another version.")
		}
		if holder != nil && in.RemoveFromVersionID != "" {
			holder.stages = slices.DeleteFunc(holder.stages, func(s string) bool { return s == in.VersionStage })
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
	}
	to, ok := sec.versions[in.MoveToVersionID]
	if !ok {
		return nil, smNotFound("Secrets Manager can't find the specified secret version " + in.MoveToVersionID + ".")
	}
	if holder != nil && holder != to && in.RemoveFromVersionID == "" {
		return nil, smInvalidParameter("The parameter RemoveFromVersionId can't be empty. Staging label " + in.VersionStage +
			" is currently attached to version " + holder.id + ", so you must explicitly reference that version in RemoveFromVersionId.")
	}
	sec.moveStage(in.VersionStage, to)
	if in.VersionStage == smCurrent {
		sec.lastRotated = s.now()
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

type rotateSecretInput struct {
	SecretID           string `json:"SecretId"`
	ClientRequestToken string
	RotationLambdaARN  string
	RotationRules      *struct {
		AutomaticallyAfterDays *int64
		ScheduleExpression     string
		Duration               string
	}
	RotateImmediately *bool
}

func (s *SecretsManager) rotateSecret(ctx context.Context, in rotateSecretInput) (any, error) {
	if in.ClientRequestToken != "" && !smTokenPattern.MatchString(in.ClientRequestToken) {
		return nil, smInvalidParameter("ClientRequestToken must be 32 to 64 characters.")
	}
	if r := in.RotationRules; r != nil {
		if d := r.AutomaticallyAfterDays; d != nil && (*d < 1 || *d > 1000) {
			return nil, smInvalidParameter("AutomaticallyAfterDays must be between 1 and 1000.")
		}
		if r.AutomaticallyAfterDays != nil && r.ScheduleExpression != "" {
			return nil, smInvalidParameter("You can't specify both AutomaticallyAfterDays and ScheduleExpression.")
		}
	}
	s.mu.Lock()
	sec, err := s.find(in.SecretID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if in.RotationLambdaARN != "" {
		sec.rotationARN = in.RotationLambdaARN
	}
	if r := in.RotationRules; r != nil {
		sec.rotateDays, sec.schedule = 0, r.ScheduleExpression
		if r.AutomaticallyAfterDays != nil {
			sec.rotateDays = *r.AutomaticallyAfterDays
		}
	}
	if sec.rotationARN == "" {
		s.mu.Unlock()
		return nil, smInvalidRequest("No Lambda rotation function ARN is associated with this secret.")
	}
	if s.Rotate == nil {
		s.mu.Unlock()
		return nil, smAccessDenied("Secrets Manager cannot invoke the specified Lambda function.")
	}
	if p := sec.holder(smPending); p != nil && !slices.Contains(p.stages, smCurrent) && p.id != in.ClientRequestToken {
		s.mu.Unlock()
		return nil, smInvalidRequest("A previous rotation isn't complete. That rotation will be reattempted.")
	}
	sec.rotating = true
	arn, fn := sec.arn, sec.rotationARN
	out := map[string]any{"ARN": arn, "Name": sec.name}
	if in.RotateImmediately != nil && !*in.RotateImmediately {
		s.mu.Unlock()
		return out, nil
	}
	token := in.ClientRequestToken
	if token == "" {
		token = newRequestID()
	}
	// The new version exists, staged AWSPENDING without a value, before the
	// function's first step: createSecret puts its value.
	if _, ok := sec.versions[token]; !ok {
		v := &smVersion{id: token, placeholder: true, created: s.now()}
		sec.versions[token] = v
		sec.moveStage(smPending, v)
	}
	s.mu.Unlock()
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		if err := s.Rotate(ctx, fn, RotationEvent{Step: step, SecretID: arn, ClientRequestToken: token}); err != nil {
			return nil, smInvalidRequest("The rotation function failed at " + step + ": " + err.Error())
		}
		if step == "createSecret" {
			s.mu.Lock()
			v := sec.versions[token]
			s.mu.Unlock()
			if v == nil || !slices.Contains(v.stages, smPending) {
				return nil, smInvalidRequest("The rotation function did not create the AWSPENDING version " + token + ".")
			}
		}
	}
	out["VersionId"] = token
	return out, nil
}

func smAccessDenied(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "AccessDeniedException", Message: msg, Sender: true}
}

// Versions lists a secret's versions and their labels, oldest first (tests).
func (s *SecretsManager) Versions(name string) [][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[name]
	if !ok {
		return nil
	}
	vs := make([]*smVersion, 0, len(sec.versions))
	for _, v := range sec.versions {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b *smVersion) int { return a.created.Compare(b.created) })
	out := make([][2]string, len(vs))
	for i, v := range vs {
		out[i] = [2]string{v.id, strings.Join(v.stages, ",")}
	}
	return out
}
