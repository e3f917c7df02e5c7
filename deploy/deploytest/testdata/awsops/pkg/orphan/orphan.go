// Fixture: nothing imports this package; its calls need no permission.
package orphan

import "github.com/aws/aws-sdk-go-v2/service/sqs"

func Send() { _ = &sqs.SendMessageInput{} }
