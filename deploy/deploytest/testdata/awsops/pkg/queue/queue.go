// Fixture: a method value handed to a goroutine group, a package-level var
// whose initializer calls AWS, and an aliased SDK import.
package queue

import (
	"context"

	"example.com/app/pkg/store"
	kin "github.com/aws/aws-sdk-go-v2/service/kinesis"
)

var defaultInput = newInput()

func newInput() *kin.DescribeStreamSummaryInput { return &kin.DescribeStreamSummaryInput{} }

type Queue struct{ name string }

func New(_ any) *Queue { return &Queue{} }

func (q *Queue) Run(ctx context.Context) error {
	if err := store.EnsureTable(ctx, nil, "leases"); err != nil {
		return err
	}
	group(q.flush)
	return nil
}

func group(fns ...func() error) {}

func (q *Queue) flush() error {
	_ = kin.PutRecordsInput{}
	return nil
}
