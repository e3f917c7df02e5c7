package leader

import (
	"context"
	"errors"
	"fmt"
	"github.com/weatherd/weatherd/pkg/ddbtable"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Leader table attribute names: one item per leadership, keyed by its name.
const (
	attrKey          = "LeaseKey"
	attrOwner        = "Owner"
	attrCounter      = "Counter"
	attrLeaseTimeout = "LeaseTimeout"
	// attrState holds what the leader keeps for its successor (the poller's
	// newest observation per location).
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

// errConflict means a conditional write found the item changed: another
// instance took, renewed or released the lease first.
var errConflict = errors.New("lease changed by another instance")

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

// table reads and writes one leadership item; every write is conditional on
// the state it expects, so the table is the only truth.
type table struct {
	ddb  DynamoDBAPI
	name string // table
	key  string // leadership name
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
	names := map[string]string{"#k": attrKey, "#o": attrOwner, "#c": attrCounter, "#t": attrLeaseTimeout}
	values := map[string]types.AttributeValue{
		":me": str(me), ":next": num(old.counter + 1), ":t": str(timeout(d)),
	}
	var cond string
	switch {
	case !old.exists:
		cond = "attribute_not_exists(#k)"
	case old.owner == "":
		cond = "attribute_exists(#k) AND attribute_not_exists(#o) AND #c = :c"
		values[":c"] = num(old.counter)
	default:
		cond = "attribute_exists(#k) AND #o = :old AND #c = :c"
		values[":c"], values[":old"] = num(old.counter), str(old.owner)
	}
	_, err := t.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &t.name,
		Key:                       t.itemKey(),
		UpdateExpression:          aws.String("SET #o = :me, #c = :next, #t = :t"),
		ConditionExpression:       &cond,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err := conflict(err); err != nil {
		return 0, fmt.Errorf("take leadership %q: %w", t.key, err)
	}
	return old.counter + 1, nil
}

// renew bumps the counter of me's lease, fenced on me owning it at counter.
func (t *table) renew(ctx context.Context, me string, counter int64, d time.Duration) error {
	_, err := t.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &t.name,
		Key:                      t.itemKey(),
		UpdateExpression:         aws.String("SET #c = :next, #t = :t"),
		ConditionExpression:      aws.String("attribute_exists(#k) AND #o = :me AND #c = :c"),
		ExpressionAttributeNames: map[string]string{"#k": attrKey, "#o": attrOwner, "#c": attrCounter, "#t": attrLeaseTimeout},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me": str(me), ":c": num(counter), ":next": num(counter + 1), ":t": str(timeout(d)),
		},
	})
	if err := conflict(err); err != nil {
		return fmt.Errorf("renew leadership %q: %w", t.key, err)
	}
	return nil
}

// release clears the owner of me's lease at counter, so another instance
// takes it at its next look instead of after the lease duration.
func (t *table) release(ctx context.Context, me string, counter int64) error {
	_, err := t.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &t.name,
		Key:                      t.itemKey(),
		UpdateExpression:         aws.String("SET #c = :next, #t = :t REMOVE #o"),
		ConditionExpression:      aws.String("attribute_exists(#k) AND #o = :me AND #c = :c"),
		ExpressionAttributeNames: map[string]string{"#k": attrKey, "#o": attrOwner, "#c": attrCounter, "#t": attrLeaseTimeout},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me": str(me), ":c": num(counter), ":next": num(counter + 1), ":t": str(timeout(0)),
		},
	})
	if err := conflict(err); err != nil {
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
		return v.Value, nil
	}
	return nil, nil
}

// saveState stores blob on the item, fenced on me owning it. The counter is
// not part of the condition: renewals move it concurrently, and ownership
// alone decides who may write.
func (t *table) saveState(ctx context.Context, me string, blob []byte) error {
	_, err := t.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &t.name,
		Key:                       t.itemKey(),
		UpdateExpression:          aws.String("SET #s = :s"),
		ConditionExpression:       aws.String("attribute_exists(#k) AND #o = :me"),
		ExpressionAttributeNames:  map[string]string{"#k": attrKey, "#o": attrOwner, "#s": attrState},
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": str(me), ":s": &types.AttributeValueMemberB{Value: blob}},
	})
	if err := conflict(err); err != nil {
		return fmt.Errorf("save leader state %q: %w", t.key, err)
	}
	return nil
}

// timeout is the informational LeaseTimeout: when the lease would expire if
// clocks agreed. Expiry itself is timed on each instance's own clock.
func timeout(d time.Duration) string {
	return time.Now().Add(d).UTC().Format(time.RFC3339Nano)
}

// conflict maps a failed condition to errConflict.
func conflict(err error) error {
	if ddbtable.ConditionFailed(err) {
		return errConflict
	}
	return err
}

// str and num build attribute values.
var str, num = ddbtable.S, ddbtable.N
