package awsproxy

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

// TestProxy_KinesisShardsAndS3: calls through the proxy reach kinesis-local
// and s3rver (signatures still hold), and the proxy names each operation, the
// shard each GetRecords read through a chain of iterators, and the records
// and bytes.
func TestProxy_KinesisShardsAndS3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kp := Start(t, emulator.Endpoint(t, awsconf.Kinesis))
	sp := Start(t, emulator.Endpoint(t, awsconf.S3))
	conf := emulator.AWS(t)
	conf.Endpoints.Kinesis, conf.Endpoints.S3 = kp.URL(), sp.URL()
	kin := awsconf.NewKinesis(emulator.AWSConfig(t), conf)
	s3c := awsconf.NewS3(emulator.AWSConfig(t), conf)

	name := emulator.Name(t, "awsproxy")
	if _, err := kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = emulator.Kinesis(t).DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	testkit.WaitFor(t, "stream active", time.Minute, 100*time.Millisecond, func() (bool, string) {
		out, err := kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			return false, err.Error()
		}
		return out.StreamDescriptionSummary.StreamStatus == kintypes.StreamStatusActive, string(out.StreamDescriptionSummary.StreamStatus)
	})
	put, err := kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: []kintypes.PutRecordsRequestEntry{
		{Data: []byte("a"), PartitionKey: aws.String("k1")}, {Data: []byte("b"), PartitionKey: aws.String("k1")}, {Data: []byte("c"), PartitionKey: aws.String("k1")},
	}})
	if err != nil || aws.ToInt32(put.FailedRecordCount) != 0 {
		t.Fatalf("put records: %v (%v failed)", err, put)
	}
	shard := aws.ToString(put.Records[0].ShardId)
	it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shard), ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	iter := it.ShardIterator
	var got []int
	for range 2 {
		out, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, len(out.Records))
		iter = out.NextShardIterator
	}

	bucket := emulator.Name(t, "awsproxy")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("lake/x.parquet"), Body: bytes.NewReader(make([]byte, 1234))}); err != nil {
		t.Fatalf("put object through the proxy: %v", err)
	}

	var reads []Call
	for _, c := range kp.Calls() {
		if c.Op == "GetRecords" {
			reads = append(reads, c)
		}
	}
	if len(reads) != 2 || reads[0].Shard != shard || reads[1].Shard != shard || reads[0].Records != 2 || reads[1].Records != 1 {
		t.Errorf("GetRecords calls recorded as %+v; want 2 on %s returning 2 and 1 records (the client saw %v)", reads, shard, got)
	}
	calls := kp.Calls()
	if n := Count(calls, "PutRecords"); n != 1 {
		t.Errorf("%d PutRecords recorded, want 1", n)
	}
	for _, c := range calls {
		if c.Op == "PutRecords" && c.Records != 3 {
			t.Errorf("PutRecords recorded with %d records, want 3", c.Records)
		}
		if c.Op == "GetShardIterator" && c.Shard != shard {
			t.Errorf("GetShardIterator recorded on %q, want %s", c.Shard, shard)
		}
	}
	sc := sp.Calls()
	if Count(sc, "CreateBucket") != 1 || Count(sc, "PutObject") != 1 {
		t.Errorf("S3 calls recorded: %+v; want one CreateBucket and one PutObject", sc)
	}
	for _, c := range sc {
		if c.Op == "PutObject" && (c.Bytes != 1234 || c.Status != 200) {
			t.Errorf("PutObject recorded with %d bytes, status %d; want 1234, 200", c.Bytes, c.Status)
		}
	}
}
