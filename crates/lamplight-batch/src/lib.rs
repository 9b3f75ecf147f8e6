//! Batch events, one record at a time, many at once: each record is handed to your function
//! with at most `limit` running together; a record that fails is reported back to Lambda so
//! that only it is retried, and every failure is logged with its record id.
//!
//! | source | function | what Lambda gets back |
//! |---|---|---|
//! | SQS | [`sqs`] | `batchItemFailures` with the failed message ids (enable `ReportBatchItemFailures`) |
//! | Kinesis | [`kinesis`] | `batchItemFailures` with the failed sequence numbers |
//! | DynamoDB streams | [`dynamodb()`] | `batchItemFailures` with the failed sequence numbers |
//! | SNS | [`sns`] | an error naming every failed message (SNS retries the whole delivery) |
//! | Amazon MQ (ActiveMQ) | [`activemq`] | an error naming every failed message (the batch is retried) |
//! | Amazon MQ (RabbitMQ) | [`rabbitmq`] | an error naming every failed message (the batch is retried) |
//!
//! A DynamoDB stream record's images become your own types with [`new_image`], [`old_image`]
//! and [`image`] (straight from DynamoDB's attribute maps, no JSON in between).
//!
//! ```
//! use aws_lambda_events::event::sqs::SqsEvent;
//!
//! # tokio_test::block_on(async {
//! let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
//!     {"messageId": "m-1", "body": "42"},
//!     {"messageId": "m-2", "body": "not a number"},
//! ]})).unwrap();
//! let response = lamplight_batch::sqs(event, 8, |message| async move {
//!     message.body.unwrap_or_default().parse::<u32>().map(|_| ())
//! })
//! .await;
//! let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
//! assert_eq!(failed, ["m-2"]);
//! # });
//! ```

mod images;

use std::future::Future;

use aws_lambda_events::event::activemq::{ActiveMqEvent, ActiveMqMessage};
use aws_lambda_events::event::dynamodb;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::rabbitmq::{RabbitMqEvent, RabbitMqMessage};
use aws_lambda_events::event::sns::{SnsEvent, SnsRecord};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{
    DynamoDbBatchItemFailure, DynamoDbEventResponse, KinesisBatchItemFailure, KinesisEventResponse,
};
use lamplight::BoxError;
use lamplight::concurrent::{AggregateError, all_settled_bounded};

pub use aws_lambda_events;
pub use images::{Image, ImageError, image, new_image, old_image};

/// Runs `f` on every record labelled by `id`; returns the ids of the failures, in input order.
async fn failed_ids<R, F, Fut, E>(
    kind: &str,
    records: Vec<R>,
    id: impl Fn(&R) -> Option<String>,
    limit: usize,
    mut f: F,
) -> Vec<String>
where
    F: FnMut(R) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let tasks: Vec<_> = records
        .into_iter()
        .map(|record| {
            // A record without an id cannot be reported alone: an empty identifier makes
            // Lambda retry the whole batch, so nothing is lost.
            let label = id(&record).unwrap_or_default();
            (label, f(record))
        })
        .collect();
    let settled = all_settled_bounded(tasks, limit).await;
    let total = settled.len();
    let failures: Vec<String> = settled
        .failures()
        .map(|failure| {
            tracing::warn!(record = %failure.label, "{kind} record failed: {failure}");
            failure.label.clone()
        })
        .collect();
    if !failures.is_empty() {
        tracing::warn!(
            "{} of {total} {kind} records failed and will be retried",
            failures.len()
        );
    }
    failures
}

/// Processes an SQS batch; the failed messages go back to the queue.
pub async fn sqs<F, Fut, E>(event: SqsEvent, limit: usize, f: F) -> SqsBatchResponse
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let failed = failed_ids("SQS", event.records, |m| m.message_id.clone(), limit, f).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Processes a Kinesis batch; Lambda retries from the first failed record.
pub async fn kinesis<F, Fut, E>(event: KinesisEvent, limit: usize, f: F) -> KinesisEventResponse
where
    F: FnMut(KinesisEventRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let failed = failed_ids(
        "Kinesis",
        event.records,
        |r| Some(r.kinesis.sequence_number.clone()),
        limit,
        f,
    )
    .await;
    let mut response = KinesisEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(id);
            failure
        })
        .collect();
    response
}

/// Processes a DynamoDB stream batch; Lambda retries from the first failed record.
pub async fn dynamodb<F, Fut, E>(
    event: dynamodb::Event,
    limit: usize,
    f: F,
) -> DynamoDbEventResponse
where
    F: FnMut(dynamodb::EventRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let failed = failed_ids(
        "DynamoDB",
        event.records,
        |r| r.change.sequence_number.clone(),
        limit,
        f,
    )
    .await;
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(id);
            failure
        })
        .collect();
    response
}

/// Processes every SNS record; any failure fails the invocation with one error naming each
/// failed message (SNS has no partial failures: it retries the delivery).
pub async fn sns<F, Fut, E>(event: SnsEvent, limit: usize, f: F) -> Result<usize, AggregateError>
where
    F: FnMut(SnsRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let mut f = f;
    let tasks: Vec<_> = event
        .records
        .into_iter()
        .map(|record| (format!("SNS message {}", record.sns.message_id), f(record)))
        .collect();
    let settled = all_settled_bounded(tasks, limit).await;
    settled.into_result().map(|done| done.len())
}

/// Processes every ActiveMQ message of an Amazon MQ batch; any failure fails the invocation
/// with one error naming each failed message (MQ has no partial failures: Lambda retries the
/// batch, so make the work idempotent).
pub async fn activemq<F, Fut, E>(
    event: ActiveMqEvent,
    limit: usize,
    f: F,
) -> Result<usize, AggregateError>
where
    F: FnMut(ActiveMqMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let mut f = f;
    let tasks: Vec<_> = event
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, message)| {
            let id = message
                .message_id
                .clone()
                .unwrap_or_else(|| format!("#{i}"));
            (format!("ActiveMQ message {id}"), f(message))
        })
        .collect();
    all_settled_bounded(tasks, limit)
        .await
        .into_result()
        .map(|done| done.len())
}

/// Processes every RabbitMQ message of an Amazon MQ batch, each with its `queue::vhost`; any
/// failure fails the invocation with one error naming each failed message (the batch is
/// retried).
pub async fn rabbitmq<F, Fut, E>(
    event: RabbitMqEvent,
    limit: usize,
    f: F,
) -> Result<usize, AggregateError>
where
    F: FnMut(String, RabbitMqMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let mut f = f;
    let mut queues: Vec<_> = event.messages_by_queue.into_iter().collect();
    // The event's map has no order: process (and name failures) in queue order.
    queues.sort_by(|a, b| a.0.cmp(&b.0));
    let tasks: Vec<_> = queues
        .into_iter()
        .flat_map(|(queue, messages)| {
            messages
                .into_iter()
                .enumerate()
                .map(move |(i, m)| (queue.clone(), i, m))
        })
        .map(|(queue, i, message)| {
            let id = message
                .basic_properties
                .message_id
                .clone()
                .unwrap_or_else(|| format!("#{i}"));
            (
                format!("RabbitMQ message {id} of {queue}"),
                f(queue, message),
            )
        })
        .collect();
    all_settled_bounded(tasks, limit)
        .await
        .into_result()
        .map(|done| done.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn activemq_failures_are_named_in_one_error() {
        let event: ActiveMqEvent = serde_json::from_value(json!({
            "eventSource": "aws:mq",
            "eventSourceArn": "arn:aws:mq:us-west-2:123456789012:broker:b:b-1",
            "messages": [
                {"messageID": "ID:1", "messageType": "jms/text-message", "timestamp": 1, "deliveryMode": 1,
                 "destination": {"physicalName": "orders"}, "redelivered": false, "expiration": 0,
                 "priority": 0, "data": "MTI=", "brokerInTime": 1, "brokerOutTime": 2, "properties": {}},
                {"messageID": "ID:2", "messageType": "jms/text-message", "timestamp": 1, "deliveryMode": 1,
                 "destination": {"physicalName": "orders"}, "redelivered": false, "expiration": 0,
                 "priority": 0, "data": "eA==", "brokerInTime": 1, "brokerOutTime": 2, "properties": {}}
            ]
        }))
        .expect("event");
        let error = activemq(event, 4, |m| async move {
            if m.data.as_deref() == Some("eA==") {
                Err("not a number")
            } else {
                Ok(())
            }
        })
        .await
        .expect_err("one fails");
        assert_eq!(error.failures().len(), 1);
        assert!(
            error
                .to_string()
                .contains("ActiveMQ message ID:2: not a number"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn rabbitmq_messages_carry_their_queue() {
        let message = |id: &str| {
            json!({"basicProperties": {"contentType": "text/plain", "headers": {}, "deliveryMode": 1,
                    "priority": 0, "messageId": id, "bodySize": 2}, "redelivered": false, "data": "MTI="})
        };
        let event: RabbitMqEvent = serde_json::from_value(json!({
            "eventSource": "aws:rmq",
            "eventSourceArn": "arn:aws:mq:us-west-2:123456789012:broker:b:b-1",
            "rmqMessagesByQueue": {
                "orders::/": [message("o-1"), message("o-2")],
                "audit::/": [message("a-1")]
            }
        }))
        .expect("event");
        let seen = std::sync::Mutex::new(Vec::new());
        let error = rabbitmq(event, 2, |queue, m| {
            let id = m.basic_properties.message_id.unwrap_or_default();
            seen.lock().expect("lock").push(format!("{queue} {id}"));
            async move { if id == "o-2" { Err("refused") } else { Ok(()) } }
        })
        .await
        .expect_err("one fails");
        assert_eq!(
            seen.into_inner().expect("lock"),
            ["audit::/ a-1", "orders::/ o-1", "orders::/ o-2"]
        );
        assert!(
            error
                .to_string()
                .contains("RabbitMQ message o-2 of orders::/: refused"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn only_the_failed_stream_records_are_reported() {
        let event: dynamodb::Event = serde_json::from_value(json!({"Records": [
            {"eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000",
             "dynamodb": {"ApproximateCreationDateTime": 1479499740, "Keys": {"Id": {"N": "1"}}, "SequenceNumber": "100", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}},
            {"eventID": "2", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000",
             "dynamodb": {"ApproximateCreationDateTime": 1479499740, "Keys": {"Id": {"N": "2"}}, "SequenceNumber": "200", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}},
            {"eventID": "3", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000",
             "dynamodb": {"ApproximateCreationDateTime": 1479499740, "Keys": {"Id": {"N": "3"}}, "SequenceNumber": "300", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}},
        ]}))
        .expect("event");
        let response = dynamodb(event, 2, |record| async move {
            if record.event_id == "2" {
                Err("conflict")
            } else {
                Ok(())
            }
        })
        .await;
        let ids: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(ids, [Some("200".to_owned())]);
    }

    #[tokio::test]
    async fn sns_failures_are_aggregated() {
        let event: SnsEvent = serde_json::from_value(json!({"Records": [
            {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn", "Sns": {
                "Type": "Notification", "MessageId": "a", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Message": "ok", "Timestamp": "2026-01-01T00:00:00.000Z", "SignatureVersion": "1",
                "Signature": "s", "SigningCertUrl": "u", "UnsubscribeUrl": "u", "MessageAttributes": {}}},
            {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn", "Sns": {
                "Type": "Notification", "MessageId": "b", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Message": "bad", "Timestamp": "2026-01-01T00:00:00.000Z", "SignatureVersion": "1",
                "Signature": "s", "SigningCertUrl": "u", "UnsubscribeUrl": "u", "MessageAttributes": {}}},
        ]}))
        .expect("event");
        let err = sns(event, 4, |record| async move {
            if record.sns.message == "bad" {
                Err("unparseable")
            } else {
                Ok(())
            }
        })
        .await
        .expect_err("one failed");
        assert_eq!(
            err.to_string(),
            "1 of 2 tasks failed:\n  - SNS message b: unparseable"
        );
    }
}
