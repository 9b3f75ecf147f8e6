//! The real `charge` bootstrap under the local Lambda service, against moto's DynamoDB and SSM:
//! charged once per order, validated, its fee parameter cached for its TTL.

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_ssm::types::ParameterType;
use lamplight_local::{Code, FunctionConfig, LocalLambda};
use lamplight_test::moto::{ACCESS_KEY, Moto, REGION};
use serde_json::{Value, json};

const TABLE: &str = "powertools-idempotency";
const PARAMETER: &str = "/powertools/fee-percent";
const TTL_SECONDS: u64 = 3;

async fn sdk_config(endpoint: String, region: &'static str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            ACCESS_KEY,
            ACCESS_KEY,
            None,
            None,
            "powertools",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

async fn set_fee(ssm: &aws_sdk_ssm::Client, percent: &str) {
    ssm.put_parameter()
        .name(PARAMETER)
        .value(percent)
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("the parameter is stored");
}

/// The payload, and the function error kind if the function failed.
async fn invoke(client: &aws_sdk_lambda::Client, event: Value) -> (Value, Option<String>) {
    let out = client
        .invoke()
        .function_name("charge")
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .expect("the Invoke call succeeds");
    let payload = out
        .payload()
        .map(|p| serde_json::from_slice(p.as_ref()).expect("JSON payload"))
        .unwrap_or(Value::Null);
    (payload, out.function_error().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charges_once_per_order_validates_and_rereads_the_fee_after_its_ttl() {
    let moto = tokio::task::block_in_place(Moto::start).expect("moto starts");
    let aws = sdk_config(moto.endpoint(), REGION).await;
    aws_sdk_dynamodb::Client::new(&aws)
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("the table is created");
    let ssm = aws_sdk_ssm::Client::new(&aws);
    set_fee(&ssm, "2.5").await;

    let mut function = FunctionConfig::new(
        "charge",
        Code::Bootstrap(PathBuf::from(env!("CARGO_BIN_EXE_charge"))),
    )
    // One environment: the parameter cache under test lives in it.
    .max_environments(1)
    .timeout(Duration::from_secs(10))
    .env("FEE_PARAMETER", PARAMETER)
    .env("PARAMETERS_TTL_SECONDS", TTL_SECONDS.to_string())
    .env("IDEMPOTENCY_TABLE", TABLE)
    .env("LAMPLIGHT_AWS_MAX_ATTEMPTS", "1");
    for (name, value) in moto.env() {
        function = function.env(name, value);
    }
    let service = LocalLambda::builder()
        .function(function)
        .start()
        .await
        .expect("local service starts");
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(service.endpoint_url(), REGION).await);

    let (first, error) = invoke(&lambda, json!({"order_id": "o-1", "amount": 200.0})).await;
    assert_eq!(error, None, "{first}\n{}", moto.output());
    assert_eq!(first["order_id"], "o-1");
    assert_eq!(first["fee"], 5.0);
    let charge_id = first["charge_id"].as_str().expect("charge_id");
    assert_eq!(
        uuid::Uuid::parse_str(charge_id)
            .expect("a uuid")
            .get_version_num(),
        4
    );

    // A new fee is seen only once the cached one is older than the TTL.
    set_fee(&ssm, "10").await;
    let (other, error) = invoke(&lambda, json!({"order_id": "o-2", "amount": 10})).await;
    assert_eq!(error, None, "{other}");
    assert_ne!(other["charge_id"], first["charge_id"]);
    assert_eq!(other["order_id"], "o-2");
    assert_eq!(other["fee"], 0.25, "the fee was read again within its TTL");

    let (repeat, error) = invoke(&lambda, json!({"order_id": "o-1", "amount": 200.0})).await;
    assert_eq!(error, None, "{repeat}");
    assert_eq!(repeat, first, "a repeat of the order was charged again");

    let (document, error) = invoke(&lambda, json!({"order_id": "o-3", "amount": -4})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(document["errorType"], "ValidationError", "{document}");
    assert!(
        document["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("amount")),
        "{document}"
    );

    // The same order with another amount is refused, naming neither amount.
    let (document, error) = invoke(&lambda, json!({"order_id": "o-1", "amount": 300.0})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(
        document["errorType"], "IdempotencyValidationError",
        "{document}"
    );
    assert!(!document.to_string().contains("300"), "{document}");

    tokio::time::sleep(Duration::from_secs(TTL_SECONDS) + Duration::from_millis(300)).await;
    let (fresh, error) = invoke(&lambda, json!({"order_id": "o-4", "amount": 100})).await;
    assert_eq!(error, None, "{fresh}");
    assert_eq!(fresh["fee"], 10.0, "the new fee was not read after the TTL");
    let (repeat, _) = invoke(&lambda, json!({"order_id": "o-1", "amount": 200.0})).await;
    assert_eq!(repeat, first, "a stored charge changed with the fee");
}
