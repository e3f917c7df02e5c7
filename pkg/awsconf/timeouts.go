package awsconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/weatherd/weatherd/pkg/check"
)

// Timeouts bound every AWS call, so a connection that stays open while
// nothing answers (a black hole) fails the call instead of hanging it.
//
// Connect and ResponseHeader apply to each HTTP attempt. The others are
// per-call deadlines: they cover the whole operation, the SDK's retries
// included, and are cut shorter by the caller's own context deadline (a
// lease renewal, for instance, never outlives the lease).
type Timeouts struct {
	// Connect bounds the TCP connect and the TLS handshake of a new
	// connection.
	Connect time.Duration `mapstructure:"connect"`
	// ResponseHeader bounds the wait for the response headers once the
	// request is sent.
	ResponseHeader time.Duration `mapstructure:"response_header"`
	// Default is the deadline of every call without its own below.
	Default time.Duration `mapstructure:"default"`
	// DynamoDB is the deadline of every DynamoDB call: lease table
	// (take, renew, checkpoint, release), poller leadership and alert state.
	DynamoDB time.Duration `mapstructure:"dynamodb"`
	// GetRecords is the deadline of Kinesis GetRecords.
	GetRecords time.Duration `mapstructure:"get_records"`
	// PutRecords is the deadline of Kinesis PutRecords and PutRecord.
	PutRecords time.Duration `mapstructure:"put_records"`
	// PutObject is the deadline of S3 PutObject (lake objects).
	PutObject time.Duration `mapstructure:"put_object"`
	// Publish is the deadline of SNS Publish and PublishBatch.
	Publish time.Duration `mapstructure:"publish"`
}

// Validate reports every problem in the section at key.
func (t Timeouts) Validate(key string, ps *check.Problems) {
	for _, f := range t.fields() {
		if *f.v <= 0 {
			ps.Add(check.Key(key, f.key), "got %s, want a positive duration", *f.v)
		}
	}
}

type timeoutField struct {
	key string
	v   *time.Duration
}

// fields lists the timeouts with their keys.
func (t *Timeouts) fields() []timeoutField {
	return []timeoutField{
		{"connect", &t.Connect},
		{"response_header", &t.ResponseHeader},
		{"default", &t.Default},
		{"dynamodb", &t.DynamoDB},
		{"get_records", &t.GetRecords},
		{"put_records", &t.PutRecords},
		{"put_object", &t.PutObject},
		{"publish", &t.Publish},
	}
}

// forCall returns the deadline of operation op of service and the key that
// sets it (under aws.timeouts).
func (t Timeouts) forCall(service, op string) (time.Duration, string) {
	switch {
	case service == DynamoDB:
		return t.DynamoDB, "dynamodb"
	case service == Kinesis && op == "GetRecords":
		return t.GetRecords, "get_records"
	case service == Kinesis && (op == "PutRecords" || op == "PutRecord"):
		return t.PutRecords, "put_records"
	case service == S3 && op == "PutObject":
		return t.PutObject, "put_object"
	case service == SNS && (op == "Publish" || op == "PublishBatch"):
		return t.Publish, "publish"
	}
	return t.Default, "default"
}

// CallTimeoutError is the error of a call cut by its aws.timeouts deadline
// (not by the caller's context). It unwraps to the SDK's error, which wraps
// context.DeadlineExceeded.
type CallTimeoutError struct {
	Service, Operation string
	// Limit is the deadline that cut the call, and Key the aws.timeouts key
	// that sets it.
	Limit time.Duration
	Key   string
	Err   error
}

func (e *CallTimeoutError) Error() string {
	return fmt.Sprintf("%s %s: no answer within %s (aws.timeouts.%s): %v", e.Service, e.Operation, e.Limit, e.Key, e.Err)
}

func (e *CallTimeoutError) Unwrap() error { return e.Err }

// retryMiddleware is the ID of the SDK's retry loop in the finalize step of
// every operation.
const retryMiddleware = "Retry"

// callDeadline is the middleware that gives one call its deadline. It runs
// right before the retry loop, so the deadline covers every attempt, the
// backoff between them and the credentials each one gets.
type callDeadline struct {
	service, op string
	limit       time.Duration
	key         string
}

func (callDeadline) ID() string { return "weatherdCallDeadline" }

func (m callDeadline) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	cctx, cancel := context.WithTimeout(ctx, m.limit)
	out, md, err := next.HandleFinalize(cctx, in)
	if err != nil {
		if errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = &CallTimeoutError{Service: m.service, Operation: m.op, Limit: m.limit, Key: m.key, Err: err}
		}
		cancel()
		return out, md, err
	}
	// A streamed body is read after the call returns: the deadline then
	// bounds the read, and ends when the body is closed.
	if r, ok := out.Result.(*s3.GetObjectOutput); ok && r.Body != nil {
		r.Body = &cancelOnClose{ReadCloser: r.Body, cancel: cancel}
		return out, md, nil
	}
	cancel()
	return out, md, nil
}

// cancelOnClose ends a call's deadline when its response body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.cancel)
	return err
}

// deadlineOption returns the client API option that adds the per-call
// deadline of service's operations.
func (t Timeouts) deadlineOption(service string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		op := stack.ID() // the operation name, e.g. "UpdateItem"
		limit, key := t.forCall(service, op)
		if err := stack.Finalize.Insert(callDeadline{service: service, op: op, limit: limit, key: key}, retryMiddleware, middleware.Before); err != nil {
			return fmt.Errorf("%s %s: add the call deadline: %w", service, op, err)
		}
		return nil
	}
}

// HTTPClient returns the SDK HTTP client with t's connect, TLS handshake
// and response-header timeouts (the SDK's default has no response timeout).
func (t Timeouts) HTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = t.Connect }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = t.Connect
			tr.ResponseHeaderTimeout = t.ResponseHeader
		})
}
