package kcl

import (
	"context"
	"fmt"
	"math/big"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// KinesisAPI is the part of the Kinesis client the consumer uses.
type KinesisAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

var _ KinesisAPI = (*kinesis.Client)(nil)

// listShards pages through ListShards (a continuation request names only the
// token, not the stream).
func listShards(ctx context.Context, kin KinesisAPI, streamName string, pageSize int32) ([]types.Shard, error) {
	var all []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(streamName)}
	if pageSize > 0 {
		in.MaxResults = aws.Int32(pageSize)
	}
	for {
		out, err := kin.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of %s: %w", streamName, err)
		}
		all = append(all, out.Shards...)
		if out.NextToken == nil || *out.NextToken == "" {
			return all, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
		if pageSize > 0 {
			in.MaxResults = aws.Int32(pageSize)
		}
	}
}

func shardInfos(shards []types.Shard) map[string]shardInfo {
	m := make(map[string]shardInfo, len(shards))
	for _, s := range shards {
		si := shardInfo{ID: aws.ToString(s.ShardId)}
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if aws.ToString(p) != "" {
				si.Parents = append(si.Parents, *p)
			}
		}
		si.Closed = s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
		m[si.ID] = si
	}
	return m
}

var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// hashGaps describes the holes in the hash-key range covered by the open
// shards (after resharding they must cover 0 to 2^128-1 exactly); empty when
// there is none.
func hashGaps(shards []types.Shard) []string {
	type span struct{ lo, hi *big.Int }
	var open []span
	for _, s := range shards {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		if s.HashKeyRange == nil {
			continue
		}
		lo, ok1 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		hi, ok2 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		if ok1 && ok2 {
			open = append(open, span{lo, hi})
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].lo.Cmp(open[j].lo) < 0 })
	var gaps []string
	next := big.NewInt(0)
	for _, s := range open {
		if s.lo.Cmp(next) > 0 {
			gaps = append(gaps, fmt.Sprintf("%s-%s", next, new(big.Int).Sub(s.lo, big.NewInt(1))))
		}
		if n := new(big.Int).Add(s.hi, big.NewInt(1)); n.Cmp(next) > 0 {
			next = n
		}
	}
	if next.Cmp(maxHashKey) <= 0 {
		gaps = append(gaps, fmt.Sprintf("%s-%s", next, maxHashKey))
	}
	return gaps
}
