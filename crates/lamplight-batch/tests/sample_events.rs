//! Full sample events in the shapes `sam local generate-event` writes (SQS, SNS, DynamoDB
//! stream, S3, EventBridge schedule), decoded the way `lamplight::run` decodes them into the
//! types the template's variants use, and handled by lamplight-batch where it applies.

use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use lamplight::{BoxError, Invocation};
use serde_json::Value;

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn invocation() -> Invocation {
    Invocation::builder()
        .remaining(Duration::from_secs(10))
        .build()
}

/// Runs `handler` on the sample through `lamplight::respond` (the same decoding as `run`) and
/// returns the JSON response, failing the test with the error document otherwise.
async fn respond<Ev, R, F, Fut>(name: &str, handler: F) -> Value
where
    Ev: serde::de::DeserializeOwned,
    R: serde::Serialize,
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, BoxError>>,
{
    let bytes = lamplight::respond(handler, &sample(name), invocation())
        .await
        .unwrap_or_else(|doc| panic!("{name}: {doc}"));
    serde_json::from_slice(&bytes).expect("JSON response")
}

fn is_order(json: &str) -> Result<(), BoxError> {
    let order: Value = serde_json::from_str(json)?;
    if order["orderId"].is_string() {
        Ok(())
    } else {
        Err("no orderId".into())
    }
}

#[tokio::test]
async fn sqs_sample_reports_only_the_message_that_failed() {
    let response = respond("sqs", |event: SqsEvent, _inv| async move {
        let first = &event.records[0];
        assert_eq!(first.event_source.as_deref(), Some("aws:sqs"));
        assert_eq!(
            first
                .attributes
                .get("ApproximateReceiveCount")
                .map(String::as_str),
            Some("1")
        );
        assert_eq!(
            first.message_attributes["Priority"].string_value.as_deref(),
            Some("high")
        );
        Ok::<_, BoxError>(
            lamplight_batch::sqs(event, 4, |message| async move {
                is_order(message.body.as_deref().unwrap_or_default())
            })
            .await,
        )
    })
    .await;
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}])
    );
}

#[tokio::test]
async fn sns_sample_carries_the_message_and_its_attributes() {
    let response = respond("sns", |event: SnsEvent, _inv| async move {
        let record = &event.records[0];
        assert_eq!(record.event_source, "aws:sns");
        assert_eq!(record.sns.subject.as_deref(), Some("TestInvoke"));
        assert_eq!(record.sns.message_attributes["Test"].value, "TestString");
        let handled =
            lamplight_batch::sns(
                event,
                4,
                |record| async move { is_order(&record.sns.message) },
            )
            .await?;
        Ok::<_, BoxError>(handled)
    })
    .await;
    assert_eq!(response, 1);
}

#[tokio::test]
async fn dynamodb_sample_has_typed_images_for_insert_modify_and_remove() {
    let response = respond("dynamodb", |event: DynamoDbEvent, _inv| async move {
        let names: Vec<&str> = event
            .records
            .iter()
            .map(|r| r.event_name.as_str())
            .collect();
        assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);
        Ok::<_, BoxError>(
            lamplight_batch::dynamodb(event, 4, |record| async move {
                // A removed item has no new image: the handler refuses it, so it is reported.
                #[derive(serde::Deserialize)]
                struct Stock {
                    quantity: u32,
                }
                let stock: Stock = lamplight_batch::new_image(&record)?;
                assert!(stock.quantity > 0);
                Ok::<_, BoxError>(())
            })
            .await,
        )
    })
    .await;
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "4421584500000000017450439093"}])
    );
}

#[tokio::test]
async fn s3_sample_names_the_bucket_and_the_encoded_key() {
    let response = respond("s3", |event: S3Event, _inv| async move {
        let record = &event.records[0];
        Ok::<_, BoxError>(serde_json::json!({
            "source": record.event_source,
            "name": record.event_name,
            "bucket": record.s3.bucket.name,
            "key": record.s3.object.key,
            "size": record.s3.object.size,
        }))
    })
    .await;
    assert_eq!(
        response,
        serde_json::json!({
            "source": "aws:s3",
            "name": "ObjectCreated:Put",
            "bucket": "example-bucket",
            "key": "reports/2026+March/sales%281%29.csv",
            "size": 1024,
        })
    );
}

#[tokio::test]
async fn eventbridge_schedule_sample_has_its_time_and_rule() {
    let response = respond(
        "eventbridge-schedule",
        |event: EventBridgeEvent, _inv| async move {
            Ok::<_, BoxError>(serde_json::json!({
                "detailType": event.detail_type,
                "source": event.source,
                "time": event.time.map(|t| t.to_rfc3339()),
                "resources": event.resources,
            }))
        },
    )
    .await;
    assert_eq!(response["detailType"], "Scheduled Event");
    assert_eq!(response["source"], "aws.events");
    assert_eq!(response["time"], "1970-01-01T00:00:00+00:00");
    assert_eq!(
        response["resources"][0],
        "arn:aws:events:us-east-1:123456789012:rule/ExampleRule"
    );
}

#[tokio::test]
async fn a_sample_of_another_source_fails_with_the_field_at_fault() {
    let error = lamplight::respond(
        |_event: SqsEvent, _inv| async move { Ok::<_, BoxError>(()) },
        &sample("eventbridge-schedule"),
        invocation(),
    )
    .await
    .expect_err("an EventBridge event is not an SQS batch");
    let text = error.to_string();
    assert!(text.contains("InvalidEvent"), "{text}");
    assert!(text.contains("Records"), "{text}");
}
