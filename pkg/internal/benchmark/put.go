package benchmark

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// PutRecords writes bodies (partition keys keys) to the stream with
// PutRecords, 500 a call, retrying the records the emulator refused, at
// about rate records/s (0: as fast as the emulator takes them).
func PutRecords(tb testing.TB, kin *kinesis.Client, streamName string, bodies [][]byte, keys []string, rate int) {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	for lo := 0; lo < len(bodies); lo += 500 {
		if rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(lo) * time.Second / time.Duration(rate))))
		}
		var entries []kintypes.PutRecordsRequestEntry
		for i := lo; i < min(lo+500, len(bodies)); i++ {
			entries = append(entries, kintypes.PutRecordsRequestEntry{Data: bodies[i], PartitionKey: aws.String(keys[i])})
		}
		for attempt := 0; len(entries) > 0; attempt++ {
			if attempt == 10 {
				tb.Fatalf("put records: %d still refused after 10 attempts", len(entries))
			}
			out, err := kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(streamName), Records: entries})
			if err != nil {
				tb.Fatalf("put records: %v", err)
			}
			var again []kintypes.PutRecordsRequestEntry
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					again = append(again, entries[i])
				}
			}
			entries = again
		}
	}
}

// Median is the median of xs (0 for none).
func Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
