package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// A group's members are its item's "members" set (what every read uses and
// the audit records) and, once the group has a generation, one member item
// per principal, MEMBERS#<group>/<gen>#<principal>, which is what a decision
// condition-checks (approverChecks). Every change keeps the two in step:
//
//   - creating a group writes its member items in the transaction that puts
//     the group item, or, when they do not fit beside it (a group has up to
//     500 members, a transaction at most 100 items), ahead of it: items
//     written ahead of a group item that then fails to commit name a
//     generation no group item carries, so nothing ever checks them;
//   - adding or removing a member is one transaction: the group item's set,
//     conditioned on its generation being the one read, and the member item
//     put or deleted;
//   - a group written before member items existed (a table from v1.1) has
//     no generation, and decisions keep checking its members set on the
//     group item; its next membership change gives it one: the member items
//     of the new membership under a fresh generation, then (in the same
//     transaction when they fit) the change itself with SET gen, conditioned
//     on the group item being unchanged since it was read. Adding an
//     existing member (idempotent) migrates a group without changing it;
//   - deleting a group leaves its member items unreachable (a group created
//     again under the name gets a new generation) and then deletes them.
//
// So a member item exists only for a principal in the members set of the
// group item of its generation, except items no group item names; and a
// member item missing refuses the decision (fail closed), never grants one.

// maxTxItems is DynamoDB's limit on the items of one transaction.
const maxTxItems = 100

// maxMemberAttempts bounds a membership change's re-reads when another
// change of the same group lands between its read and its commit.
const maxMemberAttempts = 3

// errGroupMoved: the group item changed between a membership change's read
// and its commit; the change reads again.
var errGroupMoved = errors.New("dynamo: group changed since read")

// memberItem is one principal's membership of one incarnation of a group.
// It carries no stamps: the group item's change is the audited one.
type memberItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Kind      string `dynamodbav:"kind"`
	Principal string `dynamodbav:"principal"`
}

// newGen names a new incarnation of a group.
func newGen() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (s *Store) memberPut(group, gen, principal string) (types.TransactWriteItem, error) {
	k := memberKey(group, gen, principal)
	item, err := marshal(memberItem{PK: k.pk, SK: k.sk, Kind: KindMember, Principal: principal})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return s.put(item, "", nil, nil), nil
}

// withMembers adds to t the member items of members under gen when they fit
// beside what t holds, else writes them first, maxTxItems per transaction.
// It reports whether it wrote any ahead of t.
func (s *Store) withMembers(ctx context.Context, op string, t *tx, group, gen string, members []string) (bool, error) {
	puts := make([]types.TransactWriteItem, 0, len(members))
	for _, p := range members {
		w, err := s.memberPut(group, gen, p)
		if err != nil {
			return false, err
		}
		puts = append(puts, w)
	}
	if t.len()+len(puts) <= maxTxItems {
		for _, w := range puts {
			t.add(w, faultIfLost)
		}
		return false, nil
	}
	return true, s.commitChunked(ctx, op+": member items", puts)
}

// memberChange adds principal to group (add) or removes it, with its member
// item, in one transaction; see above for a group without a generation.
func (s *Store) memberChange(ctx context.Context, op, group, principal string, add bool, ev app.Event) error {
	for range maxMemberAttempts {
		err := s.memberChangeOnce(ctx, op, group, principal, add, ev)
		if !errors.Is(err, errGroupMoved) {
			return err
		}
	}
	return elevate.ErrConcurrentUpdate
}

func (s *Store) memberChangeOnce(ctx context.Context, op, group, principal string, add bool, ev app.Event) error {
	item, err := s.getItem(ctx, op+": read", groupKey(group))
	if err != nil {
		return err
	}
	if item == nil {
		return elevate.ErrGroupNotFound
	}
	var it groupItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return unavailable(op+": decode", err)
	}
	had := slices.Contains(it.Members, principal)
	if !add && !had {
		return elevate.ErrMemberNotFound
	}
	expr := "DELETE #m :p SET #u = :now, #by = :by, #cid = :cid"
	cond := "attribute_exists(PK) AND contains(#m, :one)"
	if add {
		expr, cond = "ADD #m :p SET #u = :now, #by = :by, #cid = :cid", "attribute_exists(PK)"
	}
	names := map[string]string{"#m": attrMembers, "#u": attrUpdatedAt, "#by": attrUpdatedBy, "#cid": attrChangeID, "#gen": attrGen}
	values := map[string]types.AttributeValue{":p": strSet(principal), ":now": str(formatTime(ev.Time)), ":by": str(ev.Actor), ":cid": str(ev.ID)}
	if !add {
		values[":one"] = str(principal)
	}
	moved := orMissing(elevate.ErrGroupNotFound, errGroupMoved)
	t := new(tx)
	if it.Gen != "" {
		values[":gen"] = str(it.Gen)
		t.add(s.update(groupKey(group), expr, cond+" AND #gen = :gen", names, values), moved)
		if add {
			w, err := s.memberPut(group, it.Gen, principal)
			if err != nil {
				return err
			}
			t.add(w, faultIfLost)
		} else {
			t.add(s.del(memberKey(group, it.Gen, principal), "", nil, nil), faultIfLost)
		}
		return s.commit(ctx, op, t)
	}
	// No generation yet: this change gives the group its member items.
	gen, err := newGen()
	if err != nil {
		return err
	}
	values[":gen"] = str(gen)
	cond += " AND attribute_not_exists(#gen)"
	if it.ChangeID != "" {
		cond += " AND #cid = :cid0"
		values[":cid0"] = str(it.ChangeID)
	} else {
		cond += " AND attribute_not_exists(#cid)"
	}
	after := slices.DeleteFunc(slices.Clone(it.Members), func(m string) bool { return m == principal })
	if add {
		after = append(after, principal)
	}
	t.add(s.update(groupKey(group), expr+", #gen = :gen", cond, names, values), moved)
	if _, err := s.withMembers(ctx, op, t, group, gen, after); err != nil {
		return err
	}
	return s.commit(ctx, op, t)
}

// dropMembers deletes the member items of one incarnation of group, which
// nothing reaches any more (best effort: they are unreachable either way).
func (s *Store) dropMembers(ctx context.Context, group, gen string) error {
	keys, err := s.keysUnder(ctx, "drop member items", memberKey(group, gen, "").pk, memberSortPrefix(gen))
	if err != nil {
		return err
	}
	dels := make([]types.TransactWriteItem, 0, len(keys))
	for _, k := range keys {
		dels = append(dels, s.del(k, "", nil, nil))
	}
	return s.commitChunked(ctx, "drop member items", dels)
}

// commitChunked commits writes, which need not be atomic together,
// maxTxItems per transaction.
func (s *Store) commitChunked(ctx context.Context, op string, writes []types.TransactWriteItem) error {
	for start := 0; start < len(writes); start += maxTxItems {
		t := new(tx)
		for _, w := range writes[start:min(start+maxTxItems, len(writes))] {
			t.add(w, faultIfLost)
		}
		if err := s.commit(ctx, op, t); err != nil {
			return err
		}
	}
	return nil
}

// keysUnder reads, strongly consistently, the keys of the items of
// partition pk whose sort key begins with skPrefix.
func (s *Store) keysUnder(ctx context.Context, op, pk, skPrefix string) ([]key, error) {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":prefix": str(skPrefix)},
		ProjectionExpression:      aws.String("PK, SK")})
	var keys []key
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, unavailable(op, err)
		}
		for _, item := range out.Items {
			pk, _ := item["PK"].(*types.AttributeValueMemberS)
			sk, _ := item["SK"].(*types.AttributeValueMemberS)
			if pk != nil && sk != nil {
				keys = append(keys, key{pk.Value, sk.Value})
			}
		}
	}
	return keys, nil
}
