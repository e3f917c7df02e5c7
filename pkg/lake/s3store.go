package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3API is the part of the S3 client the lake uses.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// Multipart defaults: objects above the threshold are uploaded in parts
// (S3 wants parts of at least 5 MiB, except the last).
const (
	defaultMultipartThreshold = 16 << 20
	defaultPartSize           = 8 << 20
)

// abortTimeout bounds the clean-up of a failed multipart upload.
const abortTimeout = 30 * time.Second

// s3Store keeps objects in a bucket under a prefix. Retries of individual
// requests come from the SDK client's retryer; a failed Put fails the flush,
// which keeps its buffer and is retried whole.
type s3Store struct {
	api    S3API
	bucket string
	prefix string // "" or "a/b/"
	// MultipartThreshold and PartSize control multipart uploads.
	MultipartThreshold int
	PartSize           int
}

// openS3Store returns a store for bucket/prefix after checking the bucket is
// reachable with the client's credentials. The check lists the prefix
// (one key at most) rather than HeadBucket, which needs s3:ListBucket on
// the whole bucket: the task policy grants it for the lake prefix only.
func openS3Store(ctx context.Context, api S3API, bucket, prefix string) (*s3Store, error) {
	p := strings.Trim(prefix, "/")
	if p != "" {
		p += "/"
	}
	if _, err := api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(p), MaxKeys: aws.Int32(1)}); err != nil {
		return nil, fmt.Errorf("lake bucket %q is not reachable (does it exist, may we use it?): %w", bucket, err)
	}
	return &s3Store{api: api, bucket: bucket, prefix: p,
		MultipartThreshold: defaultMultipartThreshold, PartSize: defaultPartSize}, nil
}

func (s *s3Store) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// Put implements Store: one PutObject, or a multipart upload for big objects
// (S3 makes either visible atomically when it completes).
func (s *s3Store) Put(ctx context.Context, key string, data []byte) error {
	k := s.prefix + key
	if len(data) <= s.MultipartThreshold {
		_, err := s.api.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
			ContentType: aws.String(contentType(key)),
		})
		if err != nil {
			return fmt.Errorf("put s3://%s/%s: %w", s.bucket, k, err)
		}
		return nil
	}
	return s.putMultipart(ctx, k, data)
}

func (s *s3Store) putMultipart(ctx context.Context, k string, data []byte) error {
	up, err := s.api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(k), ContentType: aws.String(contentType(k)),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: create multipart upload: %w", s.bucket, k, err)
	}
	var parts []types.CompletedPart
	abort := func(cause error) error {
		// A fresh context: the upload must be aborted even when ctx ended.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if _, err := s.api.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: up.UploadId,
		}); err != nil {
			cause = errors.Join(cause, fmt.Errorf("abort multipart upload: %w", err))
		}
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, k, cause)
	}
	for off, n := 0, int32(1); off < len(data); off, n = off+s.PartSize, n+1 {
		end := min(off+s.PartSize, len(data))
		out, err := s.api.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(data[off:end]),
			ContentLength: aws.Int64(int64(end - off)),
		})
		if err != nil {
			return abort(fmt.Errorf("upload part %d: %w", n, err))
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	if _, err := s.api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		return abort(fmt.Errorf("complete multipart upload: %w", err))
	}
	return nil
}

func contentType(key string) string {
	if strings.HasSuffix(key, ".parquet") {
		return "application/vnd.apache.parquet"
	}
	return "application/x-ndjson"
}

// Get implements Store.
func (s *s3Store) Get(ctx context.Context, key string) ([]byte, error) {
	k := s.prefix + key
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, k, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, k, err)
	}
	return b, nil
}

// List implements Store.
func (s *s3Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.api, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", s.bucket, s.prefix+prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, ObjectInfo{
				Key:      strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
				Size:     aws.ToInt64(o.Size),
				Modified: aws.ToTime(o.LastModified),
			})
		}
	}
	return out, nil
}

// Delete implements Store.
func (s *s3Store) Delete(ctx context.Context, key string) error {
	k := s.prefix + key
	if _, err := s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", s.bucket, k, err)
	}
	return nil
}
