package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBodyBytes is the largest request body accepted (decoded).
const MaxBodyBytes = 64 << 10

// header returns a request header case-insensitively: API Gateway lower-cases
// names, but events written by hand or by other gateways may not.
func header(req *events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[name]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// rawBody returns the decoded body bytes, refusing oversized bodies before
// decoding so a huge base64 payload costs nothing.
func rawBody(req *events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		if len(req.Body) > MaxBodyBytes {
			return nil, errTooLarge
		}
		return []byte(req.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxBodyBytes+2 {
		return nil, errTooLarge
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, badRequest("the body is marked base64-encoded but is not valid base64")
	}
	if len(b) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return b, nil
}

// mediaType returns the lower-cased media type of the Content-Type header.
func mediaType(req *events.APIGatewayV2HTTPRequest) (string, error) {
	ct := header(req, "content-type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", unsupported("the Content-Type header is malformed")
	}
	return mt, nil
}

func isJSON(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeRequest reads a JSON body into dst. optional allows an empty body
// (decision verbs whose only field is optional). required names top-level
// fields that must be present and not null.
func decodeRequest(req *events.APIGatewayV2HTTPRequest, dst any, optional bool, required ...string) error {
	body, err := rawBody(req)
	if err != nil {
		return err
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	mt, err := mediaType(req)
	if err != nil {
		return err
	}
	if !isJSON(mt) {
		return unsupported("the body must be JSON, sent with Content-Type: application/json")
	}
	return DecodeBody(body, dst, required...)
}

// DecodeBody strictly decodes one JSON object into dst: no unknown fields, no
// type mismatches, no trailing data, and every required field present. Its
// errors are 400 refusals whose detail names the problem precisely.
func DecodeBody(body []byte, dst any, required ...string) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return badRequest("a JSON body is required")
	}
	if trimmed[0] != '{' {
		return badRequest("the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return badRequest(describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("the body has data after the JSON object")
	}
	if len(required) > 0 {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &fields); err != nil {
			return badRequest("the body must be a JSON object")
		}
		for _, f := range required {
			if v, ok := fields[f]; !ok || string(v) == "null" {
				return badRequest(fmt.Sprintf("missing required field %q", f))
			}
		}
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return "the body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "the JSON body ends unexpectedly"
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + name
	}
	// Remaining decoder errors (invalid UTF-8 escapes, number overflow) are
	// about the caller's input and carry no internals.
	return strings.TrimPrefix(msg, "json: ")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return "a value of another type"
}
