package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// streamAPI is the part of the Kinesis client EnsureStream uses.
type streamAPI interface {
	CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

var _ streamAPI = (*kinesis.Client)(nil)

// ensureTimeout bounds how long EnsureStream waits for a stream to become
// ACTIVE when ctx has no earlier deadline.
const ensureTimeout = 2 * time.Minute

// EnsureStream creates the stream name with shards shards unless it exists,
// and waits until it is ACTIVE. It is idempotent: an existing stream is left
// as it is, whatever its shard count.
func EnsureStream(ctx context.Context, api streamAPI, name string, shards int) error {
	if shards < 1 {
		return fmt.Errorf("ensure stream %s: %d shards, want at least 1", name, shards)
	}
	ctx, cancel := context.WithTimeout(ctx, ensureTimeout)
	defer cancel()
	status, err := streamStatus(ctx, api, name)
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		_, err := api.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) { // in use: created meanwhile by another instance
			return fmt.Errorf("create stream %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("describe stream %s: %w", name, err)
	case status == types.StreamStatusActive || status == types.StreamStatusUpdating:
		return nil
	}
	for {
		status, err := streamStatus(ctx, api, name)
		switch {
		case errors.As(err, &nf):
			// Not visible yet right after CreateStream.
		case err != nil:
			return fmt.Errorf("describe stream %s: %w", name, err)
		case status == types.StreamStatusActive || status == types.StreamStatusUpdating:
			return nil
		case status == types.StreamStatusDeleting:
			return fmt.Errorf("stream %s is being deleted; run again once it is gone", name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream %s is not ACTIVE (last status %q): %w", name, status, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func streamStatus(ctx context.Context, api streamAPI, name string) (types.StreamStatus, error) {
	out, err := api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return out.StreamDescriptionSummary.StreamStatus, nil
}
