package leader

import (
	"context"
	"errors"
	"testing"
	"time"
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
