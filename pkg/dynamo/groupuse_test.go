package dynamo_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// The group-use protocol (groupuse.go), each interleaving of a request and a
// group delete forced at the step where it matters: in every one, either the
// request is refused and the group deleted, or the request is created and
// the delete refused; never both created and deleted.

func groupUseRequest(e *env, id string) elevate.Request {
	now := e.clock.Now()
	return elevate.Request{ID: id, Type: elevate.TypeTask, Scope: "Exchange", Name: "Move", Reason: "r", DurationHours: 1,
		Requester: id + "@example.com", Status: elevate.StatusPending, ApprovalType: elevate.ApprovalManual, ApproverGroup: "sec",
		RequiredApprovals: 1, Decisions: []elevate.Decision{}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Version: 1}
}

// deleter is a second store on the same table, so its steps have their own
// hook.
func deleter(e *env) *dynamo.Store { return dynamo.New(e.client, e.table, pageKey) }

// onceAt runs f the first time the store reaches step.
func onceAt(s *dynamo.Store, step string, f func()) {
	var once sync.Once
	s.OnGroupUse(func(got string) {
		if got == step {
			once.Do(f)
		}
	})
}

func (e *env) groupExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := e.store.GetGroup(ctx, name)
	if err != nil && err != elevate.ErrGroupNotFound {
		t.Fatal(err)
	}
	return err == nil
}

func (e *env) requestExists(t *testing.T, id string) bool {
	t.Helper()
	_, err := e.store.GetRequest(ctx, id)
	if err != nil && err != elevate.ErrRequestNotFound {
		t.Fatal(err)
	}
	return err == nil
}

// A delete that runs entirely between a request's read (of the policy and
// so of its group) and its commit: the request's transaction finds its gate
// a tombstone.
func TestGroupDeleteBetweenReadAndCommit(t *testing.T) {
	e := newEnv(t)
	e.group(t, "sec", "bob@example.com")
	var deleted error
	onceAt(e.store, dynamo.StepCommit, func() { deleted = deleter(e).DeleteGroup(ctx, "sec", ev("group.deleted")) })
	created := e.store.CreateRequest(ctx, groupUseRequest(e, "r1"))
	if deleted != nil {
		t.Fatalf("delete: %v", deleted)
	}
	wantErr(t, created, elevate.ErrUnknownGroup)
	if e.requestExists(t, "r1") || e.groupExists(t, "sec") {
		t.Fatal("a request was created for a deleted group")
	}
}

// A request made while a delete has the gates closed is refused (retry),
// and the delete goes through.
func TestRequestWhileGroupDeleteHoldsTheGates(t *testing.T) {
	e := newEnv(t)
	e.group(t, "sec", "bob@example.com")
	d := deleter(e)
	var created error
	onceAt(d, dynamo.StepLocked, func() { created = e.store.CreateRequest(ctx, groupUseRequest(e, "r1")) })
	if err := d.DeleteGroup(ctx, "sec", ev("group.deleted")); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantErr(t, created, elevate.ErrConcurrentUpdate)
	if e.requestExists(t, "r1") || e.groupExists(t, "sec") {
		t.Fatal("request or group left")
	}
}

// A request that commits just before the delete closes the gates: the
// delete's read of the holds finds it pending and refuses; the refused
// delete reopens the gates.
func TestRequestCommittingJustBeforeTheGatesClose(t *testing.T) {
	e := newEnv(t)
	e.group(t, "sec", "bob@example.com")
	d := deleter(e)
	var created error
	onceAt(d, dynamo.StepClosing, func() { created = e.store.CreateRequest(ctx, groupUseRequest(e, "r1")) })
	wantErr(t, d.DeleteGroup(ctx, "sec", ev("group.deleted")), elevate.ErrGroupInUse)
	if created != nil {
		t.Fatalf("create: %v", created)
	}
	if !e.groupExists(t, "sec") {
		t.Fatal("group deleted while a pending request names it")
	}
	for i := range 8 { // whichever gate they pick
		if err := e.store.CreateRequest(ctx, groupUseRequest(e, fmt.Sprintf("r2-%d", i))); err != nil {
			t.Fatalf("request after a refused delete: %v", err)
		}
	}
}

// A group deleted and created again under the same name takes requests
// again: the new group clears the old one's tombstones.
func TestGroupRecreatedAfterDeleteTakesRequests(t *testing.T) {
	e := newEnv(t)
	e.group(t, "sec", "bob@example.com")
	if err := e.store.DeleteGroup(ctx, "sec", ev("group.deleted")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.store.CreateRequest(ctx, groupUseRequest(e, "r0")), elevate.ErrUnknownGroup)
	e.group(t, "sec", "carol@example.com")
	for i := range 8 {
		if err := e.store.CreateRequest(ctx, groupUseRequest(e, fmt.Sprintf("r%d", i+1))); err != nil {
			t.Fatalf("request for the recreated group: %v", err)
		}
	}
}

// Many requests and deletes at once, on the real interleavings DynamoDB
// Local gives: afterwards either the group exists, or no request named it.
func TestGroupDeletesRacingManyRequests(t *testing.T) {
	for round := range 4 {
		e := newEnv(t)
		e.group(t, "sec", "bob@example.com")
		var wg sync.WaitGroup
		start := make(chan struct{})
		var mu sync.Mutex
		var ok []string
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := groupUseRequest(e, fmt.Sprintf("r%d-%d", round, i))
				if err := e.store.CreateRequest(ctx, r); err == nil {
					mu.Lock()
					ok = append(ok, r.ID)
					mu.Unlock()
				}
			}()
		}
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range 3 {
					if deleter(e).DeleteGroup(ctx, "sec", ev("group.deleted")) == nil {
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if !e.groupExists(t, "sec") && len(ok) > 0 {
			t.Fatalf("round %d: group deleted while %d requests name it: %v", round, len(ok), ok)
		}
	}
}

// No request writes (or condition-checks in a transaction) an item that
// every other request for the same group writes (issue 17 item 12): of 8
// requests for one group, none shares an item with all the others, and they
// spread over several gates.
func TestNoItemIsTouchedByEveryRequestForAGroup(t *testing.T) {
	e := newEnv(t)
	e.group(t, "sec", "bob@example.com")
	var mu sync.Mutex
	var current map[string]bool
	capture := func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("capture", func(c context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				mu.Lock()
				for _, k := range writtenKeys(in.Parameters) {
					current[k] = true
				}
				mu.Unlock()
				return next.HandleInitialize(c, in)
			}), middleware.After)
		})
	}
	st := dynamo.New(dynamodb.New(e.client.Options(), capture), e.table, pageKey)
	count := map[string]int{}
	const n = 8
	for i := range n {
		current = map[string]bool{}
		if err := st.CreateRequest(ctx, groupUseRequest(e, fmt.Sprintf("r%d", i))); err != nil {
			t.Fatal(err)
		}
		if len(current) == 0 {
			t.Fatal("nothing captured")
		}
		for k := range current {
			count[k]++
		}
	}
	gates := 0
	for k, c := range count {
		if c == n {
			t.Errorf("every request touches %s", k)
		}
		if strings.Contains(k, "#GATE#") {
			gates++
		}
	}
	if gates < 2 {
		t.Errorf("%d requests on %d gate(s): %v", n, gates, count)
	}
}

// writtenKeys are the keys a call writes or condition-checks.
func writtenKeys(params any) []string {
	key := func(m map[string]types.AttributeValue) string {
		s := func(v types.AttributeValue) string {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				return sv.Value
			}
			return "?"
		}
		return s(m["PK"]) + "/" + s(m["SK"])
	}
	var out []string
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		out = append(out, key(in.Item))
	case *dynamodb.UpdateItemInput:
		out = append(out, key(in.Key))
	case *dynamodb.DeleteItemInput:
		out = append(out, key(in.Key))
	case *dynamodb.TransactWriteItemsInput:
		for _, w := range in.TransactItems {
			switch {
			case w.Put != nil:
				out = append(out, key(w.Put.Item))
			case w.Update != nil:
				out = append(out, key(w.Update.Key))
			case w.Delete != nil:
				out = append(out, key(w.Delete.Key))
			case w.ConditionCheck != nil:
				out = append(out, key(w.ConditionCheck.Key))
			}
		}
	}
	return out
}
