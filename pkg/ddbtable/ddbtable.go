// Package ddbtable creates the small DynamoDB tables weatherd keeps its
// coordination state in (leases, poller leadership, alert state), checks
// that an existing table has the key schema weatherd expects, and holds the
// item helpers their users share (attribute values, refused conditions).
package ddbtable

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// API is what Ensure needs from DynamoDB.
type API interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// NameRule says what a DynamoDB table name may be, for config errors.
const NameRule = "a DynamoDB table name: 3 to 255 of a-z A-Z 0-9 _ . -"

var tableName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// ValidName reports whether name is a DynamoDB table name (NameRule).
func ValidName(name string) bool { return tableName.MatchString(name) }

// ErrSchema is returned for an existing table whose key is not the one asked for.
var ErrSchema = errors.New("wrong key schema")

// Table describes a table by its string keys.
type Table struct {
	// Kind names the table in errors, e.g. "lease table".
	Kind string
	Name string
	// Hash is the hash key; Range, when set, the range key. Both are strings.
	Hash, Range string
}

// Ensure creates the table (on-demand billing) when it does not exist and
// waits until it is ACTIVE. An existing table is used as it is once its key
// schema is checked.
func Ensure(ctx context.Context, api API, t Table) error {
	created := false
	for {
		out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.Name)})
		var nf *types.ResourceNotFoundException
		switch {
		case errors.As(err, &nf) && !created:
			if err := create(ctx, api, t); err != nil {
				return err
			}
			created = true
		case errors.As(err, &nf):
			// Created, not visible yet.
		case err != nil:
			return fmt.Errorf("describe %s %q: %w", t.Kind, t.Name, err)
		default:
			if err := t.check(out.Table); err != nil {
				return fmt.Errorf("%s %q: %w", t.Kind, t.Name, err)
			}
			if out.Table.TableStatus == types.TableStatusActive {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s %q to be active: %w", t.Kind, t.Name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func create(ctx context.Context, api API, t Table) error {
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(t.Name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(t.Hash), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(t.Hash), KeyType: types.KeyTypeHash}},
	}
	if t.Range != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(t.Range), AttributeType: types.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(t.Range), KeyType: types.KeyTypeRange})
	}
	_, err := api.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) { // in use: another instance created it first
		return fmt.Errorf("create %s %q: %w", t.Kind, t.Name, err)
	}
	return nil
}

// check compares an existing table's key with t's.
func (t Table) check(td *types.TableDescription) error {
	attrType := map[string]types.ScalarAttributeType{}
	for _, a := range td.AttributeDefinitions {
		attrType[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	var got, want []string
	for _, k := range td.KeySchema {
		got = append(got, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	want = append(want, t.Hash+" HASH")
	if t.Range != "" {
		want = append(want, t.Range+" RANGE")
	}
	ok := strings.Join(got, ",") == strings.Join(want, ",") && attrType[t.Hash] == types.ScalarAttributeTypeS && (t.Range == "" || attrType[t.Range] == types.ScalarAttributeTypeS)
	if ok {
		return nil
	}
	if t.Range == "" {
		return fmt.Errorf("%w: got key [%s], want %s (string) as the only (hash) key", ErrSchema, strings.Join(got, ", "), t.Hash)
	}
	return fmt.Errorf("%w: got key [%s], want %s (string) hash key and %s (string) range key", ErrSchema, strings.Join(got, ", "), t.Hash, t.Range)
}
