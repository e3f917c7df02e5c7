// Package awsproxy records the AWS calls weatherd makes, for benchmarks that
// count or time them: an HTTP reverse proxy on loopback in front of one
// emulator that notes each request's operation, size and time, and for
// Kinesis which shard a GetShardIterator or GetRecords call read.
//
// Kinesis shard iterators are opaque, so the proxy learns each iterator's
// shard from the GetShardIterator call that returned it and follows it
// through every GetRecords answer's NextShardIterator.
//
// faultproxy works on TCP and cannot see requests; this one parses them.
package awsproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxBody bounds what the proxy reads of one request or answer; the
// emulators' calls are far smaller (a GetRecords answer is at most 10 MB).
const maxBody = 64 << 20

// Call is one request forwarded to the emulator.
type Call struct {
	// At is when the request reached the proxy, Done when its answer had
	// been read.
	At, Done time.Time
	// Op is the API operation: the X-Amz-Target's action (DynamoDB,
	// Kinesis), the Action form field (SNS, SQS) or the S3 REST operation
	// (PutObject, GetObject, ListObjectsV2, ...).
	Op string
	// Shard is the shard a Kinesis GetShardIterator or GetRecords call read.
	Shard string
	// Records is how many records a Kinesis GetRecords call returned or a
	// PutRecords call sent.
	Records int
	// Bytes is the request body's length.
	Bytes int64
	// Status is the answer's HTTP status (0: no answer).
	Status int
}

// Proxy forwards HTTP requests from its loopback address to one emulator
// and records them.
type Proxy struct {
	srv *http.Server
	ln  net.Listener

	mu    sync.Mutex
	calls []Call
	iters map[string]string // Kinesis shard iterator → shard
}

// Start listens on 127.0.0.1:0 and forwards to upstream (a URL such as
// "http://127.0.0.1:4569"). The proxy stops when the test ends.
func Start(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	target, err := url.Parse(upstream)
	if err != nil || target.Host == "" {
		tb.Fatalf("awsproxy: upstream %q: want a URL such as http://127.0.0.1:4569", upstream)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("awsproxy: listen: %v", err)
	}
	p := &Proxy{ln: ln, iters: map[string]string{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// The request is signed for the Host the client sent.
			r.Out.Host = r.In.Host
		},
		Transport: recorder{p: p, next: http.DefaultTransport},
		// A client killed mid-call (the scale-out benchmark's SIGKILL) is
		// expected; the client sees any other failure as a 502.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	tb.Cleanup(func() { _ = p.srv.Close() })
	return p
}

// URL is the proxy's "http://127.0.0.1:port", for endpoint settings.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Calls returns a copy of the calls recorded so far, in the order their
// answers arrived.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Count is how many of calls are op.
func Count(calls []Call, op string) int {
	n := 0
	for _, c := range calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Between returns the calls that reached the proxy in [from, to).
func Between(calls []Call, from, to time.Time) []Call {
	var out []Call
	for _, c := range calls {
		if !c.At.Before(from) && c.At.Before(to) {
			out = append(out, c)
		}
	}
	return out
}

// recorder is the proxy's transport: it forwards a request and records it.
type recorder struct {
	p    *Proxy
	next http.RoundTripper
}

func (rt recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	c := Call{At: time.Now()}
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
	}
	c.Bytes = int64(len(body))
	c.Op = operation(req, body)
	resp, err := rt.next.RoundTrip(req)
	var answer []byte
	if err == nil {
		c.Status = resp.StatusCode
		if strings.HasPrefix(req.Header.Get("X-Amz-Target"), "Kinesis_") {
			answer, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(answer))
		}
	}
	c.Done = time.Now()
	rt.p.record(c, body, answer)
	return resp, err
}

// record notes c, following Kinesis iterators to their shards.
func (p *Proxy) record(c Call, body, answer []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch c.Op {
	case "GetShardIterator":
		var in struct{ ShardId string }
		var out struct{ ShardIterator string }
		_ = json.Unmarshal(body, &in)
		c.Shard = in.ShardId
		if json.Unmarshal(answer, &out) == nil && out.ShardIterator != "" {
			p.iters[out.ShardIterator] = in.ShardId
		}
	case "GetRecords":
		var in struct{ ShardIterator string }
		var out struct {
			NextShardIterator string
			Records           []struct{}
		}
		_ = json.Unmarshal(body, &in)
		c.Shard = p.iters[in.ShardIterator]
		if json.Unmarshal(answer, &out) == nil {
			c.Records = len(out.Records)
			if out.NextShardIterator != "" && c.Shard != "" {
				delete(p.iters, in.ShardIterator)
				p.iters[out.NextShardIterator] = c.Shard
			}
		}
	case "PutRecords":
		var in struct{ Records []struct{} }
		_ = json.Unmarshal(body, &in)
		c.Records = len(in.Records)
	case "PutRecord":
		c.Records = 1
	}
	p.calls = append(p.calls, c)
}

// operation names req's API operation.
func operation(req *http.Request, body []byte) string {
	if t := req.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndexByte(t, '.')+1:]
	}
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			return v.Get("Action")
		}
	}
	return s3Operation(req)
}

// s3Operation names an S3 REST request (path-style addressing).
func s3Operation(req *http.Request) string {
	q := req.URL.Query()
	key := strings.Contains(strings.Trim(req.URL.Path, "/"), "/")
	switch req.Method {
	case http.MethodPut:
		switch {
		case q.Has("partNumber"):
			return "UploadPart"
		case !key:
			return "CreateBucket"
		case req.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return "CreateMultipartUpload"
		case q.Has("uploadId"):
			return "CompleteMultipartUpload"
		case q.Has("delete"):
			return "DeleteObjects"
		}
	case http.MethodGet:
		if !key {
			if q.Get("list-type") == "2" {
				return "ListObjectsV2"
			}
			return "ListObjects"
		}
		return "GetObject"
	case http.MethodHead:
		if !key {
			return "HeadBucket"
		}
		return "HeadObject"
	case http.MethodDelete:
		if q.Has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	}
	return req.Method + " " + req.URL.Path
}
