package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// SNSAPI is the part of the SNS client the channel uses.
type SNSAPI interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ SNSAPI = (*sns.Client)(nil)

// Formats of an SNS channel.
const (
	FormatEmail = "email"
	FormatSMS   = "sms"
	FormatBoth  = "both"
)

// SNS publishes to one topic. Throttling and 5xx answers are retried by the
// SDK's standard retryer (exponential backoff with jitter); what still fails
// is returned for the outbox to retry later.
type SNS struct {
	api    SNSAPI
	topic  string
	format string
}

var _ Sender = (*SNS)(nil)

// NewSNS returns a Sender publishing to topicARN in format email, sms or both.
func NewSNS(api SNSAPI, topicARN, format string) *SNS {
	if format == "" {
		format = FormatBoth
	}
	return &SNS{api: api, topic: topicARN, format: format}
}

// Send publishes m.
func (s *SNS) Send(ctx context.Context, m Message) error {
	in, err := PublishInput(s.topic, s.format, m)
	if err != nil {
		return err
	}
	if _, err := s.api.Publish(ctx, in); err != nil {
		return fmt.Errorf("publish to %s: %w", s.topic, err)
	}
	return nil
}

// IDAttribute is the message attribute holding the notification's ID
// (Message.ID), the same across retries and across a redelivery after a
// crash between the publish and its "sent" mark: subscribers that can
// (HTTP, SQS, Lambda) drop a repeat by it.
const IDAttribute = "notification_id"

// PublishInput builds the Publish call for m: MessageStructure=json with a
// "default" text plus "email" and/or "sms" texts, the email Subject, and the
// attributes as String message attributes.
func PublishInput(topicARN, format string, m Message) (*sns.PublishInput, error) {
	texts := map[string]string{}
	switch format {
	case FormatSMS:
		texts["default"] = m.SMS
		texts["sms"] = m.SMS
	case FormatEmail:
		texts["default"] = m.Text
		texts["email"] = m.Text
	default:
		texts["default"] = m.Text
		texts["email"] = m.Text
		texts["sms"] = m.SMS
	}
	doc, err := json.Marshal(texts)
	if err != nil {
		return nil, fmt.Errorf("encode message structure: %w", err)
	}
	in := &sns.PublishInput{
		TopicArn:         aws.String(topicARN),
		Message:          aws.String(string(doc)),
		MessageStructure: aws.String("json"),
	}
	if format != FormatSMS && m.Subject != "" {
		in.Subject = aws.String(Subject(m.Subject))
	}
	attrs := m.Attributes
	if m.ID != "" {
		attrs = maps.Clone(attrs)
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs[IDAttribute] = m.ID
	}
	if len(attrs) > 0 {
		keys := make([]string, 0, len(attrs))
		for k := range attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		in.MessageAttributes = make(map[string]types.MessageAttributeValue, len(keys))
		for _, k := range keys {
			if v := attrs[k]; v != "" {
				in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
			}
		}
	}
	return in, nil
}
