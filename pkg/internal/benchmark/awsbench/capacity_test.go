package awsbench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/kcl"
)

// keptPerLocation is how many observations per location a shard's saved
// dedupe state holds once a location has reported that often (the
// pipeline's recentPerLocation).
const keptPerLocation = 8

// leaseCapacity reports what the lease table's items cost to renew and to
// scan, as dynalite counts capacity units (ReturnConsumedCapacity): a copy
// of each lease item in a scratch table gets a renewal's UpdateItem (one
// small attribute; DynamoDB charges a write by the whole item's size), as
// the item is now and with every location of its saved state grown to
// keptPerLocation observations, the steady state of a poller that has run
// for keptPerLocation ticks. dynalite counts a consistent Scan like an
// eventually consistent one: DynamoDB charges twice that.
func leaseCapacity(b *testing.B, table string) string {
	b.Helper()
	ctx := context.Background()
	ddb := emulator.DynamoDB(b)
	scan := func(name string) ([]map[string]types.AttributeValue, float64) {
		out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(name), ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal})
		if err != nil {
			b.Fatalf("scan %s: %v", name, err)
		}
		return out.Items, aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
	}
	scratch := emulator.Name(b, "bench-capacity")
	if err := kcl.EnsureTable(ctx, ddb, scratch); err != nil {
		b.Fatal(err)
	}
	defer ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(scratch)})
	renew := func(item map[string]types.AttributeValue) float64 {
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(scratch), Item: item}); err != nil {
			b.Fatalf("copy lease item: %v", err)
		}
		out, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(scratch), Key: map[string]types.AttributeValue{"ShardID": item["ShardID"]},
			UpdateExpression:          aws.String("SET LeaseTimeout = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: "2026-12-03T00:00:00Z"}},
			ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
		})
		if err != nil {
			b.Fatalf("renew the copy: %v", err)
		}
		return aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
	}
	items, rcu := scan(table)
	var s strings.Builder
	fmt.Fprintf(&s, "  lease table: %d items; one take-pass Scan: %v RCU as dynalite counts it\n", len(items), rcu)
	for _, item := range items {
		locs, grown := grow(b, item, false)
		_, jittered := grow(b, item, true)
		fmt.Fprintf(&s, "  %s: %d bytes, state of %d locations: renewal %v WCU; at %d observations per location %d bytes, renewal %v WCU "+
			"(observation times to the second: %d bytes, renewal %v WCU)\n",
			shardID(item), itemSize(item), locs, renew(item), keptPerLocation, itemSize(grown), renew(grown), itemSize(jittered), renew(jittered))
	}
	_, rcu = scan(scratch)
	fmt.Fprintf(&s, "  the grown items: one Scan %v RCU as dynalite counts it\n", rcu)
	return s.String()
}

func shardID(item map[string]types.AttributeValue) string {
	if v, ok := item["ShardID"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return "?"
}

// grow returns a copy of item whose saved dedupe state holds
// keptPerLocation observations, 5 minutes apart (as providers that report
// on the minute give them), for each of its locations, and how many
// locations that is. With jitter the times fall on any second, which
// compresses worse.
func grow(b *testing.B, item map[string]types.AttributeValue, jitter bool) (int, map[string]types.AttributeValue) {
	b.Helper()
	out := maps.Clone(item)
	v, ok := item["WeatherdState"].(*types.AttributeValueMemberB)
	if !ok {
		return 0, out
	}
	raw := v.Value
	gzipped := bytes.HasPrefix(raw, []byte{0x1f, 0x8b})
	if gzipped {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatalf("saved state of %s: %v", shardID(item), err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			b.Fatalf("saved state of %s: %v", shardID(item), err)
		}
	}
	var st struct {
		V      int                `json:"v"`
		Recent map[string][]int64 `json:"recent"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		b.Fatalf("saved state of %s: %v", shardID(item), err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for loc, ats := range st.Recent {
		last := ats[len(ats)-1]
		full := make([]int64, keptPerLocation)
		for i := range full {
			full[i] = last - int64(keptPerLocation-1-i)*300
			if jitter {
				full[i] += rng.Int64N(60)
			}
		}
		st.Recent[loc] = full
	}
	enc, err := json.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	if gzipped { // stored as pkg/kcl stores it
		var zb bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
		zw.Write(enc)
		zw.Close()
		enc = zb.Bytes()
	}
	out["WeatherdState"] = &types.AttributeValueMemberB{Value: enc}
	return len(st.Recent), out
}

// itemSize is DynamoDB's size of an item of string, binary and number
// attributes: names plus values (a number counted by its digits, close to
// DynamoDB's rule for short numbers).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberB:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += len(v.Value)
		}
	}
	return n
}
