package state

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/weatherd/weatherd/pkg/ddbtable"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the part of the DynamoDB client the store uses.
type DynamoDBAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// DynamoDB is a Store in a DynamoDB table with one item per (location, rule):
// hash key "location", range key "rule", a "version" number every write is
// conditional on, the alert as JSON in "doc", and a "pending" count present
// only while the outbox is not empty (so recovery scans stay small).
type DynamoDB struct {
	api   DynamoDBAPI
	table string
}

var _ Store = (*DynamoDB)(nil)

// NewDynamoDB returns a store in table.
func NewDynamoDB(api DynamoDBAPI, table string) *DynamoDB {
	return &DynamoDB{api: api, table: table}
}

// Init creates the table (PAY_PER_REQUEST) when it is missing and waits until
// it is active.
func (d *DynamoDB) Init(ctx context.Context) error {
	return EnsureTable(ctx, d.api, d.table)
}

// EnsureTable creates the alert-state table (hash key location, range key
// rule) when it is missing and waits for it to be active; `weatherd
// bootstrap` uses it too.
func EnsureTable(ctx context.Context, api DynamoDBAPI, table string) error {
	return ddbtable.Ensure(ctx, api, ddbtable.Table{Kind: "alert-state table", Name: table, Hash: "location", Range: "rule"})
}

// Load returns every alert of a location (consistent read).
func (d *DynamoDB) Load(ctx context.Context, location string) ([]Alert, error) {
	out, err := queryPartition(ctx, d, location, decodeItem)
	if err != nil {
		return nil, fmt.Errorf("query alert state of %s: %w", location, err)
	}
	return out, nil
}

// queryPartition reads every item of one partition (consistent read, page
// by page) and decodes each with decode.
func queryPartition[T any](ctx context.Context, d *DynamoDB, partition string, decode func(map[string]types.AttributeValue) (T, error)) ([]T, error) {
	var out []T
	var start map[string]types.AttributeValue
	for {
		res, err := d.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(d.table),
			KeyConditionExpression:    aws.String("#l = :l"),
			ExpressionAttributeNames:  map[string]string{"#l": "location"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":l": &types.AttributeValueMemberS{Value: partition}},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, err
		}
		for _, item := range res.Items {
			v, err := decode(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = res.LastEvaluatedKey
	}
}

// Get returns one alert (consistent read).
func (d *DynamoDB) Get(ctx context.Context, location, rule string) (Alert, bool, error) {
	res, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            key(location, rule),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Alert{}, false, fmt.Errorf("get alert state %s/%s: %w", location, rule, err)
	}
	if len(res.Item) == 0 {
		return Alert{}, false, nil
	}
	a, err := decodeItem(res.Item)
	return a, err == nil, err
}

// Save writes a conditionally on its version.
func (d *DynamoDB) Save(ctx context.Context, a *Alert) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert state %s/%s: %w", a.Location, a.Rule, err)
	}
	next := a.Version + 1
	item := key(a.Location, a.Rule)
	item["version"] = ddbtable.N(next)
	item["phase"] = &types.AttributeValueMemberS{Value: a.Phase}
	item["doc"] = &types.AttributeValueMemberS{Value: string(doc)}
	if n := len(a.Outbox); n > 0 {
		item["pending"] = &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: item}
	if a.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#v)")
		in.ExpressionAttributeNames = map[string]string{"#v": "version"}
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": "version"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":v": ddbtable.N(a.Version),
		}
	}
	if _, err := d.api.PutItem(ctx, in); err != nil {
		if ddbtable.ConditionFailed(err) {
			return ErrConflict
		}
		return fmt.Errorf("put alert state %s/%s: %w", a.Location, a.Rule, err)
	}
	a.Version = next
	return nil
}

// Pending scans for alerts with undelivered notifications.
func (d *DynamoDB) Pending(ctx context.Context) ([]Alert, error) {
	var out []Alert
	err := d.scan(ctx, &dynamodb.ScanInput{
		TableName:                aws.String(d.table),
		FilterExpression:         aws.String("attribute_exists(#p)"),
		ExpressionAttributeNames: map[string]string{"#p": "pending"},
		ConsistentRead:           aws.Bool(true),
	}, func(item map[string]types.AttributeValue) error {
		a, err := decodeItem(item)
		if err == nil {
			out = append(out, a)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("scan alert state for pending notifications: %w", err)
	}
	return out, nil
}

// scan visits every item in, page after page.
func (d *DynamoDB) scan(ctx context.Context, in *dynamodb.ScanInput, visit func(map[string]types.AttributeValue) error) error {
	for {
		res, err := d.api.Scan(ctx, in)
		if err != nil {
			return err
		}
		for _, item := range res.Items {
			if err := visit(item); err != nil {
				return err
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

func key(location, rule string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"location": &types.AttributeValueMemberS{Value: location},
		"rule":     &types.AttributeValueMemberS{Value: rule},
	}
}

func decodeItem(item map[string]types.AttributeValue) (Alert, error) {
	var loc, rule string
	if s, ok := item["location"].(*types.AttributeValueMemberS); ok {
		loc = s.Value
	}
	if s, ok := item["rule"].(*types.AttributeValueMemberS); ok {
		rule = s.Value
	}
	doc, ok := item["doc"].(*types.AttributeValueMemberS)
	ver, ok2 := item["version"].(*types.AttributeValueMemberN)
	if !ok || !ok2 {
		return Alert{}, fmt.Errorf("alert state item %s/%s lacks doc or version", loc, rule)
	}
	var a Alert
	if err := json.Unmarshal([]byte(doc.Value), &a); err != nil {
		return Alert{}, fmt.Errorf("decode alert state item %s/%s: %w", loc, rule, err)
	}
	v, err := strconv.ParseInt(ver.Value, 10, 64)
	if err != nil {
		return Alert{}, fmt.Errorf("alert state item %s/%s: version %q: %w", loc, rule, ver.Value, err)
	}
	a.Location, a.Rule, a.Version = loc, rule, v
	return a, nil
}
