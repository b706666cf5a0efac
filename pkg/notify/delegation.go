package notify

import (
	"context"
	"fmt"
	"slices"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// delegates are who stand in now for the request's approvers (F17): the
// holders of delegations live at this moment from those members, covering
// the request's group, other than the requester and the members themselves
// (who have their own email). onBehalfOf names, per delegate, the members.
func (d Deps) delegates(ctx context.Context, r elevate.Request, members []string) ([]string, map[string][]string, error) {
	all, err := d.Store.ListDelegations(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read delegations: %w", err)
	}
	now := d.Clock()
	var out []string
	onBehalfOf := map[string][]string{}
	for _, dl := range all {
		if !slices.Contains(members, dl.Principal) || !dl.LiveAt(now) || !dl.Covers(r.ApproverGroup) ||
			dl.Delegate == r.Requester || slices.Contains(members, dl.Delegate) {
			continue
		}
		if _, seen := onBehalfOf[dl.Delegate]; !seen {
			out = append(out, dl.Delegate)
		}
		onBehalfOf[dl.Delegate] = append(onBehalfOf[dl.Delegate], dl.Principal)
	}
	return out, onBehalfOf, nil
}
