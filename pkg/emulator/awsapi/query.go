package awsapi

import (
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"net/url"
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
