package dynamo

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// Listing bounds: each page reads at most maxQueriesPerPage DynamoDB pages of
// queryPageSize items, so a sparse filter costs bounded latency (the caller
// then gets fewer items and a next token).
const (
	defaultLimit      = 50
	maxLimit          = 100
	queryPageSize     = 100
	maxQueriesPerPage = 10
	maxGroupsInFilter = 90 // IN accepts up to 100 operands
)

var errBadToken = elevate.Invalid("next is not a valid page token for this query")

type listPlan struct {
	index, pkAttr, skAttr, partition string
}

func planFor(q app.RequestQuery) (listPlan, error) {
	switch q.Index {
	case app.AllRequests:
		if q.Status == elevate.StatusPending || q.Status == elevate.StatusExpired {
			// Only Pending requests are in this index (an Expired one is
			// stored as Pending); the status filter still applies.
			return listPlan{indexPending, "GSI4PK", "GSI4SK", pkPending}, nil
		}
		return listPlan{indexAll, "GSI3PK", "GSI3SK", pkRequests}, nil
	case app.ByRequester:
		if q.Requester == "" {
			return listPlan{}, elevate.Invalid("requester is required")
		}
		return listPlan{indexByRequester, "GSI1PK", "GSI1SK", requesterPartition(q.Requester)}, nil
	case app.ByApproverGroup:
		if q.Group == "" {
			return listPlan{}, elevate.Invalid("group is required")
		}
		return listPlan{indexByApprovers, "GSI2PK", "GSI2SK", approversPartition(q.Group)}, nil
	}
	return listPlan{}, elevate.Invalid("unknown listing")
}

// ListRequests lists newest first. Status, type and visibility are filters;
// Pending and Expired are told apart by expiresEpochMs against q.Now.
func (s *Store) ListRequests(ctx context.Context, q app.RequestQuery) (app.RequestPage, error) {
	plan, err := planFor(q)
	if err != nil {
		return app.RequestPage{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	fp := fingerprint(plan, q)
	var start map[string]types.AttributeValue
	if q.Next != "" {
		if start, err = s.decodeToken(ctx, q.Next, fp, plan); err != nil {
			return app.RequestPage{}, err
		}
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(plan.index), ScanIndexForward: aws.Bool(false),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": plan.pkAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(plan.partition)},
		Limit:                     aws.Int32(queryPageSize),
	}
	if err := addFilters(in, q); err != nil {
		return app.RequestPage{}, err
	}

	var items []map[string]types.AttributeValue
	var last map[string]types.AttributeValue
	for i := 0; i < maxQueriesPerPage; i++ {
		in.ExclusiveStartKey = start
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return app.RequestPage{}, unavailable("list requests", err)
		}
		items = append(items, out.Items...)
		last = out.LastEvaluatedKey
		if len(items) >= limit || len(last) == 0 {
			break
		}
		start = last
	}
	page := app.RequestPage{Items: make([]elevate.Request, 0, min(len(items), limit))}
	if len(items) > limit {
		// Resume right after the last item returned, not after the last
		// item DynamoDB evaluated.
		items = items[:limit]
		last = resumeKey(items[limit-1], plan)
	}
	for _, it := range items {
		r, err := decodeAs[requestItem]("decode request", it)
		if err != nil {
			return app.RequestPage{}, err
		}
		page.Items = append(page.Items, r)
	}
	if len(last) > 0 {
		if page.Next, err = s.encodeToken(ctx, last, fp); err != nil {
			return app.RequestPage{}, err
		}
	}
	return page, nil
}

func addFilters(in *dynamodb.QueryInput, q app.RequestQuery) error {
	var parts []string
	names, values := in.ExpressionAttributeNames, in.ExpressionAttributeValues
	switch q.Status {
	case "":
	case elevate.StatusPending, elevate.StatusExpired:
		names["#s"], names["#e"] = attrStatus, attrExpiresMs
		values[":pending"], values[":now"] = str(string(elevate.StatusPending)), num(epochMs(q.Now))
		if q.Status == elevate.StatusPending {
			parts = append(parts, "#s = :pending AND #e > :now")
		} else {
			parts = append(parts, "#s = :pending AND #e <= :now")
		}
	case elevate.StatusApproved, elevate.StatusRevoked:
		parts = append(parts, grantStatusFilter(q, names, values))
	case elevate.StatusDenied, elevate.StatusCancelled:
		names["#s"] = attrStatus
		values[":status"] = str(string(q.Status))
		parts = append(parts, "#s = :status")
	default:
		return elevate.Invalid("unknown status")
	}
	bg, err := breakGlassFilter(q, names, values)
	if err != nil {
		return err
	}
	parts = append(parts, bg...)
	if q.Type != "" {
		names["#t"] = attrType
		values[":type"] = str(string(q.Type))
		parts = append(parts, "#t = :type")
	}
	if q.Ticket != "" {
		names["#tk"] = attrTicket
		values[":ticket"] = str(q.Ticket)
		parts = append(parts, "#tk = :ticket")
	}
	if v := q.VisibleTo; v != nil {
		names["#rq"] = attrRequester
		values[":me"] = str(v.Principal)
		vis := "#rq = :me"
		if len(v.Groups) > maxGroupsInFilter {
			return elevate.Invalid("too many approver groups to list requests for")
		}
		if len(v.Groups) > 0 {
			names["#g"] = attrGroup
			ops := make([]string, len(v.Groups))
			for i, g := range v.Groups {
				ops[i] = ":g" + strconv.Itoa(i)
				values[ops[i]] = str(g)
			}
			vis = "(" + vis + " OR #g IN (" + strings.Join(ops, ", ") + "))"
		}
		parts = append(parts, vis)
	}
	if len(parts) > 0 {
		in.FilterExpression = aws.String(strings.Join(parts, " AND "))
	}
	return nil
}

// resumeKey is the ExclusiveStartKey that resumes a GSI query after item:
// the table's key plus the index's key.
func resumeKey(item map[string]types.AttributeValue, plan listPlan) map[string]types.AttributeValue {
	k := map[string]types.AttributeValue{}
	for _, a := range []string{tabledef.PartitionKey, tabledef.SortKey, plan.pkAttr, plan.skAttr} {
		k[a] = item[a]
	}
	return k
}

// fingerprint binds a token to the query that produced it, so a token can't
// be replayed against another partition, filter or visibility.
func fingerprint(plan listPlan, q app.RequestQuery) string {
	var b strings.Builder
	b.WriteString(plan.index + "\x00" + plan.partition + "\x00" + string(q.Status) + "\x00" + string(q.Type))
	if q.Ticket != "" {
		b.WriteString("\x00ticket\x00" + q.Ticket)
	}
	if q.BreakGlass != nil {
		b.WriteString("\x00bg\x00" + strconv.FormatBool(*q.BreakGlass))
	}
	if q.Ratification != "" {
		b.WriteString("\x00rat\x00" + string(q.Ratification))
	}
	if v := q.VisibleTo; v != nil {
		groups := slices.Clone(v.Groups)
		slices.Sort(groups)
		b.WriteString("\x00vis\x00" + v.Principal + "\x00" + strings.Join(groups, "\x00"))
	}
	return b.String()
}

var errNonStringKey = errors.New("key attribute is not a string")
