package emulator

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// NotificationIDs receives SNS notifications from an SQS queue subscribed to
// a topic (envelopes, not raw delivery) until want have arrived or within has
// passed, then once more so that extras show, deleting what it reads. It
// returns the notification_id message attribute of each, sorted; the test
// fails on a message that is not an SNS notification.
func NotificationIDs(tb testing.TB, qc *sqs.Client, queueURL string, want int, within time.Duration) []string {
	tb.Helper()
	var ids []string
	deadline := time.Now().Add(within)
	for last := false; ; {
		out, err := qc.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			tb.Fatalf("receive from %s: %v", queueURL, err)
		}
		for _, m := range out.Messages {
			var env struct {
				Type              string
				MessageAttributes map[string]struct{ Type, Value string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil || env.Type != "Notification" {
				tb.Fatalf("not an SNS notification (%v): %.300s", err, aws.ToString(m.Body))
			}
			ids = append(ids, env.MessageAttributes["notification_id"].Value)
			if _, err := qc.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				tb.Fatalf("delete from %s: %v", queueURL, err)
			}
		}
		if last && len(out.Messages) == 0 {
			break
		}
		last = last || len(ids) >= want || time.Now().After(deadline)
	}
	sort.Strings(ids)
	return ids
}
