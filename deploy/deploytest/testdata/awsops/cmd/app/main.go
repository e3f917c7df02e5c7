// Fixture: the entry package. run reaches the store and the queue; bootstrap
// reaches package bootstrap, which the runtime must not count.
package main

import (
	"context"
	"os"

	"example.com/app/pkg/bootstrap"
	"example.com/app/pkg/queue"
	"example.com/app/pkg/store"
)

func main() {
	ctx := context.Background()
	if len(os.Args) > 1 && os.Args[1] == "bootstrap" {
		bootstrapCmd(ctx)
		return
	}
	s := store.New(nil)
	q := queue.New(nil)
	_ = s.Run(ctx)
	_ = q.Run(ctx)
}

func bootstrapCmd(ctx context.Context) { _ = bootstrap.Run(ctx) }
