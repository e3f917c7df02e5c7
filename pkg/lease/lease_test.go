package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/weatherd/weatherd/pkg/ddbtable"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

// attrs are the shard consumer's (vmware-go-kcl-v2 compatible) names.
var attrs = Attrs{Key: "ShardID", Owner: "AssignedTo", Counter: "LeaseCounter", Timeout: "LeaseTimeout", TimeoutVersions: true}

// newTable returns a Table on a fresh table of the DynamoDB emulator.
func newTable(t *testing.T) (Table, *dynamodb.Client) {
	t.Helper()
	ddb := emulator.DynamoDB(t)
	name := emulator.Name(t, "lease")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ddbtable.Ensure(ctx, ddb, ddbtable.Table{Kind: "lease table", Name: name, Hash: attrs.Key}); err != nil {
		t.Fatal(err)
	}
	return Table{DB: ddb, Name: name, Attrs: attrs}, ddb
}

// get reads item key with a strongly consistent read.
func get(t *testing.T, ddb *dynamodb.Client, tbl Table, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := ddb.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &tbl.Name, Key: map[string]types.AttributeValue{attrs.Key: ddbtable.S(key)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// mustTake creates item key, held by me at counter 1.
func mustTake(t *testing.T, tbl Table, key, me string) {
	t.Helper()
	if _, err := tbl.Take(context.Background(), key, Record{}, me, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
}

func attr(item map[string]types.AttributeValue, name string) string {
	switch v := item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return "<absent>"
}

// put writes item key with exactly the string attributes given.
func put(t *testing.T, ddb *dynamodb.Client, tbl Table, key string, kv map[string]types.AttributeValue) {
	t.Helper()
	kv[attrs.Key] = ddbtable.S(key)
	if _, err := ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &tbl.Name, Item: kv}); err != nil {
		t.Fatal(err)
	}
}

func TestUpdate_Input(t *testing.T) {
	u := NewUpdate(attrs)
	u.Set("AssignedTo", ddbtable.S("w1"))
	u.Remove("ClaimRequest")
	u.Owned("w1", 7)
	in := u.Input("leases", "shardId-000000000001")
	if got, want := *in.UpdateExpression, "SET #assignedto = :v0 REMOVE #claimrequest"; got != want {
		t.Errorf("update = %q, want %q", got, want)
	}
	if got, want := *in.ConditionExpression, "attribute_exists(#shardid) AND #assignedto = :v1 AND #leasecounter = :v2"; got != want {
		t.Errorf("condition = %q, want %q", got, want)
	}
	if len(in.ExpressionAttributeNames) != 4 || len(in.ExpressionAttributeValues) != 3 {
		t.Errorf("names %v values %v", in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	}
	u = NewUpdate(attrs)
	u.Set("AssignedTo", ddbtable.S("w1"))
	u.ItemAbsent()
	if got, want := *u.Input("leases", "s").ConditionExpression, "attribute_not_exists(#shardid)"; got != want {
		t.Errorf("condition with ItemAbsent = %q, want %q", got, want)
	}
	u = NewUpdate(attrs)
	u.Unchanged(Record{Exists: true, Owner: "w1", Timeout: "2026-01-01T00:00:00Z"})
	d := u.DeleteInput("leases", "s")
	if got, want := *d.ConditionExpression, "attribute_exists(#shardid) AND #assignedto = :v0 AND #leasetimeout = :v1 AND attribute_not_exists(#leasecounter)"; got != want {
		t.Errorf("delete condition = %q, want %q", got, want)
	}
	if len(d.ExpressionAttributeNames) != 4 || len(d.ExpressionAttributeValues) != 2 {
		t.Errorf("delete names %v values %v", d.ExpressionAttributeNames, d.ExpressionAttributeValues)
	}
}

func TestTable_Take(t *testing.T) {
	ctx := context.Background()
	tbl, ddb := newTable(t)

	t.Run("Free", func(t *testing.T) {
		// Free as vmware-go-kcl-v2 leaves it: no owner, no counter.
		put(t, ddb, tbl, "free", map[string]types.AttributeValue{"LeaseTimeout": ddbtable.S("2026-01-01T00:00:00Z"), "Checkpoint": ddbtable.S("49")})
		item, err := tbl.Take(ctx, "free", Record{Exists: true, Timeout: "2026-01-01T00:00:00Z"}, "w1", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range []map[string]types.AttributeValue{item, get(t, ddb, tbl, "free")} {
			if attr(it, "AssignedTo") != "w1" || attr(it, "LeaseCounter") != "1" || attr(it, "Checkpoint") != "49" {
				t.Errorf("item after take = %v, want owner w1, counter 1, checkpoint 49 kept", it)
			}
		}
	})

	t.Run("Missing", func(t *testing.T) {
		item, err := tbl.Take(ctx, "new", Record{}, "w1", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		if attr(item, "AssignedTo") != "w1" || attr(item, "LeaseCounter") != "1" {
			t.Errorf("item after take = %v, want owner w1, counter 1", item)
		}
		// Taking it as missing again is refused: it exists now.
		if _, err := tbl.Take(ctx, "new", Record{}, "w2", time.Minute, nil); !errors.Is(err, ErrLost) {
			t.Errorf("second take of a missing item = %v, want ErrLost", err)
		}
	})

	t.Run("HeldAndUnexpired", func(t *testing.T) {
		mustTake(t, tbl, "held", "w1")
		read := get(t, ddb, tbl, "held")
		seen := Record{Exists: true, Owner: "w1", Timeout: attr(read, "LeaseTimeout"), Counter: 1, HasCounter: true}
		// The owner renews before the observer's clock runs out: its view is
		// stale, and its take is refused.
		if _, err := tbl.Renew(ctx, "held", "w1", 1, time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		_, err := tbl.Take(ctx, "held", seen, "w2", time.Minute, nil)
		if !errors.Is(err, ErrLost) || err.Error() != "lease changed by another owner" {
			t.Fatalf("take of a renewed lease = %v, want ErrLost", err)
		}
		// Without the LeaseTimeout as a version (the poller's leadership),
		// the counter alone refuses it.
		byCounter := tbl
		byCounter.Attrs.TimeoutVersions = false
		if _, err := byCounter.Take(ctx, "held", seen, "w2", time.Minute, nil); !errors.Is(err, ErrLost) {
			t.Fatalf("take of a renewed lease, fenced by the counter only = %v, want ErrLost", err)
		}
		if it := get(t, ddb, tbl, "held"); attr(it, "AssignedTo") != "w1" || attr(it, "LeaseCounter") != "2" {
			t.Errorf("item after a refused take = %v, want owner w1 at counter 2", it)
		}
	})

	t.Run("StaleTimeout", func(t *testing.T) {
		// vmware-go-kcl-v2 renews by rewriting LeaseTimeout alone.
		put(t, ddb, tbl, "vm", map[string]types.AttributeValue{"AssignedTo": ddbtable.S("vm1"), "LeaseTimeout": ddbtable.S("2026-01-01T00:00:20Z")})
		_, err := tbl.Take(ctx, "vm", Record{Exists: true, Owner: "vm1", Timeout: "2026-01-01T00:00:10Z"}, "w2", time.Minute, nil)
		if !errors.Is(err, ErrLost) {
			t.Fatalf("take with a stale LeaseTimeout = %v, want ErrLost", err)
		}
	})
}

func TestTable_Renew(t *testing.T) {
	ctx := context.Background()
	tbl, ddb := newTable(t)
	mustTake(t, tbl, "s", "w1")
	before := attr(get(t, ddb, tbl, "s"), "LeaseTimeout")
	item, err := tbl.Renew(ctx, "s", "w1", 1, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if attr(item, "LeaseCounter") != "2" || attr(item, "AssignedTo") != "w1" || attr(item, "LeaseTimeout") == before {
		t.Errorf("item after renew = %v, want counter 2, owner w1, LeaseTimeout past %s", item, before)
	}
	// At the old counter, or by another owner: refused.
	if _, err := tbl.Renew(ctx, "s", "w1", 1, time.Hour, nil); !errors.Is(err, ErrLost) {
		t.Errorf("renew at a stale counter = %v, want ErrLost", err)
	}
	if _, err := tbl.Renew(ctx, "s", "w2", 2, time.Hour, nil); !errors.Is(err, ErrLost) {
		t.Errorf("renew by another owner = %v, want ErrLost", err)
	}
	if got := attr(get(t, ddb, tbl, "s"), "LeaseCounter"); got != "2" {
		t.Errorf("counter after refused renewals = %s, want 2", got)
	}

	// Released: free, at the next counter; the owner can no longer renew.
	if err := tbl.Release(ctx, "s", "w1", 2, nil); err != nil {
		t.Fatal(err)
	}
	if it := get(t, ddb, tbl, "s"); attr(it, "AssignedTo") != "<absent>" || attr(it, "LeaseCounter") != "3" {
		t.Errorf("item after release = %v, want no owner, counter 3", it)
	}
	if _, err := tbl.Renew(ctx, "s", "w1", 3, time.Hour, nil); !errors.Is(err, ErrLost) {
		t.Errorf("renew after release = %v, want ErrLost", err)
	}

	// NoItem: the same writes, nothing sent back.
	quiet := tbl
	quiet.NoItem = true
	mustTake(t, quiet, "q", "w1")
	item, err = quiet.Renew(ctx, "q", "w1", 1, time.Hour, nil)
	if err != nil || item != nil {
		t.Fatalf("renew with NoItem = %v, %v; want no item, nil", item, err)
	}
	if got := attr(get(t, ddb, tbl, "q"), "LeaseCounter"); got != "2" {
		t.Errorf("counter after a renewal with NoItem = %s, want 2", got)
	}
}

func TestTable_Write(t *testing.T) {
	ctx := context.Background()
	tbl, ddb := newTable(t)
	mustTake(t, tbl, "s", "w1")
	if _, err := tbl.Take(ctx, "s", Record{Exists: true, Owner: "w1", Timeout: attr(get(t, ddb, tbl, "s"), "LeaseTimeout"), Counter: 1, HasCounter: true}, "w2", time.Minute, nil); err != nil {
		t.Fatal(err)
	}

	t.Run("StaleCounter", func(t *testing.T) {
		u := tbl.NewUpdate()
		u.Set("Checkpoint", ddbtable.S("100"))
		u.Owned("w1", 1) // w1's view, before w2 took the lease
		if _, err := tbl.Write(ctx, "s", u); !errors.Is(err, ErrLost) {
			t.Fatalf("fenced write at a stale counter = %v, want ErrLost", err)
		}
		u = tbl.NewUpdate()
		u.Set("Checkpoint", ddbtable.S("100"))
		u.Owned("w2", 1) // the right owner, the wrong counter
		if _, err := tbl.Write(ctx, "s", u); !errors.Is(err, ErrLost) {
			t.Fatalf("fenced write by the owner at a stale counter = %v, want ErrLost", err)
		}
		if got := attr(get(t, ddb, tbl, "s"), "Checkpoint"); got != "<absent>" {
			t.Errorf("checkpoint after refused writes = %s, want none", got)
		}
	})

	t.Run("Owner", func(t *testing.T) {
		u := tbl.NewUpdate()
		u.Set("Checkpoint", ddbtable.S("200"))
		u.Owned("w2", 2)
		item, err := tbl.Write(ctx, "s", u)
		if err != nil {
			t.Fatal(err)
		}
		if attr(item, "Checkpoint") != "200" || attr(item, "LeaseCounter") != "2" {
			t.Errorf("item after fenced write = %v, want checkpoint 200 at counter 2", item)
		}
	})

	t.Run("OtherErrors", func(t *testing.T) {
		// Not a refused condition: passed through, not ErrLost.
		missing := Table{DB: tbl.DB, Name: tbl.Name + "-missing", Attrs: attrs}
		_, err := missing.Renew(ctx, "s", "w2", 2, time.Minute, nil)
		var nf *types.ResourceNotFoundException
		if errors.Is(err, ErrLost) || !errors.As(err, &nf) {
			t.Errorf("renew on a missing table = %v, want ResourceNotFoundException", err)
		}
	})
}
