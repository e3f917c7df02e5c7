// Fixture: a runtime package that also holds a helper only bootstrap calls.
package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// API is a narrow interface; DeleteBucket is declared but never called.
type API interface {
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteBucket(context.Context, *s3.DeleteBucketInput, ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
	CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
}

var _ API = (*s3.Client)(nil)

type Store struct{ api API }

func New(api API) *Store { return &Store{api: api} }

func (s *Store) Run(ctx context.Context) error {
	if _, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: nil}); err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(s.api, &s3.ListObjectsV2Input{})
	_ = p
	return s.put(ctx, s.input())
}

// input builds the request a method receives.
func (s *Store) input() *s3.PutObjectInput { return &s3.PutObjectInput{} }

func (s *Store) put(ctx context.Context, in *s3.PutObjectInput) error {
	_, err := s.api.PutObject(ctx, in)
	return err
}

// EnsureTable is used by the runtime (through the queue) and by bootstrap.
func EnsureTable(ctx context.Context, api interface{}, name string) error {
	_ = &dynamodb.DescribeTableInput{}
	_ = &dynamodb.CreateTableInput{}
	return nil
}

// EnsureBucket is only used by bootstrap.
func EnsureBucket(ctx context.Context, api API) error {
	_, err := api.CreateBucket(ctx, &s3.CreateBucketInput{})
	return err
}
