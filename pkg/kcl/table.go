package kcl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/weatherd/weatherd/pkg/ddbtable"
	fenced "github.com/weatherd/weatherd/pkg/lease"
	"github.com/weatherd/weatherd/pkg/stream"
)

// DynamoDBAPI is the part of the DynamoDB client the lease table uses.
type DynamoDBAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// ErrTableSchema is returned when the lease table exists with another key.
var ErrTableSchema = ddbtable.ErrSchema

// leaseTable is the lease table: every write that changes or depends on
// ownership is conditional, so the table is the only truth.
type leaseTable struct {
	ddb   DynamoDBAPI
	name  string
	calls func(op string) // counts DynamoDB calls by op
}

// EnsureTable creates the lease table name (key ShardID, on-demand billing)
// when it does not exist and waits until it is ACTIVE. An existing table,
// for example one created by vmware-go-kcl-v2, is used as it is after its key
// schema is checked.
func EnsureTable(ctx context.Context, ddb DynamoDBAPI, name string) error {
	t := &leaseTable{ddb: ddb, name: name, calls: func(string) {}}
	return t.ensure(ctx)
}

// items writes the table's items; a refused write returns fenced.ErrLost.
func (t *leaseTable) items() fenced.Table {
	return fenced.Table{DB: t.ddb, Name: t.name, Attrs: leaseAttrs}
}

func (t *leaseTable) ensure(ctx context.Context) error {
	return ddbtable.Ensure(ctx, countingTableAPI{t}, ddbtable.Table{Kind: "lease table", Name: t.name, Hash: attrShardID})
}

// countingTableAPI counts the table calls Ensure makes, for the coordination
// metrics.
type countingTableAPI struct{ t *leaseTable }

func (c countingTableAPI) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	c.t.calls("describe_table")
	return c.t.ddb.DescribeTable(ctx, in, opts...)
}

func (c countingTableAPI) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	c.t.calls("create_table")
	return c.t.ddb.CreateTable(ctx, in, opts...)
}

// scan reads the whole table with strongly consistent reads.
func (t *leaseTable) scan(ctx context.Context) ([]lease, error) {
	var out []lease
	in := &dynamodb.ScanInput{TableName: &t.name, ConsistentRead: aws.Bool(true)}
	for {
		t.calls("scan")
		page, err := t.ddb.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("scan lease table %q: %w", t.name, err)
		}
		for _, item := range page.Items {
			out = append(out, leaseFromItem(item))
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// create adds a free lease for a shard unless one exists.
func (t *leaseTable) create(ctx context.Context, s shardInfo) error {
	item := map[string]types.AttributeValue{attrShardID: str(s.ID)}
	if len(s.Parents) > 0 {
		item[attrParent] = str(s.Parents[0])
	}
	if len(s.Parents) > 1 {
		item[attrAdjacentParent] = str(s.Parents[1])
	}
	t.calls("create_lease")
	_, err := t.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &t.name,
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": attrShardID},
	})
	if err := fenced.Refused(err); err != nil && !errors.Is(err, fenced.ErrLost) {
		return fmt.Errorf("create lease %s: %w", s.ID, err)
	}
	return nil
}

// take makes me the owner of old, provided it is exactly as read (owner,
// timeout and counter unchanged). It returns the item as written.
func (t *leaseTable) take(ctx context.Context, old lease, me string, d time.Duration) (lease, error) {
	u := t.items().NewUpdate()
	u.Remove(attrClaimRequest)
	t.calls("take")
	item, err := t.items().Take(ctx, old.ShardID, old.record(), me, d, u)
	if err != nil {
		return lease{}, fmt.Errorf("take lease %s: %w", old.ShardID, err)
	}
	return leaseFromItem(item), nil
}

// renew extends me's lease at counter and returns the item as written (its
// ClaimRequest tells the owner that another worker asks for the shard).
func (t *leaseTable) renew(ctx context.Context, shardID, me string, counter int64, d time.Duration) (lease, error) {
	t.calls("renew")
	item, err := t.items().Renew(ctx, shardID, me, counter, d, nil)
	if err != nil {
		return lease{}, fmt.Errorf("renew lease %s: %w", shardID, err)
	}
	return leaseFromItem(item), nil
}

// checkpoint writes seq as the shard's checkpoint, fenced on me still owning
// the lease at counter. With withState it writes state beside it in the same
// write (an empty state removes the attribute); without, any state saved
// earlier is kept: it describes an earlier position, which stays true.
func (t *leaseTable) checkpoint(ctx context.Context, shardID, me string, counter int64, seq string, state []byte, withState bool) error {
	u := t.items().NewUpdate()
	u.Set(attrCheckpoint, str(seq))
	switch {
	case withState && len(state) > 0:
		packed, err := fenced.PackBlob(state)
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", shardID, err)
		}
		u.Set(attrState, &types.AttributeValueMemberB{Value: packed})
	case withState:
		u.Remove(attrState)
	}
	u.Owned(me, counter)
	t.calls("checkpoint")
	if _, err := t.items().Write(ctx, shardID, u); err != nil {
		return fmt.Errorf("checkpoint %s: %w", shardID, err)
	}
	return nil
}

// release frees me's lease so another worker takes it at once. With
// shardEnd it also writes the SHARD_END checkpoint in the same write.
func (t *leaseTable) release(ctx context.Context, shardID, me string, counter int64, shardEnd bool) error {
	u := t.items().NewUpdate()
	if shardEnd {
		u.Set(attrCheckpoint, str(stream.ShardEnd))
	}
	u.Remove(attrClaimRequest)
	t.calls("release")
	if err := t.items().Release(ctx, shardID, me, counter, u); err != nil {
		return fmt.Errorf("release lease %s: %w", shardID, err)
	}
	return nil
}

// handOver gives me's lease to the worker that claimed it.
func (t *leaseTable) handOver(ctx context.Context, shardID, me string, counter int64, to string, d time.Duration) error {
	u := t.items().NewUpdate()
	u.Set(attrAssignedTo, str(to))
	u.Set(attrLeaseTimeout, str(fenced.Timeout(time.Now(), d)))
	u.Set(attrLeaseCounter, num(counter+1))
	u.Remove(attrClaimRequest)
	u.Owned(me, counter)
	u.Cond(attrClaimRequest, "=", str(to))
	t.calls("handover")
	if _, err := t.items().Write(ctx, shardID, u); err != nil {
		return fmt.Errorf("hand lease %s over to %s: %w", shardID, to, err)
	}
	return nil
}

// claim asks owner to hand the lease over to me. It does not touch the
// owner's version, so the owner keeps renewing while it winds the shard down.
func (t *leaseTable) claim(ctx context.Context, shardID, owner, me string) error {
	u := t.items().NewUpdate()
	u.Set(attrClaimRequest, str(me))
	u.OwnedBy(owner)
	u.Absent(attrClaimRequest)
	t.calls("claim")
	if _, err := t.items().Write(ctx, shardID, u); err != nil {
		return fmt.Errorf("claim lease %s from %s: %w", shardID, owner, err)
	}
	return nil
}

// unclaim withdraws me's claim.
func (t *leaseTable) unclaim(ctx context.Context, shardID, me string) error {
	u := t.items().NewUpdate()
	u.Remove(attrClaimRequest)
	u.Cond(attrClaimRequest, "=", str(me))
	t.calls("unclaim")
	if _, err := t.items().Write(ctx, shardID, u); err != nil && !errors.Is(err, fenced.ErrLost) {
		return fmt.Errorf("withdraw claim on %s: %w", shardID, err)
	}
	return nil
}

// deleteFinished deletes the lease of shardID provided it exists and is
// checkpointed SHARD_END. It reports false, with no error, when the
// condition fails: another worker deleted it first (or, which cannot happen
// to a finished lease, it changed).
func (t *leaseTable) deleteFinished(ctx context.Context, shardID string) (bool, error) {
	u := t.items().NewUpdate()
	u.Cond(attrCheckpoint, "=", str(stream.ShardEnd))
	return t.delete(ctx, shardID, u)
}

// deleteOrphan deletes the lease of an unfinished shard gone from the stream
// provided it is exactly as read (owner, timeout, counter and checkpoint):
// nobody took, renewed or checkpointed it since. It reports false, with no
// error, when it had changed or another worker deleted it first.
func (t *leaseTable) deleteOrphan(ctx context.Context, l lease) (bool, error) {
	u := t.items().NewUpdate()
	u.Unchanged(l.record())
	u.EqOrAbsent(attrCheckpoint, l.Checkpoint)
	return t.delete(ctx, l.ShardID, u)
}

func (t *leaseTable) delete(ctx context.Context, shardID string, u *fenced.Update) (bool, error) {
	t.calls("delete_lease")
	_, err := t.ddb.DeleteItem(ctx, u.DeleteInput(t.name, shardID))
	switch err := fenced.Refused(err); {
	case err == nil:
		return true, nil
	case errors.Is(err, fenced.ErrLost):
		return false, nil
	default:
		return false, fmt.Errorf("delete lease %s: %w", shardID, err)
	}
}

// str and num build attribute values.
var str, num = ddbtable.S, ddbtable.N
