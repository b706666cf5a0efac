package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// CreateExtension writes a new extension and its original in one
// transaction. The original is conditioned on its stored version and on its
// grant still running, so of concurrent extensions exactly one commits and
// an extension never attaches to a revoked or ended grant. An automatic
// extension moves the grant slot's end in the same transaction.
func (s *Store) CreateExtension(ctx context.Context, ext elevate.Request, orig app.Change, now time.Time) error {
	if ext.ID == "" || len(ext.ID) > maxIDLen || ext.Extends != orig.Next.ID {
		return fmt.Errorf("dynamo: create extension: extension %q does not extend %q", ext.ID, orig.Next.ID)
	}
	item, err := marshal(toRequestItem(ext))
	if err != nil {
		return err
	}
	origPut, err := s.linkedPut(orig, now)
	if err != nil {
		return err
	}
	var t tx
	t.add(s.put(item, "attribute_not_exists(PK)", nil, nil), is(elevate.ErrConcurrentUpdate))
	t.add(origPut, is(elevate.ErrConcurrentUpdate))
	if ext.Status == elevate.StatusApproved {
		t.add(s.grantSlotUpdate(orig.Next), is(elevate.ErrConcurrentUpdate))
	}
	// The extension holds its approver group like any request; the
	// original's hold stands, and its grant's new end is read from the
	// original itself (see groupuse.go).
	if ext.ApproverGroup != "" {
		if err := s.groupUse(&t, ext, now); err != nil {
			return err
		}
	}
	return s.commit(ctx, "create extension", &t)
}

// SaveLinkedDecision is SaveDecision plus a second request written in the
// same transaction: the original whose grant an approved extension moves
// (and its slot), or the pending extension that a revocation of its
// original ends. A lost condition on the second request is a concurrent
// update: the service re-reads and re-judges.
func (s *Store) SaveLinkedDecision(ctx context.Context, prev, next elevate.Request, linked app.Change, read elevate.Group, linkID string, now time.Time) error {
	t, err := s.decision(prev, next, read, now)
	if err != nil {
		return err
	}
	put, err := s.linkedPut(linked, now)
	if err != nil {
		return err
	}
	t.add(put, is(elevate.ErrConcurrentUpdate))
	if next.Extends == linked.Next.ID && next.Status == elevate.StatusApproved {
		t.add(s.grantSlotUpdate(linked.Next), is(elevate.ErrConcurrentUpdate))
	}
	return s.commitDecision(ctx, t, linkID, now)
}

// linkedPut writes c.Next if the stored request is still c.Prev: same
// version, and still in the state the change was judged on (an original's
// grant Approved and not ended; an extension still Pending and unexpired).
func (s *Store) linkedPut(c app.Change, now time.Time) (types.TransactWriteItem, error) {
	if c.Prev.ID != c.Next.ID || c.Next.Version <= c.Prev.Version {
		return types.TransactWriteItem{}, fmt.Errorf("dynamo: linked write of %q carries no change", c.Prev.ID)
	}
	item, err := marshal(toRequestItem(carrySlotLog(c.Prev, c.Next)))
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	status := elevate.StatusApproved
	if c.Prev.Status == elevate.StatusPending {
		status = elevate.StatusPending
	}
	return s.put(item, "#v = :prev AND #s = :status AND #e > :now",
		map[string]string{"#v": attrVersion, "#s": attrStatus, "#e": attrExpiresMs},
		map[string]types.AttributeValue{":prev": num(int64(c.Prev.Version)), ":status": str(string(status)), ":now": num(epochMs(now))}), nil
}
