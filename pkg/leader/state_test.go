package leader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

// TestElector_StateIsFencedAndHandedOver: only the leader writes the state;
// the next leader reads what the last one saved.
func TestElector_StateIsFencedAndHandedOver(t *testing.T) {
	table := MustTable(t)
	a := newNode(t, table, "node-a", nil).start(t)
	b := newNode(t, table, "node-b", nil).start(t)
	lead, follow := leaderOf(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if blob, err := follow.LoadState(ctx); err != nil || blob != nil {
		t.Fatalf("fresh state = %q, %v", blob, err)
	}
	if err := follow.SaveState(ctx, []byte("from the follower")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower SaveState = %v, want ErrNotLeader", err)
	}
	if err := lead.SaveState(ctx, []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	// Renewals go on while the state stays.
	saved := item(t, table).counter
	waitFor(t, 10*leaseDuration, "two renewals after the save", func() bool { return item(t, table).counter >= saved+2 })
	if blob, err := follow.LoadState(ctx); err != nil || string(blob) != `{"v":1}` {
		t.Fatalf("state read by the follower = %q, %v", blob, err)
	}

	lead.stop(t)
	waitFor(t, 5*time.Second, "the follower to lead", follow.Leading)
	if blob, err := follow.LoadState(ctx); err != nil || string(blob) != `{"v":1}` {
		t.Fatalf("state after the handover = %q, %v", blob, err)
	}
	// The old leader, stopped, cannot overwrite it.
	if err := lead.SaveState(ctx, []byte("stale")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("stopped leader SaveState = %v, want ErrNotLeader", err)
	}
	// Ownership is checked by the table too, not only locally: a write as
	// the old owner is refused.
	if err := follow.table.saveState(ctx, lead.ID(), []byte("stale")); err == nil {
		t.Fatal("a write conditioned on the old owner was accepted")
	}
}

// TestElector_StateStoredGzipped: the saved state is stored gzipped on the
// leadership item, which every renewal rewrites (and DynamoDB charges by the
// whole item): the poller's memory of 1,000 locations at one tick is a
// small fraction of its JSON; the next leader reads it back exactly.
func TestElector_StateStoredGzipped(t *testing.T) {
	table := MustTable(t)
	a := newNode(t, table, "node-a", nil).start(t)
	waitFor(t, 10*time.Second, "a to lead", a.Leading)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	b.WriteString(`{"v":1,"last":{`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"location-%04d":"2026-12-03T00:40:00Z"`, i)
	}
	b.WriteString(`}}`)
	blob := []byte(b.String())
	if err := a.SaveState(ctx, blob); err != nil {
		t.Fatal(err)
	}
	out, err := emulator.DynamoDB(t).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{attrKey: str("poller")}})
	if err != nil {
		t.Fatal(err)
	}
	stored := out.Item[attrState].(*types.AttributeValueMemberB).Value
	if !bytes.HasPrefix(stored, []byte{0x1f, 0x8b}) || len(stored) > len(blob)/4 {
		t.Errorf("state of %d bytes stored as %d bytes starting %x; want gzip, at most a quarter", len(blob), len(stored), stored[:2])
	}
	t.Logf("state of %d bytes stored in %d", len(blob), len(stored))
	if got, err := a.LoadState(ctx); err != nil || !bytes.Equal(got, blob) {
		t.Errorf("LoadState = %d bytes, %v; want the %d bytes saved", len(got), err, len(blob))
	}
}
