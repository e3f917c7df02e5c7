// Fixture: bootstrap calls a shared helper, a bootstrap-only helper of a
// runtime package, and the SDK client directly.
package bootstrap

import (
	"context"

	"example.com/app/pkg/store"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

func Run(ctx context.Context) error {
	if err := store.EnsureTable(ctx, nil, "leases"); err != nil {
		return err
	}
	if err := store.EnsureBucket(ctx, nil); err != nil {
		return err
	}
	c := sns.NewFromConfig(aws.Config{})
	_, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("alerts")})
	return err
}
