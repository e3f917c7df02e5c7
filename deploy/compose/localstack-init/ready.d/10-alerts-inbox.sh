#!/bin/bash
# LocalStack runs this once it is ready (before its healthcheck passes, so
# before `weatherd bootstrap`): an SQS queue subscribed to the alert topic,
# where a developer can read what weatherd publishes:
#
#   docker compose exec localstack awslocal sqs receive-message \
#     --queue-url http://localhost:4566/000000000000/weatherd-alerts-inbox \
#     --max-number-of-messages 10 --wait-time-seconds 10
#
# CreateTopic, CreateQueue and Subscribe are idempotent, and bootstrap's own
# CreateTopic of the same name returns this topic.
set -euo pipefail

topic_arn=$(awslocal sns create-topic --name weatherd-alerts --query TopicArn --output text)
queue_url=$(awslocal sqs create-queue --queue-name weatherd-alerts-inbox --query QueueUrl --output text)
queue_arn=$(awslocal sqs get-queue-attributes --queue-url "$queue_url" \
  --attribute-names QueueArn --query Attributes.QueueArn --output text)
awslocal sns subscribe --topic-arn "$topic_arn" --protocol sqs \
  --notification-endpoint "$queue_arn" --output text >/dev/null

echo "weatherd: $queue_arn subscribed to $topic_arn"
