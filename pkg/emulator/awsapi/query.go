package awsapi

import (
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// QueryAction serves one Query-protocol action. It returns the value that
// becomes <ActionResult> (nil for actions whose response carries only
// ResponseMetadata) or an *Error.
type QueryAction func(c *Call, params url.Values) (any, error)

// QueryService is a service in the AWS Query protocol: the client POSTs a
// form with Action, Version and the action's parameters; the answer is
// <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata/>.
type QueryService struct {
	Namespace string // the XML namespace of responses
	Version   string // the API version clients must send
	Actions   map[string]QueryAction
}

// ServeAWS decodes the form, runs the action and encodes its result.
func (q *QueryService) ServeAWS(w http.ResponseWriter, c *Call) {
	if mt, _, _ := mime.ParseMediaType(c.HTTP.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		WriteError(w, ProtocolQuery, c.RequestID, &Error{Status: http.StatusBadRequest, Code: "InvalidQueryParameter", Message: "The request must be a form (application/x-www-form-urlencoded).", Sender: true})
		return
	}
	params, err := url.ParseQuery(string(c.Body))
	if err != nil {
		WriteError(w, ProtocolQuery, c.RequestID, &Error{Status: http.StatusBadRequest, Code: "MalformedQueryString", Message: "The form cannot be parsed.", Sender: true})
		return
	}
	action := params.Get("Action")
	if action == "" {
		WriteError(w, ProtocolQuery, c.RequestID, &Error{Status: http.StatusBadRequest, Code: "MissingAction", Message: "Missing Action", Sender: true})
		return
	}
	run, ok := q.Actions[action]
	if !ok || params.Get("Version") != q.Version {
		WriteError(w, ProtocolQuery, c.RequestID, &Error{Status: http.StatusBadRequest, Code: "InvalidAction",
			Message: fmt.Sprintf("Could not find operation %s for version %s", action, params.Get("Version")), Sender: true})
		return
	}
	result, err := run(c, params)
	if err != nil {
		WriteError(w, ProtocolQuery, c.RequestID, err)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, `<%sResponse xmlns="%s">`, action, q.Namespace)
	if result != nil {
		enc := xml.NewEncoder(w)
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			// The status is already written; a truncated body makes the SDK fail
			// to decode, which is the honest outcome of a bug here.
			return
		}
		_ = enc.Flush()
	}
	_, _ = fmt.Fprintf(w, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", c.RequestID, action)
}

// members reads a Query-protocol list, `prefix.member.N` or
// `prefix.member.N.Field`, in index order. Each element is the map of its
// fields; a scalar element's value is under "".
func members(params url.Values, prefix string) ([]map[string]string, error) {
	byIndex := map[int]map[string]string{}
	head := prefix + ".member."
	for k, vs := range params {
		rest, ok := strings.CutPrefix(k, head)
		if !ok {
			continue
		}
		idx, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(idx)
		if err != nil || n < 1 {
			return nil, invalidParameter(prefix, "has a malformed member index")
		}
		if byIndex[n] == nil {
			byIndex[n] = map[string]string{}
		}
		byIndex[n][field] = vs[0]
	}
	idx := make([]int, 0, len(byIndex))
	for n := range byIndex {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	out := make([]map[string]string, 0, len(idx))
	for i, n := range idx {
		if n != i+1 {
			return nil, invalidParameter(prefix, "members must be numbered from 1 without gaps")
		}
		out = append(out, byIndex[n])
	}
	return out, nil
}

// validationError is the Query protocol's 400 for a parameter that breaks a
// documented constraint (STS and IAM both answer ValidationError).
func validationError(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "ValidationError", Message: msg, Sender: true}
}

func invalidParameter(name, problem string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "InvalidParameterValue", Message: name + " " + problem, Sender: true}
}
