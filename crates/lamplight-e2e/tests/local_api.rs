//! The Lambda API of the local service: invocation types, bad input, the control plane, traces.

mod common;

use std::io::Write as _;
use std::time::Duration;

use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, InvocationType, TracingConfig, TracingMode};
use common::*;
use lamplight_local::{Code, FunctionConfig};
use serde_json::json;

fn service_error<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> (u16, String) {
    let err = result.expect_err("the call fails");
    let status = err
        .raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_default();
    let service = err
        .as_service_error()
        .unwrap_or_else(|| panic!("a service error: {err:?}"));
    (
        status,
        format!(
            "{}: {}",
            service.code().unwrap_or("?"),
            service.message().unwrap_or("")
        ),
    )
}

#[tokio::test]
async fn bad_requests_get_the_errors_lambda_returns_and_the_service_keeps_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let never_polls = dir.path().join("never-polls");
    let exits = dir.path().join("exits");
    std::fs::write(&never_polls, "#!/bin/sh\nsleep 30\n").expect("write");
    std::fs::write(
        &exits,
        "#!/bin/sh\necho 'cannot start: no database' >&2\nexit 1\n",
    )
    .expect("write");
    for p in [&never_polls, &exits] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    }
    let service = service(vec![
        testfn_config("ok"),
        FunctionConfig::new("stuck", Code::Bootstrap(never_polls))
            .init_timeout(Duration::from_millis(800)),
        FunctionConfig::new("exits", Code::Bootstrap(exits)),
    ])
    .await;
    let refused = service
        .add_function(FunctionConfig::new(
            "missing",
            Code::Bootstrap(dir.path().join("nothing-here")),
        ))
        .await
        .expect_err("no such bootstrap");
    assert!(
        refused.message.starts_with("cannot read the bootstrap "),
        "{refused}"
    );
    let client = client(&service).await;

    let unknown = client.invoke().function_name("nope").send().await;
    let (status, text) = service_error(unknown);
    assert_eq!(status, 404);
    assert_eq!(
        text,
        "ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    );

    let big = vec![b' '; 6 * 1024 * 1024 + 1];
    let (status, text) = service_error(
        client
            .invoke()
            .function_name("ok")
            .payload(Blob::new(big))
            .send()
            .await,
    );
    assert_eq!(status, 413);
    assert!(
        text.starts_with("RequestTooLargeException: Request must be smaller than 6291456 bytes"),
        "{text}"
    );

    let (status, text) = service_error(
        client
            .invoke()
            .function_name("ok")
            .payload(Blob::new("{not json"))
            .send()
            .await,
    );
    assert_eq!(status, 400);
    assert!(
        text.starts_with("InvalidRequestContentException: Could not parse request body into json"),
        "{text}"
    );

    let event_too_big = format!("\"{}\"", "x".repeat(1024 * 1024));
    let (status, _) = service_error(
        client
            .invoke()
            .function_name("ok")
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(event_too_big))
            .send()
            .await,
    );
    assert_eq!(status, 413, "events are limited to 1 MB");

    let (status, text) = service_error(client.invoke().function_name("not a name").send().await);
    assert_eq!(status, 400);
    assert!(
        text.starts_with("ValidationException: 1 validation error detected"),
        "{text}"
    );

    let stuck = invoke(&client, "stuck", json!({})).await;
    assert_eq!(
        stuck.payload["errorType"], "Sandbox.Timedout",
        "{}",
        stuck.payload
    );

    let exited = invoke(&client, "exits", json!({})).await;
    assert_eq!(exited.payload["errorType"], "Runtime.ExitError");
    assert!(
        exited.payload["errorMessage"]
            .as_str()
            .expect("m")
            .ends_with("Runtime exited with error: exit status 1")
    );
    assert!(
        exited.logs.contains("cannot start: no database"),
        "the init output is in the tail: {}",
        exited.logs
    );

    let mut no_bootstrap = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    no_bootstrap
        .start_file("README", zip::write::SimpleFileOptions::default())
        .expect("entry");
    let no_bootstrap = no_bootstrap.finish().expect("zip").into_inner();
    client
        .create_function()
        .function_name("missing")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(no_bootstrap))
                .build(),
        )
        .send()
        .await
        .expect("created");
    let missing = invoke(&client, "missing", json!({})).await;
    assert_eq!(missing.payload["errorType"], "Runtime.InvalidEntrypoint");
    assert!(
        missing.payload["errorMessage"]
            .as_str()
            .expect("m")
            .contains("Couldn't find valid bootstrap(s)")
    );

    let ok = invoke(
        &client,
        "ok",
        json!({"action": "echo", "value": "still here"}),
    )
    .await;
    assert_eq!(ok.payload["result"], "still here");
}

#[tokio::test]
async fn an_oversized_response_is_refused_like_lambda_does() {
    let service = service(vec![testfn_config("big")]).await;
    let client = client(&service).await;
    let out = invoke(&client, "big", json!({"action": "big", "bytes": 7_000_000})).await;
    assert_eq!(out.payload["errorType"], "Function.ResponseSizeTooLarge");
    let fine = invoke(&client, "big", json!({"action": "big", "bytes": 1000})).await;
    assert_eq!(fine.payload["result"].as_str().map(str::len), Some(1000));
}

#[tokio::test]
async fn event_invocations_are_queued_and_dry_runs_only_validated() {
    let service = service(vec![testfn_config("f")]).await;
    let client = client(&service).await;
    let event = client
        .invoke()
        .function_name("f")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"action":"log","lines":["from an event"]}"#))
        .send()
        .await
        .expect("event accepted");
    assert_eq!(event.status_code(), 202);
    let dry = client
        .invoke()
        .function_name("f")
        .invocation_type(InvocationType::DryRun)
        .send()
        .await
        .expect("dry run");
    assert_eq!(dry.status_code(), 204);
    let handle = service.function("f").expect("f");
    let mut logged = false;
    for _ in 0..200 {
        logged = handle
            .log_streams()
            .values()
            .flatten()
            .any(|l| l.ends_with("from an event"));
        if logged {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(logged, "the event ran: {:?}", handle.log_streams());
}

fn package(bootstrap: &std::path::Path) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    // Deflated, as a deploy would: the debug test binary stored would pass Lambda's 50 MB limit
    // for direct uploads (and the service's, which follows it).
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).expect("entry");
    zip.write_all(&std::fs::read(bootstrap).expect("binary"))
        .expect("write");
    zip.finish().expect("finish");
    out.into_inner()
}

#[tokio::test]
async fn the_control_plane_creates_updates_lists_and_deletes_functions_from_zips() {
    let service = service(vec![]).await;
    let client = client(&service).await;
    let zip = package(&testfn());
    let created = client
        .create_function()
        .function_name("deployed")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role("arn:aws:iam::123456789012:role/r")
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(zip.clone()))
                .build(),
        )
        .memory_size(256)
        .timeout(5)
        .environment(
            Environment::builder()
                .variables("GREETING", "zipped")
                .build(),
        )
        .tracing_config(TracingConfig::builder().mode(TracingMode::Active).build())
        .send()
        .await
        .expect("created");
    assert_eq!(
        created.function_arn(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:deployed")
    );
    assert_eq!(created.memory_size(), Some(256));
    assert_eq!(created.code_size(), zip.len() as i64);
    let sha = created.code_sha256().expect("sha").to_owned();

    let out = invoke(&client, "deployed", json!({"action": "context"})).await;
    assert_eq!(out.payload["greeting"], "zipped");
    assert_eq!(out.payload["result"]["memoryMb"], 256);

    let (status, text) = service_error(
        client
            .create_function()
            .function_name("deployed")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(Blob::new(zip.clone()))
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(
        (status, text.split(':').next()),
        (409, Some("ResourceConflictException"))
    );

    client
        .update_function_configuration()
        .function_name("deployed")
        .environment(
            Environment::builder()
                .variables("GREETING", "updated")
                .build(),
        )
        .send()
        .await
        .expect("updated");
    let out = invoke(&client, "deployed", json!({"action": "echo", "value": 0})).await;
    assert_eq!(
        out.payload["greeting"], "updated",
        "new configuration, new environment"
    );

    let updated = client
        .update_function_code()
        .function_name("deployed")
        .zip_file(Blob::new(package(&plainfn())))
        .send()
        .await
        .expect("code updated");
    assert_ne!(updated.code_sha256(), Some(sha.as_str()));
    let out = invoke(&client, "deployed", json!({"hello": 1})).await;
    assert_eq!(
        out.payload["plain"],
        json!({"hello": 1}),
        "the new code runs"
    );

    let got = client
        .get_function()
        .function_name("deployed")
        .send()
        .await
        .expect("get");
    let configuration = got.configuration().expect("configuration");
    assert_eq!(configuration.timeout(), Some(5));
    assert_eq!(
        configuration.tracing_config().and_then(|t| t.mode()),
        Some(&TracingMode::Active)
    );
    let listed = client.list_functions().send().await.expect("list");
    assert_eq!(listed.functions().len(), 1);

    client
        .delete_function()
        .function_name("deployed")
        .send()
        .await
        .expect("deleted");
    let (status, _) = service_error(client.get_function().function_name("deployed").send().await);
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_sampled_invocation_has_the_services_segments_and_the_handlers_parent() {
    let service = service(vec![testfn_config("traced")]).await;
    let client = client(&service).await;
    let out = invoke(&client, "traced", json!({"action": "context"})).await;
    let ctx = &out.payload["result"];
    let root: lamplight_xray::TraceId = ctx["traceRoot"]
        .as_str()
        .expect("root")
        .parse()
        .expect("trace id");
    let trace = service
        .traces()
        .wait_for(&root, LONG, |t| t.segments.len() >= 4)
        .await
        .expect("trace recorded");
    let service_segment = trace
        .segments
        .iter()
        .find(|s| s.origin.as_deref() == Some("AWS::Lambda"))
        .expect("AWS::Lambda");
    let function_segment = trace
        .segments
        .iter()
        .find(|s| s.origin.as_deref() == Some("AWS::Lambda::Function"))
        .expect("AWS::Lambda::Function");
    assert_eq!(function_segment.parent_id, Some(service_segment.id));
    assert_eq!(
        ctx["traceParent"],
        json!(function_segment.id.to_string()),
        "the handler's parent is the function segment"
    );
    let names: Vec<&str> = trace
        .children(function_segment.id)
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["Initialization", "Invocation"]);
    assert!(trace.orphans().is_empty());
    assert!(
        trace
            .waterfall(30)
            .contains("traced (AWS::Lambda::Function)")
    );

    // A caller's trace header is honoured: same root, Sampled=0 respected.
    let root = lamplight_xray::TraceId::generate();
    let raw = client
        .invoke()
        .function_name("traced")
        .payload(Blob::new(r#"{"action":"context"}"#))
        .customize()
        .mutate_request(move |req| {
            req.headers_mut().insert(
                "X-Amzn-Trace-Id",
                format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=0"),
            );
        })
        .send()
        .await
        .expect("invoke");
    let payload: serde_json::Value =
        serde_json::from_slice(raw.payload().expect("payload").as_ref()).expect("json");
    assert_eq!(payload["result"]["sampled"], json!(false));
}
