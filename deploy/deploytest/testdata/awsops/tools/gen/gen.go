// Fixture: a tool of the module, not reached from the entry package.
package main

import "github.com/aws/aws-sdk-go-v2/service/s3"

func main() { _ = &s3.DeleteObjectsInput{} }
