package ddbtable

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

func TestEnsure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ddb := emulator.DynamoDB(t)

	t.Run("CreatesOnDemandAndIsIdempotent", func(t *testing.T) {
		tbl := Table{Kind: "alert-state table", Name: emulator.Name(t, "state"), Hash: "location", Range: "rule"}
		for range 2 {
			if err := Ensure(ctx, ddb, tbl); err != nil {
				t.Fatal(err)
			}
		}
		out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tbl.Name)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Table.TableStatus != types.TableStatusActive || out.Table.BillingModeSummary == nil || out.Table.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("table %s, billing %+v", out.Table.TableStatus, out.Table.BillingModeSummary)
		}
	})

	t.Run("WrongKey", func(t *testing.T) {
		name := emulator.Name(t, "lease")
		if err := Ensure(ctx, ddb, Table{Kind: "other", Name: name, Hash: "leaseKey"}); err != nil {
			t.Fatal(err)
		}
		err := Ensure(ctx, ddb, Table{Kind: "lease table", Name: name, Hash: "ShardID"})
		want := `lease table "` + name + `": wrong key schema: got key [leaseKey HASH], want ShardID (string) as the only (hash) key`
		if !errors.Is(err, ErrSchema) || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		err = Ensure(ctx, ddb, Table{Kind: "alert-state table", Name: name, Hash: "leaseKey", Range: "rule"})
		want = `alert-state table "` + name + `": wrong key schema: got key [leaseKey HASH], want leaseKey (string) hash key and rule (string) range key`
		if !errors.Is(err, ErrSchema) || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
	})
}
