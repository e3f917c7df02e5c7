package leader

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/weatherd/weatherd/pkg/ddbtable"
	"github.com/weatherd/weatherd/pkg/lease"
)

// Leader table attribute names: one item per leadership, keyed by its name.
const (
	attrKey          = "LeaseKey"
	attrOwner        = "Owner"
	attrCounter      = "Counter"
	attrLeaseTimeout = "LeaseTimeout"
	// attrState holds what the leader keeps for its successor (the poller's
	// newest observation per location), gzipped (lease.PackBlob).
	attrState = "State"
)

// DynamoDBAPI is the part of the DynamoDB client the leader table uses.
type DynamoDBAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// ErrTableSchema is returned when the leader table exists with another key.
var ErrTableSchema = ddbtable.ErrSchema

// EnsureTable creates the leader table name (hash key LeaseKey, string;
// on-demand billing) when it does not exist and waits until it is ACTIVE. An
// existing table is used as it is once its key schema is checked.
func EnsureTable(ctx context.Context, ddb DynamoDBAPI, name string) error {
	return ddbtable.Ensure(ctx, ddb, ddbtable.Table{Kind: "leader table", Name: name, Hash: attrKey})
}

type record struct {
	exists  bool
	owner   string // "" when released
	counter int64
}

// version changes with every write to the item's ownership.
func (r record) version() string { return fmt.Sprintf("%t|%s|%d", r.exists, r.owner, r.counter) }

// table reads and writes one leadership item; every write is conditional on
// the state it expects, so the table is the only truth.
type table struct {
	ddb  DynamoDBAPI
	name string // table
	key  string // leadership name
}

// items writes the leadership items; a refused write returns lease.ErrLost.
func (t *table) items() lease.Table {
	return lease.Table{
		DB: t.ddb, Name: t.name, NoItem: true, // the item's State is not needed back
		Attrs: lease.Attrs{Key: attrKey, Owner: attrOwner, Counter: attrCounter, Timeout: attrLeaseTimeout},
	}
}

func (t *table) itemKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: str(t.key)}
}

// read returns the item with a strongly consistent read.
func (t *table) read(ctx context.Context) (record, error) {
	out, err := t.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &t.name,
		Key:            t.itemKey(),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return record{}, fmt.Errorf("read leader item %q: %w", t.key, err)
	}
	if out.Item == nil {
		return record{}, nil
	}
	r := record{exists: true}
	if v, ok := out.Item[attrOwner].(*types.AttributeValueMemberS); ok {
		r.owner = v.Value
	}
	if v, ok := out.Item[attrCounter].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return record{}, fmt.Errorf("read leader item %q: Counter %q: %w", t.key, v.Value, err)
		}
		r.counter = n
	}
	return r, nil
}

// take makes me the owner, provided the item is still exactly old: absent,
// released at old.counter, or owned by old.owner at old.counter. It returns
// the new counter.
func (t *table) take(ctx context.Context, old record, me string, d time.Duration) (int64, error) {
	rec := lease.Record{Exists: old.exists, Owner: old.owner, Counter: old.counter, HasCounter: true}
	if _, err := t.items().Take(ctx, t.key, rec, me, d, nil); err != nil {
		return 0, fmt.Errorf("take leadership %q: %w", t.key, err)
	}
	return old.counter + 1, nil
}

// renew bumps the counter of me's lease, fenced on me owning it at counter.
func (t *table) renew(ctx context.Context, me string, counter int64, d time.Duration) error {
	if _, err := t.items().Renew(ctx, t.key, me, counter, d, nil); err != nil {
		return fmt.Errorf("renew leadership %q: %w", t.key, err)
	}
	return nil
}

// release clears the owner of me's lease at counter, so another instance
// takes it at its next look instead of after the lease duration.
func (t *table) release(ctx context.Context, me string, counter int64) error {
	if err := t.items().Release(ctx, t.key, me, counter, nil); err != nil {
		return fmt.Errorf("release leadership %q: %w", t.key, err)
	}
	return nil
}

// loadState returns the state blob saved on the item, or nil when none.
func (t *table) loadState(ctx context.Context) ([]byte, error) {
	out, err := t.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                &t.name,
		Key:                      t.itemKey(),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#s"),
		ExpressionAttributeNames: map[string]string{"#s": attrState},
	})
	if err != nil {
		return nil, fmt.Errorf("read leader state %q: %w", t.key, err)
	}
	if v, ok := out.Item[attrState].(*types.AttributeValueMemberB); ok {
		return lease.UnpackBlob(v.Value), nil
	}
	return nil, nil
}

// saveState stores blob on the item, fenced on me owning it. The counter is
// not part of the condition: renewals move it concurrently, and ownership
// alone decides who may write.
// The blob is stored gzipped: every renewal pays for the whole item.
func (t *table) saveState(ctx context.Context, me string, blob []byte) error {
	packed, err := lease.PackBlob(blob)
	if err != nil {
		return fmt.Errorf("save leader state %q: %w", t.key, err)
	}
	u := t.items().NewUpdate()
	u.Set(attrState, &types.AttributeValueMemberB{Value: packed})
	u.OwnedBy(me)
	if _, err := t.items().Write(ctx, t.key, u); err != nil {
		return fmt.Errorf("save leader state %q: %w", t.key, err)
	}
	return nil
}

// str builds a string attribute value.
var str = ddbtable.S
