package store

import "github.com/aws/aws-sdk-go-v2/service/s3"

// Tests are not the program: DeleteObject must not count.
var _ = &s3.DeleteObjectInput{}
