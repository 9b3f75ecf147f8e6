//! The deploy code path that talks to AWS, pointed at the local Lambda service: the real test
//! function is packaged, created, published, aliased, invoked through its alias, updated.

mod common;

use common::*;
use lamplight_deploy::aws::Aws;
use lamplight_deploy::binary::Arch;
use lamplight_deploy::deploy::{self, Step};
use lamplight_deploy::ops;
use lamplight_deploy::package::package;
use lamplight_deploy::settings::DeploySettings;
use serde_json::json;

#[tokio::test]
async fn deploy_publish_alias_and_invoke_through_the_local_service() {
    let service = service(vec![]).await;
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .endpoint_url(service.endpoint_url())
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("local", "local", None, None, "test"),
            ),
        )
        .build();
    let aws = Aws::from_config(&config).await.expect("clients");
    let mut settings = DeploySettings::new("shipped");
    settings.arch = Arch::host().expect("a Lambda architecture");
    settings.role = Some("arn:aws:iam::123456789012:role/given".into());
    settings.env.insert("GREETING".into(), "deployed".into());
    let zip = package(&testfn(), &[]).expect("package");

    let plan = deploy::plan(&aws, &settings, &zip).await.expect("plan");
    assert!(plan.steps.contains(&Step::CreateFunction), "{plan}");
    let done = deploy::apply(&aws, &settings, &zip, plan, &mut |_| {})
        .await
        .expect("deployed");
    assert_eq!(done.version, "1");
    assert_eq!(
        done.arn,
        "arn:aws:lambda:us-east-1:123456789012:function:shipped"
    );

    let out = ops::invoke(
        &aws,
        "shipped",
        Some("live"),
        serde_json::to_vec(&json!({"action": "context"})).expect("json"),
    )
    .await
    .expect("invoke the alias");
    assert_eq!(
        out.function_error,
        None,
        "{}",
        String::from_utf8_lossy(&out.payload)
    );
    assert_eq!(out.executed_version.as_deref(), Some("1"));
    let payload: serde_json::Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(payload["greeting"], "deployed");
    assert!(
        out.logs.contains("START RequestId:") && out.logs.contains("Version: 1"),
        "{}",
        out.logs
    );

    // Unchanged: nothing uploaded, no version.
    let plan = deploy::plan(&aws, &settings, &zip).await.expect("plan");
    assert!(
        plan.steps
            .contains(&Step::SkipCode(zip.sha256_base64.clone())),
        "{plan}"
    );
    assert!(!plan.steps.contains(&Step::PublishVersion), "{plan}");

    // New configuration: version 2, and the alias follows.
    settings.env.insert("GREETING".into(), "updated".into());
    let plan = deploy::plan(&aws, &settings, &zip).await.expect("plan");
    assert!(
        plan.steps
            .contains(&Step::UpdateConfiguration(vec!["environment".into()])),
        "{plan}"
    );
    let done = deploy::apply(&aws, &settings, &zip, plan, &mut |_| {})
        .await
        .expect("redeployed");
    assert_eq!(done.version, "2");
    let out = ops::invoke(
        &aws,
        "shipped",
        Some("live"),
        br#"{"action":"echo","value":1}"#.to_vec(),
    )
    .await
    .expect("invoke");
    let payload: serde_json::Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(
        (
            payload["greeting"].as_str(),
            out.executed_version.as_deref()
        ),
        (Some("updated"), Some("2"))
    );
    // Version 1 still runs its own configuration.
    let out = ops::invoke(
        &aws,
        "shipped",
        Some("1"),
        br#"{"action":"echo","value":1}"#.to_vec(),
    )
    .await
    .expect("invoke v1");
    let payload: serde_json::Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(payload["greeting"], "deployed");

    // The local service has no Function URLs, queues, API Gateway, DynamoDB, SNS, S3,
    // EventBridge or load balancers: each trigger is a step reported as skipped, and the deploy still succeeds.
    for trigger in [
        json!({"kind": "function-url"}),
        json!({"kind": "sqs"}),
        json!({"kind": "http-api"}),
        json!({"kind": "rest-api"}),
        json!({"kind": "alb"}),
        json!({"kind": "dynamodb", "table": "orders"}),
        json!({"kind": "sns"}),
        json!({"kind": "s3", "bucket": "uploads"}),
        json!({"kind": "eventbridge", "schedule": "rate(1 day)"}),
    ] {
        let kind = trigger["kind"].as_str().unwrap_or_default();
        let mut with_trigger = settings.clone();
        with_trigger.trigger =
            lamplight_deploy::trigger::Trigger::from_value("shipped", &trigger).expect("trigger");
        let plan = deploy::plan(&aws, &with_trigger, &zip)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let text = plan.to_string();
        assert!(
            text.contains(&format!("skip the {kind} trigger: not supported locally")),
            "{text}"
        );
        deploy::apply(&aws, &with_trigger, &zip, plan, &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }

    assert_eq!(ops::list(&aws).await.expect("list").len(), 1);
    ops::delete(&aws, "shipped").await.expect("delete");
    assert!(ops::get(&aws, "shipped").await.is_err());
}
