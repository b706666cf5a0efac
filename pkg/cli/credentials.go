package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// awsCredentials is the answer of POST /v1/requests/{id}/credentials.
type awsCredentials struct {
	AccessKeyID     string    `json:"accessKeyId"`
	SecretAccessKey string    `json:"secretAccessKey"`
	SessionToken    string    `json:"sessionToken"`
	Expiration      time.Time `json:"expiration"`
}

// credentialProcess is the AWS CLI's credential_process output (Version 1).
type credentialProcess struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
}

func (a *app) credentialsCmd() *cobra.Command {
	var process bool
	var target string
	c := &cobra.Command{
		Use:   "credentials <request-id> | credentials --process --target type:scope:name",
		Short: "AWS credentials for your live grant: export lines, -o json, or credential_process JSON",
		Long: "Prints `export AWS_...` lines for the grant's AWS session (eval them in your shell), or with -o json the API's answer.\n" +
			"With --process --target, finds your live grant on the target and prints the JSON the AWS CLI's credential_process reads:\n" +
			"  [profile task]\n  credential_process = elevate credentials --process --target task:s3:delete-bucket",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if process != (target != "") || process == (len(args) == 1) {
				return usagef("give a request ID, or --process with --target")
			}
			cl, err := a.client(cmd.Context(), true)
			if err != nil {
				return err
			}
			id := ""
			if process {
				t, err := elevate.ParseTargetKey(target)
				if err != nil {
					return usagef("--target %q must look like type:scope:name, e.g. task:s3:delete-bucket", target)
				}
				var ans authzAnswer
				if err := cl.Do(cmd.Context(), "POST", "/v1/authorize", nil, map[string]any{"type": t.Type, "scope": t.Scope, "name": t.Name}, &ans); err != nil {
					return err
				}
				if ans.Reason != string(elevate.ReasonGrant) || ans.RequestID == "" {
					return fmt.Errorf("no live grant on %s (authorize answers %s): %w", target, ans.Reason, ErrDenied)
				}
				id = ans.RequestID
			} else {
				id = args[0]
			}
			var raw json.RawMessage
			if err := cl.Do(cmd.Context(), "POST", "/v1/requests/"+seg(id)+"/credentials", nil, nil, &raw); err != nil {
				return err
			}
			creds, err := decodeAs[awsCredentials](raw)
			if err != nil {
				return err
			}
			if process {
				return json.NewEncoder(a.env.Stdout).Encode(credentialProcess{Version: 1, AccessKeyID: creds.AccessKeyID,
					SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken, Expiration: creds.Expiration.UTC().Format(time.RFC3339)})
			}
			format, err := a.format("export", "export", "json")
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(a.env.Stdout, raw)
			}
			_, err = fmt.Fprintf(a.env.Stdout, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\nexport AWS_CREDENTIAL_EXPIRATION=%s\n",
				shellQuote(creds.AccessKeyID), shellQuote(creds.SecretAccessKey), shellQuote(creds.SessionToken), creds.Expiration.UTC().Format(time.RFC3339))
			return err
		},
	}
	c.Flags().BoolVar(&process, "process", false, "print credential_process JSON for your live grant on --target")
	c.Flags().StringVar(&target, "target", "", "the target's key, type:scope:name (with --process)")
	return c
}

// awsBindingFlags are `policy new`'s flags for the policy's aws binding.
type awsBindingFlags struct {
	role          string
	sessionPolicy string
	managed       []string
	maxSession    int
}

func (f *awsBindingFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.role, "aws-role", "", "broker role ARN: grants under the policy get AWS credentials for it (elevate credentials)")
	fl.StringVar(&f.sessionPolicy, "session-policy", "", "IAM policy JSON scoping the session to the task, or @FILE")
	fl.StringArrayVar(&f.managed, "managed-policy", nil, "managed policy ARN scoping the session (repeatable, at most 10)")
	fl.IntVar(&f.maxSession, "max-session-minutes", 0, "longest AWS session, 15-60 (default 60)")
}

// addTo puts the binding in a policy body when --aws-role is given; the
// other flags need it.
func (f *awsBindingFlags) addTo(c *cobra.Command, body map[string]any, readFile func(string) ([]byte, error)) error {
	if f.role == "" {
		for _, n := range []string{"session-policy", "managed-policy", "max-session-minutes"} {
			if c.Flags().Changed(n) {
				return usagef("--%s needs --aws-role", n)
			}
		}
		return nil
	}
	b := map[string]any{"roleArn": f.role}
	if f.sessionPolicy != "" {
		doc := []byte(f.sessionPolicy)
		if name, ok := strings.CutPrefix(f.sessionPolicy, "@"); ok {
			var err error
			if doc, err = readFile(name); err != nil {
				return usagef("--session-policy: %v", err)
			}
		}
		if !json.Valid(doc) {
			return usagef("--session-policy is not JSON")
		}
		b["sessionPolicy"] = json.RawMessage(doc)
	}
	if len(f.managed) > 0 {
		b["managedPolicyArns"] = f.managed
	}
	if c.Flags().Changed("max-session-minutes") {
		b["maxSessionMinutes"] = f.maxSession
	}
	body["aws"] = b
	return nil
}
