package kcl

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// dedupeLikeState is a state shaped like weatherd's dedupe state: 500
// locations with 8 observation times each, 5 minutes apart, to the second.
func dedupeLikeState() []byte {
	var b strings.Builder
	b.WriteString(`{"v":1,"recent":{`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"city-%03d":[`, i)
		for k := range 8 {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, 1764720000-300*(7-k)+(i*37+k*11)%60)
		}
		b.WriteByte(']')
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// TestCheckpoint_StateStoredGzipped: a checkpoint stores the processor's
// state gzipped on the lease item, so the renewals that rewrite the item
// every renew_interval pay for a fifth of it; the next owner gets the state
// back exactly. A renewal of the item is charged by its whole size.
func TestCheckpoint_StateStoredGzipped(t *testing.T) {
	h := newTableHarness(t)
	ctx := context.Background()
	tbl := &leaseTable{ddb: h.ddb, name: h.table, calls: func(string) {}}
	if err := tbl.create(ctx, shardInfo{ID: "shard-0"}); err != nil {
		t.Fatal(err)
	}
	got, err := tbl.take(ctx, lease{ShardID: "shard-0"}, "a", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	state := dedupeLikeState()
	if err := tbl.checkpoint(ctx, "shard-0", "a", got.Counter, "49000", state, true); err != nil {
		t.Fatal(err)
	}
	out, err := h.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(h.table), Key: map[string]types.AttributeValue{attrShardID: str("shard-0")}})
	if err != nil {
		t.Fatal(err)
	}
	stored := out.Item[attrState].(*types.AttributeValueMemberB).Value
	if len(stored) > len(state)/4 || !bytes.HasPrefix(stored, []byte{0x1f, 0x8b}) {
		t.Errorf("state of %d bytes stored as %d bytes starting %x; want gzip, at most a quarter", len(state), len(stored), stored[:2])
	}
	t.Logf("state of %d bytes stored in %d", len(state), len(stored))
	if l := h.leases()["shard-0"]; !bytes.Equal(l.state(), state) {
		t.Errorf("state read back differs from the one written (%d bytes, want %d)", len(l.state()), len(state))
	}
	renewed, err := h.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(h.table), Key: map[string]types.AttributeValue{attrShardID: str("shard-0")},
		UpdateExpression: aws.String("SET " + attrLeaseTimeout + " = :t"), ExpressionAttributeValues: map[string]types.AttributeValue{":t": str("x")},
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	})
	if err != nil {
		t.Fatal(err)
	}
	if wcu, most := aws.ToFloat64(renewed.ConsumedCapacity.CapacityUnits), float64(len(stored)/1024+2); wcu > most {
		t.Errorf("a renewal of the item consumed %v write units, want at most %v", wcu, most)
	}
}
