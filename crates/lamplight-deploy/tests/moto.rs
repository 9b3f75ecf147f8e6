//! Deploys against a real AWS API server: moto (`pip install 'moto[server]==5.2.5'`), started
//! by each test on a free loopback port.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lamplight_deploy::aws::{Aws, Connection};
use lamplight_deploy::binary::{self, Arch};
use lamplight_deploy::deploy::{self, BASIC_EXECUTION, Step, XRAY_WRITE};
use lamplight_deploy::error::DeployError;
use lamplight_deploy::package::{Package, package};
use lamplight_deploy::pipeline::{self, Code, Event, Request, Source};
use lamplight_deploy::settings::DeploySettings;
use lamplight_deploy::{logs, ops};
use lamplight_test::moto::Moto;

/// moto with AWS's managed IAM policies (the lamplight role attaches them), or without, so
/// that attaching one fails as in a partition or account where it does not exist.
fn start_moto(managed_policies: bool) -> Moto {
    let load = if managed_policies { "true" } else { "false" };
    Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", load)]).expect("moto starts")
}

/// The deployer's clients for an endpoint: moto, or a proxy in front of it.
async fn aws_at(endpoint: &str) -> Aws {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(lamplight_test::moto::REGION))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    lamplight_test::moto::ACCESS_KEY,
                    lamplight_test::moto::ACCESS_KEY,
                    None,
                    None,
                    "moto",
                ),
            ),
        )
        .build();
    Aws::from_config(&config).await.expect("clients")
}

fn bootstrap(dir: &Path, contents: &[u8]) -> PathBuf {
    let path = dir.join("bootstrap");
    std::fs::write(&path, contents).expect("write");
    path
}

fn settings(name: &str) -> DeploySettings {
    let mut s = DeploySettings::new(name);
    s.memory = 256;
    s.timeout = 10;
    s.arch = lamplight_deploy::binary::Arch::X86_64;
    s.env.insert("GREETING".into(), "Hello".into());
    s.description = "deployed by the moto test".into();
    s.tags.insert("team".into(), "lamplight".into());
    s.log_retention_days = Some(14);
    s
}

async fn deploy(
    aws: &Aws,
    s: &DeploySettings,
    package: &Package,
) -> (deploy::Plan, deploy::Deployed) {
    let plan = deploy::plan(aws, s, package).await.expect("plan");
    let mut seen = Vec::new();
    let done = deploy::apply(aws, s, package, plan.clone(), &mut |m| {
        seen.push(m.to_owned())
    })
    .await
    .expect("deploy");
    (plan, done)
}

#[tokio::test]
async fn a_deploy_creates_then_skips_then_updates_and_moves_the_alias() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let s = settings("greeter");
    let v1 = package(&bootstrap(dir.path(), b"version one"), &[]).expect("zip");

    // First deploy: role with both policies, the function with every setting, version 1, alias.
    let (plan, done) = deploy(&aws, &s, &v1).await;
    insta::assert_snapshot!(
        "first_plan",
        plan.to_string().replace(&v1.sha256_base64, "[sha]")
    );
    assert!(done.code_uploaded);
    assert_eq!(done.version, "1");
    let role = aws
        .iam
        .get_role()
        .role_name("greeter-lamplight")
        .send()
        .await
        .expect("role created");
    let policies: Vec<String> = aws
        .iam
        .list_attached_role_policies()
        .role_name("greeter-lamplight")
        .send()
        .await
        .expect("policies")
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    assert_eq!(policies, [BASIC_EXECUTION, XRAY_WRITE]);
    let config = aws
        .lambda
        .get_function()
        .function_name("greeter")
        .send()
        .await
        .expect("function");
    let config = config.configuration().expect("configuration");
    assert_eq!(config.role(), role.role().map(|r| r.arn()));
    assert_eq!(
        (config.memory_size(), config.timeout()),
        (Some(256), Some(10))
    );
    assert_eq!(
        config.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(config.handler(), Some("bootstrap"));
    assert_eq!(
        config.architectures().first().map(|a| a.as_str()),
        Some("x86_64")
    );
    assert_eq!(config.code_sha256(), Some(v1.sha256_base64.as_str()));
    assert_eq!(config.description(), Some("deployed by the moto test"));
    assert_eq!(
        config
            .environment()
            .and_then(|e| e.variables())
            .and_then(|v| v.get("GREETING"))
            .map(String::as_str),
        Some("Hello")
    );
    assert_eq!(
        config
            .tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str()),
        Some("Active")
    );
    let alias = aws
        .lambda
        .get_alias()
        .function_name("greeter")
        .name("live")
        .send()
        .await
        .expect("alias");
    assert_eq!(alias.function_version(), Some("1"));
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix("/aws/lambda/greeter")
        .send()
        .await
        .expect("groups");
    assert_eq!(
        groups
            .log_groups()
            .first()
            .and_then(|g| g.retention_in_days()),
        Some(14)
    );

    // Same code, same settings: nothing is uploaded, no version published.
    let started = Instant::now();
    let (plan, done) = deploy(&aws, &s, &v1).await;
    let unchanged_took = started.elapsed();
    assert!(!done.code_uploaded);
    assert_eq!(
        plan.steps.first(),
        Some(&Step::UseRole(
            role.role().map(|r| r.arn().to_owned()).unwrap_or_default()
        ))
    );
    assert!(
        plan.steps
            .contains(&Step::SkipCode(v1.sha256_base64.clone())),
        "{plan}"
    );
    assert!(!plan.steps.contains(&Step::PublishVersion), "{plan}");
    assert_eq!(done.version, "1");
    eprintln!("an unchanged deploy took {unchanged_took:?} against moto");

    // New code: uploaded, version 2 published, the alias moves to it.
    let v2 = package(&bootstrap(dir.path(), b"version two"), &[]).expect("zip");
    let (plan, done) = deploy(&aws, &s, &v2).await;
    assert!(
        plan.steps
            .iter()
            .any(|s| matches!(s, Step::UpdateCode { .. })),
        "{plan}"
    );
    assert!(done.code_uploaded);
    assert_eq!(done.version, "2");
    let alias = aws
        .lambda
        .get_alias()
        .function_name("greeter")
        .name("live")
        .send()
        .await
        .expect("alias");
    assert_eq!(alias.function_version(), Some("2"));

    // A setting changes: configuration updated, version 3.
    let mut bigger = s.clone();
    bigger.memory = 512;
    let (plan, done) = deploy(&aws, &bigger, &v2).await;
    assert!(
        plan.steps
            .contains(&Step::UpdateConfiguration(vec!["memory 256 -> 512".into()])),
        "{plan}"
    );
    assert_eq!(done.version, "3");

    // get, list, invoke, delete.
    let got = ops::get(&aws, "greeter").await.expect("get");
    assert_eq!(
        (got.memory, got.code_sha256.as_str()),
        (512, v2.sha256_base64.as_str())
    );
    let listed = ops::list(&aws).await.expect("list");
    assert_eq!(
        listed.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["greeter"]
    );
    let invoked = ops::invoke(&aws, "greeter", None, br#"{"name":"Ada"}"#.to_vec())
        .await
        .expect("invoke");
    assert_eq!(invoked.status, 200);
    ops::delete(&aws, "greeter").await.expect("delete");
    let err = ops::get(&aws, "greeter")
        .await
        .expect_err("gone")
        .to_string();
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

#[tokio::test]
async fn logs_are_read_back_and_filtered() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let group = "/aws/lambda/reader";
    aws.logs
        .create_log_group()
        .log_group_name(group)
        .send()
        .await
        .expect("group");
    aws.logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name("2026/11/21/[$LATEST]abc")
        .send()
        .await
        .expect("stream");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as i64;
    let events = [
        "START RequestId: r-1 Version: $LATEST",
        "ERROR something broke",
        "END RequestId: r-1",
    ]
    .iter()
    .enumerate()
    .map(|(i, m)| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(now + i as i64)
            .message(*m)
            .build()
            .expect("event")
    })
    .collect();
    aws.logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name("2026/11/21/[$LATEST]abc")
        .set_log_events(Some(events))
        .send()
        .await
        .expect("put");
    let lines = logs::read(&aws, "reader", Duration::from_secs(600), None, None)
        .await
        .expect("read");
    assert_eq!(
        lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        [
            "START RequestId: r-1 Version: $LATEST",
            "ERROR something broke",
            "END RequestId: r-1"
        ]
    );
    let errors = logs::read(
        &aws,
        "reader",
        Duration::from_secs(600),
        Some("ERROR"),
        None,
    )
    .await
    .expect("filtered");
    assert_eq!(errors.len(), 1);
    let later = logs::read(
        &aws,
        "reader",
        Duration::from_secs(600),
        None,
        lines.last().map(|l| l.timestamp),
    )
    .await
    .expect("follow");
    assert!(
        later.is_empty(),
        "following starts after the last line: {later:?}"
    );
    let missing = logs::read(&aws, "never-ran", Duration::from_secs(60), None, None)
        .await
        .expect_err("no group")
        .to_string();
    assert!(missing.contains("has not run yet"), "{missing}");
}

/// A proxy in front of moto that answers the first `count` calls whose path ends with
/// `suffix` with `status` and `error_type`, like a Lambda API busy with another update.
async fn flaky_proxy(
    upstream: String,
    suffix: &'static str,
    count: usize,
    status: u16,
    error_type: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let seen = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (client, upstream, counter) = (client.clone(), upstream.clone(), counter.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (client, upstream, counter) =
                        (client.clone(), upstream.clone(), counter.clone());
                    async move {
                        let (mut parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        if parts.uri.path().ends_with(suffix)
                            && counter.fetch_add(1, Ordering::SeqCst) < count
                        {
                            let answer = hyper::Response::builder()
                                .status(status)
                                .header("x-amzn-ErrorType", error_type)
                                .header("content-type", "application/json")
                                .body(Full::new(bytes::Bytes::from(format!(
                                    r#"{{"Type":"User","message":"{error_type} injected by the test"}}"#
                                ))))
                                .expect("response");
                            return Ok::<_, hyper::Error>(answer);
                        }
                        let path = parts
                            .uri
                            .path_and_query()
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_default();
                        parts.uri = format!("{upstream}{path}").parse().expect("uri");
                        let response = client
                            .request(hyper::Request::from_parts(parts, Full::new(body)))
                            .await
                            .expect("moto answers");
                        let (parts, body) = response.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        Ok(hyper::Response::from_parts(parts, Full::new(body)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn conflicting_and_throttled_calls_are_retried() {
    let moto = start_moto(true);
    let direct = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut s = settings("busy");
    s.log_retention_days = None;
    let v1 = package(&bootstrap(dir.path(), b"one"), &[]).expect("zip");
    deploy(&direct, &s, &v1).await;

    // The code update meets "another update is in progress" twice, then goes through.
    let (proxy, seen) = flaky_proxy(
        moto.endpoint(),
        "/code",
        2,
        409,
        "ResourceConflictException",
    )
    .await;
    let aws = aws_at(&proxy).await;
    let v2 = package(&bootstrap(dir.path(), b"two"), &[]).expect("zip");
    let plan = deploy::plan(&aws, &s, &v2).await.expect("plan");
    let mut retries = Vec::new();
    let done = deploy::apply(&aws, &s, &v2, plan, &mut |m| retries.push(m.to_owned()))
        .await
        .expect("deploy");
    assert!(done.code_uploaded);
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "two refusals, then the upload"
    );
    assert_eq!(
        retries
            .iter()
            .filter(|m| m.contains("ResourceConflictException, retrying"))
            .count(),
        2,
        "{retries:?}"
    );

    // Throttling on publish is retried too.
    let (proxy, seen) = flaky_proxy(
        moto.endpoint(),
        "/versions",
        1,
        429,
        "TooManyRequestsException",
    )
    .await;
    let aws = aws_at(&proxy).await;
    let v3 = package(&bootstrap(dir.path(), b"three"), &[]).expect("zip");
    let (_, done) = deploy(&aws, &s, &v3).await;
    assert_eq!(done.version, "3");
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn traces_are_assembled_from_batch_get_traces() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let trace_id = lamplight_xray::TraceId::generate();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs_f64();
    let segment = serde_json::json!({
        "name": "greeter", "id": "70de5b6f19ff9a0a", "trace_id": trace_id.as_str(),
        "start_time": now - 0.2, "end_time": now, "origin": "AWS::Lambda::Function",
    });
    let handler = serde_json::json!({
        "type": "subsegment", "name": "handler", "id": "70de5b6f19ff9a0b", "trace_id": trace_id.as_str(),
        "parent_id": "70de5b6f19ff9a0a", "start_time": now - 0.15, "end_time": now - 0.05,
    });
    aws.xray
        .put_trace_segments()
        .trace_segment_documents(segment.to_string())
        .trace_segment_documents(handler.to_string())
        .send()
        .await
        .expect("put segments");
    let traces = lamplight_deploy::traces::fetch(&aws, &[trace_id.to_string()])
        .await
        .expect("fetch");
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    assert_eq!(trace.segments.len(), 2, "{trace:?}");
    let waterfall = trace.waterfall(20);
    assert!(
        waterfall.contains("greeter (AWS::Lambda::Function)") && waterfall.contains("handler"),
        "{waterfall}"
    );
    let page = lamplight_deploy::traces::html(&traces);
    assert!(page.starts_with("<!doctype html>") && page.contains(trace_id.as_str()));
}

#[tokio::test]
async fn bad_input_is_refused_with_what_to_do() {
    let no_credentials = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .build();
    let err = Aws::from_config(&no_credentials)
        .await
        .expect_err("no credentials")
        .to_string();
    assert!(
        err.starts_with("no AWS credentials found: set AWS_PROFILE"),
        "{err}"
    );

    let moon = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("moon-base"))
        .build();
    let err = Aws::from_config(&moon)
        .await
        .expect_err("unknown region")
        .to_string();
    assert!(err.contains("`moon-base` is not an AWS region"), "{err}");

    let dir = tempfile::tempdir().expect("dir");
    let mut noise = vec![0u8; 51 * 1024 * 1024];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in noise.iter_mut() {
        // xorshift: incompressible bytes, so the zip stays over the limit.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let err = package(&bootstrap(dir.path(), &noise), &[])
        .expect_err("too large")
        .to_string();
    assert!(
        err.contains("over Lambda's 50 MB limit for direct uploads: upload it to S3"),
        "{err}"
    );
}

#[tokio::test]
async fn a_64_character_name_gets_a_valid_role_that_the_next_deploy_finds() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let name = format!("orders-{}", "x".repeat(57));
    assert_eq!(name.len(), 64);
    let mut s = settings(&name);
    s.log_retention_days = None;
    let v1 = package(&bootstrap(dir.path(), b"one"), &[]).expect("zip");
    let (plan, _) = deploy(&aws, &s, &v1).await;
    let Some(Step::CreateRole { name: role, .. }) = plan.steps.first() else {
        panic!("a role is created first: {plan}");
    };
    assert!(role.len() <= 64, "{role} has {} characters", role.len());
    assert_eq!(role, &deploy::role_name(&name));
    let created = aws
        .iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .expect("role created");
    let arn = created.role().map(|r| r.arn().to_owned()).expect("arn");

    let again = deploy::plan(&aws, &s, &v1).await.expect("plan");
    assert_eq!(again.steps.first(), Some(&Step::UseRole(arn)), "{again}");
}

#[tokio::test]
async fn a_role_lambda_cannot_assume_is_refused_and_left_alone() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let ec2_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    aws.iam
        .create_role()
        .role_name("taken-lamplight")
        .assume_role_policy_document(ec2_trust)
        .send()
        .await
        .expect("someone else's role");
    let s = settings("taken");
    let v1 = package(&bootstrap(dir.path(), b"one"), &[]).expect("zip");
    let err = deploy::plan(&aws, &s, &v1)
        .await
        .expect_err("untrusted role");
    assert!(
        matches!(&err, DeployError::UntrustedRole { role, trust_policy }
            if role == "taken-lamplight" && trust_policy == ec2_trust),
        "{err}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains("the IAM role taken-lamplight exists")
            && shown.contains("ec2.amazonaws.com")
            && shown.contains("--role <arn>")
            && shown.contains("delete or rename taken-lamplight"),
        "{shown}"
    );
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name("taken-lamplight")
        .send()
        .await
        .expect("policies");
    assert!(attached.attached_policies().is_empty(), "nothing attached");
}

#[tokio::test]
async fn a_role_created_before_its_policy_failed_is_reported() {
    // No managed policies: CreateRole succeeds, AttachRolePolicy is refused.
    let moto = start_moto(false);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let s = settings("halfrole");
    let v1 = package(&bootstrap(dir.path(), b"one"), &[]).expect("zip");
    let plan = deploy::plan(&aws, &s, &v1).await.expect("plan");
    let err = deploy::apply(&aws, &s, &v1, plan, &mut |_| {})
        .await
        .expect_err("attach fails");
    let DeployError::Partial { cause, done } = &err else {
        panic!("a partial failure, not: {err}");
    };
    assert!(
        cause.to_string().contains("iam:AttachRolePolicy failed"),
        "{cause}"
    );
    assert_eq!(
        done,
        &format!(
            "  - created role halfrole-lamplight (no policy attached: attaching {BASIC_EXECUTION} failed)"
        )
    );
    aws.iam
        .get_role()
        .role_name("halfrole-lamplight")
        .send()
        .await
        .expect("the reported role is really there");
}

#[tokio::test]
async fn a_function_created_that_never_became_active_is_reported() {
    let moto = start_moto(true);
    let direct = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut s = settings("stuck");
    s.log_retention_days = None;
    let v1 = package(&bootstrap(dir.path(), b"one"), &[]).expect("zip");
    let plan = deploy::plan(&direct, &s, &v1).await.expect("plan");
    // Every GetFunction of the waiter fails: the function is created but never seen Active.
    let (proxy, seen) = flaky_proxy(
        moto.endpoint(),
        "/functions/stuck",
        usize::MAX,
        404,
        "ResourceNotFoundException",
    )
    .await;
    let aws = aws_at(&proxy).await;
    let err = deploy::apply(&aws, &s, &v1, plan, &mut |_| {})
        .await
        .expect_err("the wait fails");
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let DeployError::Partial { cause, done } = &err else {
        panic!("a partial failure, not: {err}");
    };
    assert!(cause.to_string().contains("to become Active"), "{cause}");
    let lines: Vec<&str> = done.lines().collect();
    assert_eq!(lines.len(), 2, "{done}");
    assert!(
        lines[0].starts_with("  - create role stuck-lamplight with"),
        "{done}"
    );
    assert!(
        lines[1].starts_with("  - created the function stuck (it did not become Active"),
        "{done}"
    );
    direct
        .lambda
        .get_function()
        .function_name("stuck")
        .send()
        .await
        .expect("the reported function is really there");
}

/// A real executable of this machine that Lambda's provided.al2023 could run (glibc 2.34 at
/// most), for the pipeline, which checks the bootstrap it ships.
fn runnable_bootstrap() -> (PathBuf, Arch) {
    let arch = Arch::host().expect("an arm64 or x86_64 machine");
    ["/bin/true", "/usr/bin/true", "/usr/bin/env"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| binary::check(p, arch).is_ok())
        .map(|p| (p, arch))
        .expect("no executable here links glibc 2.34 or older")
}

fn pipeline_request(name: &str, dir: &Path, dry_run: bool) -> Request {
    let (bootstrap, arch) = runnable_bootstrap();
    let mut s = settings(name);
    s.arch = arch;
    Request {
        settings: s,
        source: Source {
            code: Code::Bootstrap(bootstrap),
            include: Vec::new(),
            zip_path: dir.join("lambda").join(name).join("bootstrap.zip"),
        },
        connection: Connection::default(),
        dry_run,
    }
}

#[tokio::test]
async fn the_pipeline_plans_a_dry_run_then_ships_then_keeps_unchanged_code() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut heard = Vec::new();
    let mut progress = |e: Event<'_>| {
        heard.push(match e {
            Event::Building { .. } => "building".to_owned(),
            Event::Built(_) => "built".to_owned(),
            Event::Packaged { .. } => "packaged".to_owned(),
            Event::Planned(plan) => format!("planned {}", plan.steps.len()),
            Event::Applying(step) => format!("applying {step}"),
        })
    };

    let dry = pipeline::ship_with(
        &aws,
        &pipeline_request("piped", dir.path(), true),
        &mut progress,
    )
    .await
    .expect("dry run");
    assert!(dry.deployed.is_none());
    assert!(
        dry.plan.steps.contains(&Step::CreateFunction),
        "{:?}",
        dry.plan
    );
    let zip = std::fs::read(&dry.packaged.path).expect("the zip is written");
    assert_eq!(zip, dry.packaged.package.bytes);

    let shipped = pipeline::ship_with(
        &aws,
        &pipeline_request("piped", dir.path(), false),
        &mut progress,
    )
    .await
    .expect("deploy");
    let deployed = shipped.deployed.expect("applied");
    assert!(deployed.code_uploaded);
    assert_eq!(deployed.done, shipped.plan.steps);

    let again = pipeline::ship_with(
        &aws,
        &pipeline_request("piped", dir.path(), false),
        &mut progress,
    )
    .await
    .expect("redeploy");
    assert!(!again.deployed.expect("applied").code_uploaded);
    assert!(
        matches!(again.plan.steps.first(), Some(Step::UseRole(_))),
        "{:?}",
        again.plan
    );

    assert_eq!(heard[0], "packaged");
    assert!(heard[1].starts_with("planned "), "{heard:?}");
    assert_eq!(heard[2], "packaged", "a dry run applies nothing: {heard:?}");
    assert!(
        heard.iter().any(|h| h == "applying create the function"),
        "{heard:?}"
    );
}

#[tokio::test]
async fn a_failed_step_through_the_pipeline_prints_each_cause_once() {
    // No managed policies: CreateRole succeeds, AttachRolePolicy is refused.
    let moto = start_moto(false);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let err = pipeline::ship_with(
        &aws,
        &pipeline_request("halfpiped", dir.path(), false),
        &mut |_: Event<'_>| {},
    )
    .await
    .expect_err("attaching fails");
    assert!(matches!(err, DeployError::Partial { .. }), "{err}");
    let printed = format!(
        "{:#}",
        anyhow::Error::from(err).context("deploying halfpiped")
    );
    for part in [
        "iam:AttachRolePolicy failed",
        "created role halfpiped-lamplight",
        "already done before the failure",
    ] {
        assert_eq!(printed.matches(part).count(), 1, "{part} in {printed}");
    }
}

fn trigger_settings(name: &str, trigger: serde_json::Value) -> DeploySettings {
    let mut s = settings(name);
    s.trigger = lamplight_deploy::trigger::Trigger::from_value(name, &trigger).expect("trigger");
    s
}

fn trigger_steps(plan: &deploy::Plan) -> Vec<String> {
    plan.steps
        .iter()
        .filter(|s| matches!(s, Step::Trigger(_)))
        .map(ToString::to_string)
        .collect()
}

fn changes_nothing(plan: &deploy::Plan) -> bool {
    plan.steps.iter().all(|s| {
        !matches!(s, Step::Trigger(_))
            || matches!(
                s,
                Step::Trigger(lamplight_deploy::trigger::TriggerStep::Unchanged(_))
            )
    })
}

async fn policy_of(aws: &Aws, name: &str) -> serde_json::Value {
    let policy = aws
        .lambda
        .get_policy()
        .function_name(name)
        .qualifier("live")
        .send()
        .await
        .expect("policy");
    serde_json::from_str(policy.policy().expect("document")).expect("json")
}

fn statement<'a>(policy: &'a serde_json::Value, sid: &str) -> Option<&'a serde_json::Value> {
    policy["Statement"]
        .as_array()?
        .iter()
        .find(|s| s["Sid"] == sid)
}

#[tokio::test]
async fn a_function_url_is_created_kept_updated_and_deleted() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"url"), &[]).expect("zip");
    let s = trigger_settings(
        "web",
        serde_json::json!({"kind": "function-url", "cors": {"allow_origins": ["https://example.com"], "allow_methods": ["GET"], "max_age": 60}}),
    );

    let (plan, done) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        ["create a Function URL (auth AWS_IAM)"]
    );
    assert!(
        done.urls.iter().any(|(_, u)| u.starts_with("http")),
        "{:?}",
        done.urls
    );
    let url = aws
        .lambda
        .get_function_url_config()
        .function_name("web")
        .qualifier("live")
        .send()
        .await
        .expect("url");
    assert_eq!(url.auth_type().as_str(), "AWS_IAM");
    let cors = url.cors().expect("cors");
    assert_eq!(cors.allow_origins(), ["https://example.com"]);
    assert_eq!(cors.allow_methods(), ["GET"]);
    assert_eq!(cors.max_age(), Some(60));

    let (plan, done) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");
    assert!(!done.urls.is_empty(), "the URL is printed every time");

    // Public, with the permission that makes it callable.
    let public = trigger_settings(
        "web",
        serde_json::json!({"kind": "function-url", "auth": "NONE"}),
    );
    let (plan, _) = deploy(&aws, &public, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "update the Function URL: auth -> NONE, cors",
            "allow anyone to call the Function URL (lambda:InvokeFunctionUrl, and lambda:InvokeFunction via the URL only; principal *)"
        ]
    );
    let url = aws
        .lambda
        .get_function_url_config()
        .function_name("web")
        .qualifier("live")
        .send()
        .await
        .expect("url");
    assert_eq!(url.auth_type().as_str(), "NONE");
    let policy = policy_of(&aws, "web").await;
    let st = statement(&policy, "lamplight-function-url-public").expect("public statement");
    assert_eq!(st["Action"], "lambda:InvokeFunctionUrl");
    assert_eq!(st["Principal"], "*");
    let invoke =
        statement(&policy, "lamplight-function-url-public-invoke").expect("invoke statement");
    assert_eq!(invoke["Action"], "lambda:InvokeFunction");
    // Only through the URL: Lambda writes a Bool condition; moto 5.2.5 keeps the flag as sent.
    assert!(
        invoke["InvokedViaFunctionUrl"] == true
            || invoke["Condition"]["Bool"]["lambda:InvokedViaFunctionUrl"] == "true",
        "{invoke}"
    );
    let (plan, _) = deploy(&aws, &public, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    // Back to signed requests: the public permission is taken back.
    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "update the Function URL: auth -> AWS_IAM, cors",
            "remove the public Function URL permission"
        ]
    );
    // With its only statement gone the alias has no policy at all: GetPolicy answers 404.
    let policy = aws
        .lambda
        .get_policy()
        .function_name("web")
        .qualifier("live")
        .send()
        .await;
    assert!(
        policy.as_ref().map_or(true, |p| !p
            .policy()
            .unwrap_or_default()
            .contains("lamplight-function-url-public")),
        "{policy:?}"
    );
    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let removed = ops::delete(&aws, "web").await.expect("delete");
    assert!(
        removed.iter().any(|r| r.starts_with("Function URL")),
        "{removed:?}"
    );
    assert!(ops::get(&aws, "web").await.is_err());
    assert!(
        aws.iam
            .get_role()
            .role_name("web-lamplight")
            .send()
            .await
            .is_err(),
        "the role lamplight created is deleted"
    );
}

async fn queue_arn(aws: &Aws, name: &str) -> Option<String> {
    let url = aws
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .ok()?
        .queue_url()?
        .to_owned();
    aws.sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .ok()?
        .attributes()?
        .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .cloned()
}

async fn mappings(aws: &Aws) -> Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration> {
    aws.lambda
        .list_event_source_mappings()
        .send()
        .await
        .expect("mappings")
        .event_source_mappings()
        .to_vec()
}

#[tokio::test]
async fn an_sqs_queue_is_created_mapped_scoped_updated_and_deleted() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"sqs"), &[]).expect("zip");
    let s = trigger_settings("jobs", serde_json::json!({"kind": "sqs"}));

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "create the SQS queue jobs-queue",
            "let role jobs-lamplight receive, delete and read attributes of queue jobs-queue only",
            "map queue jobs-queue to the alias (ReportBatchItemFailures)"
        ]
    );
    let arn = queue_arn(&aws, "jobs-queue").await.expect("queue created");
    let all = mappings(&aws).await;
    assert_eq!(all.len(), 1);
    let m = &all[0];
    assert_eq!(m.event_source_arn(), Some(arn.as_str()));
    // Lambda records the alias ARN; moto 5.2.5 the version the alias points at.
    assert!(
        m.function_arn()
            .is_some_and(|f| f.ends_with(":function:jobs:live") || f.ends_with(":function:jobs:1")),
        "{m:?}"
    );
    assert_eq!(m.batch_size(), Some(10));
    assert_eq!(
        m.function_response_types(),
        [aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures]
    );
    let policy = aws
        .iam
        .get_role_policy()
        .role_name("jobs-lamplight")
        .policy_name("lamplight-sqs")
        .send()
        .await
        .expect("inline policy");
    let policy: serde_json::Value =
        serde_json::from_str(&deploy::decode_trust_policy(policy.policy_document())).expect("json");
    assert_eq!(policy["Statement"][0]["Resource"], arn.as_str());
    assert_eq!(
        policy["Statement"][0]["Action"],
        serde_json::json!([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes"
        ])
    );

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let bigger = trigger_settings(
        "jobs",
        serde_json::json!({"kind": "sqs", "batch_size": 50, "batching_window_seconds": 5}),
    );
    let (plan, _) = deploy(&aws, &bigger, &zip).await;
    let steps = trigger_steps(&plan);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!(
        steps[0].contains("batch_size 10 -> 50")
            && steps[0].contains("batching_window_seconds 0 -> 5"),
        "{steps:?}"
    );
    let all = mappings(&aws).await;
    assert_eq!(all.len(), 1, "updated in place");
    assert_eq!(all[0].batch_size(), Some(50));
    assert_eq!(all[0].maximum_batching_window_in_seconds(), Some(5));

    let removed = ops::delete(&aws, "jobs").await.expect("delete");
    assert_eq!(
        removed
            .iter()
            .map(|r| r.split(' ').next().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["event", "queue", "function", "role"],
        "only what existed is reported: {removed:?}"
    );
    assert!(mappings(&aws).await.is_empty());
    assert_eq!(
        queue_arn(&aws, "jobs-queue").await,
        None,
        "deploy's queue is deleted"
    );
}

#[tokio::test]
async fn a_queue_the_user_named_by_arn_is_mapped_but_never_deleted() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"sqs"), &[]).expect("zip");
    aws.sqs
        .create_queue()
        .queue_name("orders")
        .send()
        .await
        .expect("user's queue");
    let arn = queue_arn(&aws, "orders").await.expect("arn");
    let s = trigger_settings("worker", serde_json::json!({"kind": "sqs", "queue": arn}));
    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(
        !trigger_steps(&plan)
            .iter()
            .any(|s| s.contains("create the SQS queue")),
        "{plan}"
    );
    assert_eq!(mappings(&aws).await.len(), 1);
    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");
    ops::delete(&aws, "worker").await.expect("delete");
    assert!(mappings(&aws).await.is_empty());
    assert_eq!(
        queue_arn(&aws, "orders").await,
        Some(arn),
        "the user's queue stays"
    );
}

#[tokio::test]
async fn a_dry_run_lists_trigger_steps_and_creates_nothing() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"dry"), &[]).expect("zip");
    let s = trigger_settings("dry", serde_json::json!({"kind": "sqs", "queue": "create"}));
    let plan = deploy::plan(&aws, &s, &zip).await.expect("plan");
    let text = plan.to_string();
    assert!(text.contains("create the SQS queue dry-queue"), "{text}");
    assert!(text.contains("map queue dry-queue to the alias"), "{text}");
    assert_eq!(
        queue_arn(&aws, "dry-queue").await,
        None,
        "a plan changes nothing"
    );

    let s = trigger_settings("api", serde_json::json!({"kind": "rest-api"}));
    let text = deploy::plan(&aws, &s, &zip)
        .await
        .expect("plan")
        .to_string();
    assert!(
        text.contains("create REST API api (ANY / and ANY /{proxy+} to the alias"),
        "{text}"
    );
    let listed = aws.rest.get_rest_apis().send().await.expect("rest apis");
    assert!(listed.items().is_empty(), "a plan changes nothing");
}

async fn apis(aws: &Aws) -> Vec<aws_sdk_apigatewayv2::types::Api> {
    aws.apigw
        .get_apis()
        .send()
        .await
        .expect("apis")
        .items()
        .to_vec()
}

async fn route_keys(aws: &Aws, api_id: &str) -> Vec<String> {
    let mut keys: Vec<String> = aws
        .apigw
        .get_routes()
        .api_id(api_id)
        .send()
        .await
        .expect("routes")
        .items()
        .iter()
        .filter_map(|r| r.route_key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn an_http_api_is_created_scoped_kept_rerouted_and_deleted() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"api"), &[]).expect("zip");
    let s = trigger_settings("orders", serde_json::json!({"kind": "http-api"}));

    let (plan, done) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "create HTTP API orders (payload 2.0, stage $default with auto-deploy)",
            "allow the HTTP API to invoke the alias (statement lamplight-http-api)"
        ]
    );
    let all = apis(&aws).await;
    assert_eq!(all.len(), 1);
    let api = &all[0];
    let id = api.api_id().expect("id").to_owned();
    assert_eq!(api.protocol_type().map(|p| p.as_str()), Some("HTTP"));
    assert_eq!(
        done.urls,
        [(
            "url".to_owned(),
            api.api_endpoint().expect("endpoint").to_owned()
        )]
    );
    assert_eq!(route_keys(&aws, &id).await, ["$default"]);
    let integrations = aws
        .apigw
        .get_integrations()
        .api_id(&id)
        .send()
        .await
        .expect("integrations");
    let integration = &integrations.items()[0];
    assert_eq!(integration.payload_format_version(), Some("2.0"));
    assert!(
        integration
            .integration_uri()
            .is_some_and(|u| u.ends_with(":function:orders:live")),
        "{integration:?}"
    );
    let stages = aws
        .apigw
        .get_stages()
        .api_id(&id)
        .send()
        .await
        .expect("stages");
    assert!(
        stages
            .items()
            .iter()
            .any(|st| st.stage_name() == Some("$default") && st.auto_deploy() == Some(true)),
        "{stages:?}"
    );
    let policy = policy_of(&aws, "orders").await;
    let st = statement(&policy, "lamplight-http-api").expect("statement");
    assert_eq!(st["Action"], "lambda:InvokeFunction");
    assert_eq!(
        st["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:execute-api:us-east-1:123456789012:{id}/*")
    );

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let routed = trigger_settings(
        "orders",
        serde_json::json!({"kind": "http-api", "routes": ["GET /orders/{id}", "POST /orders"]}),
    );
    let (plan, _) = deploy(&aws, &routed, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [format!(
            "update routes of HTTP API {id}: add [GET /orders/{{id}}, POST /orders], remove [$default]"
        )]
    );
    assert_eq!(apis(&aws).await.len(), 1, "updated in place");
    assert_eq!(
        route_keys(&aws, &id).await,
        ["GET /orders/{id}", "POST /orders"]
    );
    let (plan, _) = deploy(&aws, &routed, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let removed = ops::delete(&aws, "orders").await.expect("delete");
    assert!(removed.contains(&format!("HTTP API {id}")), "{removed:?}");
    assert!(apis(&aws).await.is_empty());
}

async fn rest_apis(aws: &Aws) -> Vec<aws_sdk_apigateway::types::RestApi> {
    aws.rest
        .get_rest_apis()
        .send()
        .await
        .expect("rest apis")
        .items()
        .to_vec()
}

/// The REST API's resources: (path, the URI its `ANY` method's integration calls).
async fn proxy_integrations(aws: &Aws, id: &str) -> Vec<(String, String)> {
    let resources = aws
        .rest
        .get_resources()
        .rest_api_id(id)
        .send()
        .await
        .expect("resources");
    let mut out = Vec::new();
    for r in resources.items() {
        let integration = aws
            .rest
            .get_integration()
            .rest_api_id(id)
            .resource_id(r.id().expect("id"))
            .http_method("ANY")
            .send()
            .await;
        if let Ok(i) = integration {
            assert_eq!(i.r#type().map(|t| t.as_str()), Some("AWS_PROXY"));
            out.push((
                r.path().expect("path").to_owned(),
                i.uri().expect("uri").to_owned(),
            ));
        }
    }
    out.sort();
    out
}

async fn stage_names(aws: &Aws, id: &str) -> Vec<String> {
    let mut names: Vec<String> = aws
        .rest
        .get_stages()
        .rest_api_id(id)
        .send()
        .await
        .expect("stages")
        .item()
        .iter()
        .filter_map(|s| s.stage_name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_rest_api_is_created_scoped_kept_restaged_and_deleted() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"rest"), &[]).expect("zip");
    let s = trigger_settings("shop", serde_json::json!({"kind": "rest-api"}));

    let (plan, done) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "create REST API shop (ANY / and ANY /{proxy+} to the alias, Lambda proxy) and deploy stage prod",
            "allow apigateway.amazonaws.com to invoke the alias from the trigger's resource only (statement lamplight-rest-api)"
        ]
    );
    let all = rest_apis(&aws).await;
    assert_eq!(all.len(), 1);
    let id = all[0].id().expect("id").to_owned();
    assert_eq!(
        done.urls,
        [(
            "url".to_owned(),
            format!("https://{id}.execute-api.us-east-1.amazonaws.com/prod/")
        )]
    );
    let uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:shop:live/invocations";
    assert_eq!(
        proxy_integrations(&aws, &id).await,
        [
            ("/".to_owned(), uri.to_owned()),
            ("/{proxy+}".to_owned(), uri.to_owned())
        ]
    );
    assert_eq!(stage_names(&aws, &id).await, ["prod"]);
    let policy = policy_of(&aws, "shop").await;
    let st = statement(&policy, "lamplight-rest-api").expect("statement");
    assert_eq!(st["Principal"]["Service"], "apigateway.amazonaws.com");
    assert_eq!(
        st["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:execute-api:us-east-1:123456789012:{id}/*")
    );

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");
    assert_eq!(rest_apis(&aws).await.len(), 1);

    let staged = trigger_settings(
        "shop",
        serde_json::json!({"kind": "rest-api", "stage": "v2"}),
    );
    let (plan, done) = deploy(&aws, &staged, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [format!(
            "deploy REST API {id} to stage v2; remove stages prod"
        )]
    );
    assert_eq!(stage_names(&aws, &id).await, ["v2"]);
    assert!(done.urls[0].1.ends_with("/v2/"), "{:?}", done.urls);
    assert_eq!(rest_apis(&aws).await.len(), 1, "updated in place");
    let (plan, _) = deploy(&aws, &staged, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let removed = ops::delete(&aws, "shop").await.expect("delete");
    assert!(removed.contains(&format!("REST API {id}")), "{removed:?}");
    assert!(rest_apis(&aws).await.is_empty());
}

async fn target_groups(aws: &Aws) -> Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup> {
    aws.elb
        .describe_target_groups()
        .send()
        .await
        .expect("target groups")
        .target_groups()
        .to_vec()
}

async fn targets_of(aws: &Aws, arn: &str) -> Vec<String> {
    aws.elb
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .expect("target health")
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned))
        .collect()
}

async fn multi_value(aws: &Aws, arn: &str) -> Option<String> {
    aws.elb
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .iter()
        .find(|a| a.key() == Some("lambda.multi_value_headers.enabled"))
        .and_then(|a| a.value().map(str::to_owned))
}

#[tokio::test]
async fn an_alb_target_group_is_created_scoped_kept_updated_and_deleted() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"alb"), &[]).expect("zip");
    let s = trigger_settings("web", serde_json::json!({"kind": "alb"}));

    let (plan, done) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "create target group web (type lambda; the listener rule that forwards to it is yours)",
            "allow elasticloadbalancing.amazonaws.com to invoke the alias from the trigger's resource only (statement lamplight-alb)",
            "register the alias as the target group's target"
        ]
    );
    let groups = target_groups(&aws).await;
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    let arn = group.target_group_arn().expect("arn").to_owned();
    assert_eq!(group.target_type().map(|t| t.as_str()), Some("lambda"));
    assert_eq!(done.urls[0], ("targets".to_owned(), arn.clone()));
    assert!(done.urls[1].1.contains("listener rule"), "{:?}", done.urls);
    assert_eq!(
        targets_of(&aws, &arn).await,
        ["arn:aws:lambda:us-east-1:123456789012:function:web:live"]
    );
    let policy = policy_of(&aws, "web").await;
    let st = statement(&policy, "lamplight-alb").expect("statement");
    assert_eq!(
        st["Principal"]["Service"],
        "elasticloadbalancing.amazonaws.com"
    );
    assert_eq!(st["Condition"]["ArnLike"]["AWS:SourceArn"], arn.as_str());

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let multi = trigger_settings(
        "web",
        serde_json::json!({"kind": "alb", "multi_value_headers": true}),
    );
    let (plan, _) = deploy(&aws, &multi, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        ["turn multi-value headers on on the target group"]
    );
    assert_eq!(multi_value(&aws, &arn).await.as_deref(), Some("true"));
    let (plan, _) = deploy(&aws, &multi, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");
    assert_eq!(target_groups(&aws).await.len(), 1, "updated in place");

    let removed = ops::delete(&aws, "web").await.expect("delete");
    assert!(
        removed.contains(&format!("target group {arn}")),
        "{removed:?}"
    );
    assert!(target_groups(&aws).await.is_empty());
}

#[tokio::test]
async fn a_target_group_deploy_did_not_create_is_refused_and_kept() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"alb"), &[]).expect("zip");
    aws.elb
        .create_target_group()
        .name("theirs")
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Lambda)
        .send()
        .await
        .expect("their group");
    let s = trigger_settings("theirs", serde_json::json!({"kind": "alb"}));
    let err = deploy::plan(&aws, &s, &zip)
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("a target group theirs exists and deploy did not create it for theirs: rename or delete it"),
        "{err}"
    );
    assert_eq!(target_groups(&aws).await.len(), 1);
}

#[tokio::test]
async fn a_trigger_that_fails_part_way_names_the_steps_done_and_delete_cleans_up() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"half"), &[]).expect("zip");
    aws.sqs
        .create_queue()
        .queue_name("vanishing")
        .send()
        .await
        .expect("queue");
    let arn = queue_arn(&aws, "vanishing").await.expect("arn");
    let s = trigger_settings("half", serde_json::json!({"kind": "sqs", "queue": arn}));
    let plan = deploy::plan(&aws, &s, &zip).await.expect("plan");
    // The queue goes away between the plan and the mapping: everything before it is done.
    let url = aws
        .sqs
        .get_queue_url()
        .queue_name("vanishing")
        .send()
        .await
        .expect("url");
    aws.sqs
        .delete_queue()
        .queue_url(url.queue_url().expect("url"))
        .send()
        .await
        .expect("delete queue");
    let err = deploy::apply(&aws, &s, &zip, plan, &mut |_| {})
        .await
        .expect_err("the mapping fails");
    let DeployError::Partial { cause, done } = &err else {
        panic!("a partial failure, not: {err}");
    };
    assert!(
        cause
            .to_string()
            .contains("lambda:CreateEventSourceMapping"),
        "{cause}"
    );
    assert!(done.contains("  - create the function"), "{done}");
    assert!(
        done.contains(
            "  - let role half-lamplight receive, delete and read attributes of queue vanishing only"
        ),
        "{done}"
    );
    assert!(!done.contains("map queue"), "{done}");
    let removed = ops::delete(&aws, "half").await.expect("delete");
    assert!(
        removed.contains(&"role half-lamplight".to_owned()),
        "{removed:?}"
    );
}

#[tokio::test]
async fn a_queue_created_before_its_mapping_failed_is_still_deleted() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"orphan"), &[]).expect("zip");
    let s = trigger_settings("orphan", serde_json::json!({"kind": "sqs"}));
    deploy(&aws, &s, &zip).await;
    let uuid = mappings(&aws).await[0].uuid().expect("uuid").to_owned();
    aws.lambda
        .delete_event_source_mapping()
        .uuid(uuid)
        .send()
        .await
        .expect("mapping removed behind deploy's back");
    ops::delete(&aws, "orphan").await.expect("delete");
    assert_eq!(queue_arn(&aws, "orphan-queue").await, None);
}

#[tokio::test]
async fn a_pipeline_dry_run_lists_the_trigger_steps_and_creates_nothing() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut request = pipeline_request("planned", dir.path(), true);
    request.settings.trigger = lamplight_deploy::trigger::Trigger::from_value(
        "planned",
        &serde_json::json!({"kind": "http-api", "routes": ["GET /items"]}),
    )
    .expect("trigger");
    let mut planned = String::new();
    let shipped = pipeline::ship_with(&aws, &request, &mut |e: Event<'_>| {
        if let Event::Planned(plan) = e {
            planned = plan.to_string();
        }
    })
    .await
    .expect("dry run");
    assert!(shipped.deployed.is_none());
    assert!(
        planned.contains("create HTTP API planned (payload 2.0, stage $default with auto-deploy)")
            && planned.contains("allow the HTTP API to invoke the alias"),
        "{planned}"
    );
    assert!(apis(&aws).await.is_empty(), "a dry run creates nothing");
}

/// A table as the user made it: with a stream of new images when `stream` is set.
async fn create_table(aws: &Aws, name: &str, stream: bool) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        StreamSpecification, StreamViewType,
    };
    let table = aws
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
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
        .set_stream_specification(stream.then(|| {
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .expect("stream")
        }))
        .send()
        .await
        .expect("table");
    let description = table.table_description().expect("description");
    description
        .latest_stream_arn()
        .or(description.table_arn())
        .expect("arn")
        .to_owned()
}

#[tokio::test]
async fn a_dynamodb_stream_is_mapped_scoped_updated_and_deleted_but_the_table_stays() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"ddb"), &[]).expect("zip");
    let stream = create_table(&aws, "orders", true).await;

    // A table without a stream is refused before anything is created, saying what to enable.
    create_table(&aws, "plain", false).await;
    let plain = trigger_settings(
        "nostream",
        serde_json::json!({"kind": "dynamodb", "table": "plain"}),
    );
    let err = deploy::plan(&aws, &plain, &zip)
        .await
        .expect_err("no stream");
    let text = err.to_string();
    assert!(
        text.contains("table plain has no stream") && text.contains("NEW_IMAGE"),
        "{text}"
    );

    let s = trigger_settings(
        "audit",
        serde_json::json!({"kind": "dynamodb", "table": "orders"}),
    );
    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            format!(
                "let role audit-lamplight read stream {stream} only (inline policy lamplight-dynamodb)"
            ),
            format!("map stream {stream} to the alias (ReportBatchItemFailures, from LATEST)"),
        ]
    );
    let all = mappings(&aws).await;
    assert_eq!(all.len(), 1);
    let m = &all[0];
    assert_eq!(m.event_source_arn(), Some(stream.as_str()));
    // Lambda records the alias ARN; moto 5.2.5 the version the alias points at.
    assert!(
        m.function_arn().is_some_and(
            |f| f.ends_with(":function:audit:live") || f.ends_with(":function:audit:1")
        ),
        "{m:?}"
    );
    assert_eq!(m.batch_size(), Some(100));
    assert_eq!(m.bisect_batch_on_function_error(), Some(true));
    assert_eq!(m.maximum_retry_attempts(), None, "Lambda's default");
    assert_eq!(m.starting_position().map(|p| p.as_str()), Some("LATEST"));
    assert_eq!(
        m.function_response_types(),
        [aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures]
    );
    let policy = aws
        .iam
        .get_role_policy()
        .role_name("audit-lamplight")
        .policy_name("lamplight-dynamodb")
        .send()
        .await
        .expect("inline policy");
    let policy: serde_json::Value =
        serde_json::from_str(&deploy::decode_trust_policy(policy.policy_document())).expect("json");
    assert_eq!(policy["Statement"][0]["Resource"], stream.as_str());
    assert_eq!(
        policy["Statement"][0]["Action"],
        serde_json::json!([
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams"
        ])
    );

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    // The stream named by its ARN is the same trigger: nothing changes.
    let by_arn = trigger_settings(
        "audit",
        serde_json::json!({"kind": "dynamodb", "stream": stream}),
    );
    let (plan, _) = deploy(&aws, &by_arn, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let changed = trigger_settings(
        "audit",
        serde_json::json!({"kind": "dynamodb", "table": "orders", "batch_size": 250, "bisect_batch_on_error": false, "maximum_retry_attempts": 3}),
    );
    let (plan, _) = deploy(&aws, &changed, &zip).await;
    let steps = trigger_steps(&plan);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!(
        steps[0].contains("batch_size 100 -> 250")
            && steps[0].contains("bisect_batch_on_error true -> false")
            && steps[0].contains("maximum_retry_attempts default -> 3"),
        "{steps:?}"
    );
    let all = mappings(&aws).await;
    assert_eq!(all.len(), 1, "updated in place");
    assert_eq!(all[0].batch_size(), Some(250));
    assert_eq!(all[0].bisect_batch_on_function_error(), Some(false));
    assert_eq!(all[0].maximum_retry_attempts(), Some(3));
    let (plan, _) = deploy(&aws, &changed, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    // Where a mapping starts cannot change: the plan says so instead of pretending.
    let rewind = trigger_settings(
        "audit",
        serde_json::json!({"kind": "dynamodb", "table": "orders", "batch_size": 250, "bisect_batch_on_error": false, "maximum_retry_attempts": 3, "starting_position": "TRIM_HORIZON"}),
    );
    let plan = deploy::plan(&aws, &rewind, &zip).await.expect("plan");
    let steps = trigger_steps(&plan);
    assert!(
        steps.iter().any(|s| s.starts_with(
            "skip starting_position LATEST -> TRIM_HORIZON: Lambda sets it only when a mapping is created"
        )),
        "{steps:?}"
    );

    let removed = ops::delete(&aws, "audit").await.expect("delete");
    assert_eq!(
        removed
            .iter()
            .map(|r| r.split(' ').next().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["event", "function", "role"],
        "{removed:?}"
    );
    assert!(mappings(&aws).await.is_empty());
    let table = aws
        .dynamodb
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .expect("the user's table stays");
    assert_eq!(
        table.table().and_then(|t| t.latest_stream_arn()),
        Some(stream.as_str())
    );
}

/// The alias's SNS subscriptions: (topic ARN, endpoint).
async fn lambda_subscriptions(aws: &Aws) -> Vec<(String, String)> {
    aws.sns
        .list_subscriptions()
        .send()
        .await
        .expect("subscriptions")
        .subscriptions()
        .iter()
        .filter(|s| s.protocol() == Some("lambda"))
        .map(|s| {
            (
                s.topic_arn().unwrap_or_default().to_owned(),
                s.endpoint().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn topics(aws: &Aws) -> Vec<String> {
    aws.sns
        .list_topics()
        .send()
        .await
        .expect("topics")
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_sns_topic_is_created_subscribed_permitted_moved_and_deleted_but_a_named_one_stays() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"sns"), &[]).expect("zip");
    let s = trigger_settings("alerts", serde_json::json!({"kind": "sns"}));

    let (plan, done) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "create the SNS topic alerts-topic",
            "allow sns.amazonaws.com to invoke the alias from the trigger's resource only (statement lamplight-sns)",
            "subscribe the alias to topic alerts-topic",
        ]
    );
    let topic = topics(&aws)
        .await
        .into_iter()
        .find(|t| t.ends_with(":alerts-topic"))
        .expect("topic created");
    let tags = aws
        .sns
        .list_tags_for_resource()
        .resource_arn(&topic)
        .send()
        .await
        .expect("tags");
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(
        tags.contains(&("lamplight:created-by", "lamplight")),
        "{tags:?}"
    );
    assert!(tags.contains(&("lamplight:function", "alerts")), "{tags:?}");
    let alias_arn = format!("{}:live", done.arn);
    assert_eq!(
        lambda_subscriptions(&aws).await,
        [(topic.clone(), alias_arn.clone())]
    );
    let policy = policy_of(&aws, "alerts").await;
    let st = statement(&policy, "lamplight-sns").expect("sns statement");
    assert_eq!(st["Principal"]["Service"], "sns.amazonaws.com");
    assert_eq!(st["Action"], "lambda:InvokeFunction");
    assert_eq!(
        st["Condition"]["ArnLike"]["AWS:SourceArn"],
        topic.as_str(),
        "{st}"
    );

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    // A topic the user made, named by ARN: the subscription and permission move to it.
    let news = aws
        .sns
        .create_topic()
        .name("news")
        .send()
        .await
        .expect("user topic")
        .topic_arn()
        .expect("arn")
        .to_owned();
    let named = trigger_settings("alerts", serde_json::json!({"kind": "sns", "topic": news}));
    let (plan, _) = deploy(&aws, &named, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "again allow sns.amazonaws.com to invoke the alias from the trigger's resource only (statement lamplight-sns)".to_owned(),
            format!("unsubscribe the alias from topic {topic}"),
            format!("subscribe the alias to topic {news}"),
        ]
    );
    assert_eq!(
        lambda_subscriptions(&aws).await,
        [(news.clone(), alias_arn.clone())]
    );
    let policy = policy_of(&aws, "alerts").await;
    let st = statement(&policy, "lamplight-sns").expect("sns statement");
    assert_eq!(st["Condition"]["ArnLike"]["AWS:SourceArn"], news.as_str());
    let (plan, _) = deploy(&aws, &named, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    // A topic that does not exist is refused, naming it.
    let missing = trigger_settings(
        "alerts",
        serde_json::json!({"kind": "sns", "topic": "arn:aws:sns:us-east-1:123456789012:nope"}),
    );
    let err = deploy::plan(&aws, &missing, &zip)
        .await
        .expect_err("missing topic");
    assert!(err.to_string().contains("does not exist"), "{err}");

    let removed = ops::delete(&aws, "alerts").await.expect("delete");
    assert_eq!(
        removed
            .iter()
            .map(|r| r.split(' ').next().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["SNS", "topic", "function", "role"],
        "the subscription, deploy's topic (left from before the move), the rest: {removed:?}"
    );
    assert!(lambda_subscriptions(&aws).await.is_empty());
    assert_eq!(topics(&aws).await, [news], "the user's topic stays");
}

async fn notifications(
    aws: &Aws,
    bucket: &str,
) -> aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput
{
    aws.s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .expect("notifications")
}

async fn inline_policy(aws: &Aws, role: &str, policy: &str) -> Option<serde_json::Value> {
    let found = aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .ok()?;
    serde_json::from_str(&deploy::decode_trust_policy(found.policy_document())).ok()
}

#[tokio::test]
async fn an_s3_notification_is_merged_permitted_scoped_updated_and_removed_but_the_bucket_stays() {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"s3"), &[]).expect("zip");
    // The user's bucket, already notifying their own queue: deploy must keep that.
    aws.s3
        .create_bucket()
        .bucket("uploads")
        .send()
        .await
        .expect("bucket");
    let queue_url = aws
        .sqs
        .create_queue()
        .queue_name("audit")
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    let queue = queue_arn(&aws, "audit").await.expect("queue arn");
    assert!(queue_url.contains("audit"));
    aws.s3
        .put_bucket_notification_configuration()
        .bucket("uploads")
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .id("users-own")
                        .queue_arn(&queue)
                        .events(Event::from("s3:ObjectRemoved:*"))
                        .build()
                        .expect("queue configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("user's notification");

    let s = trigger_settings(
        "ingest",
        serde_json::json!({"kind": "s3", "bucket": "uploads", "prefix": "in/", "suffix": ".csv"}),
    );
    let (plan, done) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "let role ingest-lamplight s3:GetObject on arn:aws:s3:::uploads/in/* only (inline policy lamplight-s3)",
            "allow s3.amazonaws.com to invoke the alias from the trigger's resource only (statement lamplight-s3)",
            "notify the alias of bucket uploads's events (add; its other notifications kept)",
        ]
    );
    let current = notifications(&aws, "uploads").await;
    assert_eq!(current.queue_configurations().len(), 1, "the user's stays");
    assert_eq!(current.queue_configurations()[0].id(), Some("users-own"));
    let ours = current.lambda_function_configurations();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].id(), Some("lamplight-ingest"));
    assert_eq!(ours[0].lambda_function_arn(), format!("{}:live", done.arn));
    assert_eq!(
        ours[0]
            .events()
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>(),
        ["s3:ObjectCreated:*"]
    );
    let rules: Vec<(String, String)> = ours[0]
        .filter()
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.name()
                    .map(|n| n.as_str().to_ascii_lowercase())
                    .unwrap_or_default(),
                r.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("prefix".into(), "in/".into()),
            ("suffix".into(), ".csv".into())
        ]
    );
    let policy = policy_of(&aws, "ingest").await;
    let st = statement(&policy, "lamplight-s3").expect("s3 statement");
    assert_eq!(st["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(
        st["Condition"]["ArnLike"]["AWS:SourceArn"],
        "arn:aws:s3:::uploads"
    );
    let account = done.arn.split(':').nth(4).expect("account");
    assert_eq!(
        st["Condition"]["StringEquals"]["AWS:SourceAccount"], account,
        "{st}"
    );
    let read = inline_policy(&aws, "ingest-lamplight", "lamplight-s3")
        .await
        .expect("inline policy");
    assert_eq!(read["Statement"][0]["Action"], "s3:GetObject");
    assert_eq!(
        read["Statement"][0]["Resource"],
        serde_json::json!(["arn:aws:s3:::uploads/in/*"])
    );

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let changed = trigger_settings(
        "ingest",
        serde_json::json!({"kind": "s3", "bucket": "uploads", "events": ["s3:ObjectRemoved:*"], "suffix": ".csv"}),
    );
    let (plan, _) = deploy(&aws, &changed, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "let role ingest-lamplight s3:GetObject on arn:aws:s3:::uploads/* only (inline policy lamplight-s3)",
            "notify the alias of bucket uploads's events (events -> s3:ObjectRemoved:*, prefix \"in/\" -> \"\"; its other notifications kept)",
        ]
    );
    let current = notifications(&aws, "uploads").await;
    assert_eq!(current.queue_configurations().len(), 1, "the user's stays");
    let ours = current.lambda_function_configurations();
    assert_eq!(ours.len(), 1, "updated in place");
    assert_eq!(ours[0].events()[0].as_str(), "s3:ObjectRemoved:*");
    let (plan, _) = deploy(&aws, &changed, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let removed = ops::delete(&aws, "ingest").await.expect("delete");
    assert_eq!(
        removed,
        [
            "S3 notification lamplight-ingest of bucket uploads",
            "function ingest",
            "role ingest-lamplight"
        ]
    );
    let current = notifications(&aws, "uploads").await;
    assert!(current.lambda_function_configurations().is_empty());
    assert_eq!(
        current.queue_configurations().len(),
        1,
        "the user's notification stays"
    );
    aws.s3
        .head_bucket()
        .bucket("uploads")
        .send()
        .await
        .expect("the user's bucket stays");
}

#[tokio::test]
async fn s3_read_gives_the_role_get_object_on_those_prefixes_and_goes_with_the_setting() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"reader"), &[]).expect("zip");
    let mut s = settings("reader");
    s.s3_read = vec!["my-greetings".into(), "assets/templates/".into()];

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "let role reader-lamplight s3:GetObject on arn:aws:s3:::my-greetings/*, arn:aws:s3:::assets/templates/* only (inline policy lamplight-s3-read)"
        ]
    );
    let read = inline_policy(&aws, "reader-lamplight", "lamplight-s3-read")
        .await
        .expect("inline policy");
    assert_eq!(
        read["Statement"][0]["Resource"],
        serde_json::json!([
            "arn:aws:s3:::my-greetings/*",
            "arn:aws:s3:::assets/templates/*"
        ])
    );
    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(trigger_steps(&plan).is_empty(), "{plan}");

    s.s3_read.clear();
    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        ["remove inline policy lamplight-s3-read from role reader-lamplight"]
    );
    assert!(
        inline_policy(&aws, "reader-lamplight", "lamplight-s3-read")
            .await
            .is_none()
    );
    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(trigger_steps(&plan).is_empty(), "{plan}");
}

#[tokio::test]
async fn an_eventbridge_schedule_is_created_permitted_rescheduled_in_place_and_deleted() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"cron"), &[]).expect("zip");
    let s = trigger_settings(
        "nightly",
        serde_json::json!({"kind": "eventbridge", "schedule": "rate(1 day)"}),
    );

    let (plan, done) = deploy(&aws, &s, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "create EventBridge rule nightly-schedule (schedule rate(1 day))",
            "allow events.amazonaws.com to invoke the alias from the trigger's resource only (statement lamplight-eventbridge)",
            "target the alias from rule nightly-schedule",
        ]
    );
    let rule = aws
        .events
        .describe_rule()
        .name("nightly-schedule")
        .send()
        .await
        .expect("rule");
    assert_eq!(rule.schedule_expression(), Some("rate(1 day)"));
    let rule_arn = rule.arn().expect("arn").to_owned();
    let tags = aws
        .events
        .list_tags_for_resource()
        .resource_arn(&rule_arn)
        .send()
        .await
        .expect("tags");
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(
        tags.contains(&("lamplight:created-by", "lamplight")),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("lamplight:function", "nightly")),
        "{tags:?}"
    );
    let targets = aws
        .events
        .list_targets_by_rule()
        .rule("nightly-schedule")
        .send()
        .await
        .expect("targets");
    assert_eq!(
        targets
            .targets()
            .iter()
            .map(|t| t.arn().to_owned())
            .collect::<Vec<_>>(),
        [format!("{}:live", done.arn)]
    );
    let policy = policy_of(&aws, "nightly").await;
    let st = statement(&policy, "lamplight-eventbridge").expect("statement");
    assert_eq!(st["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(
        st["Condition"]["ArnLike"]["AWS:SourceArn"],
        rule_arn.as_str()
    );

    let (plan, _) = deploy(&aws, &s, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let later = trigger_settings(
        "nightly",
        serde_json::json!({"kind": "eventbridge", "schedule": "cron(0 2 * * ? *)"}),
    );
    let (plan, _) = deploy(&aws, &later, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "update EventBridge rule nightly-schedule (schedule cron(0 2 * * ? *))",
            "keep the EventBridge target (unchanged)"
        ]
    );
    let rule = aws
        .events
        .describe_rule()
        .name("nightly-schedule")
        .send()
        .await
        .expect("rule");
    assert_eq!(rule.schedule_expression(), Some("cron(0 2 * * ? *)"));
    assert_eq!(rule.arn(), Some(rule_arn.as_str()), "updated in place");
    let (plan, _) = deploy(&aws, &later, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let removed = ops::delete(&aws, "nightly").await.expect("delete");
    assert_eq!(
        removed,
        [
            "EventBridge rule nightly-schedule",
            "function nightly",
            "role nightly-lamplight"
        ]
    );
    assert!(
        aws.events
            .list_rules()
            .send()
            .await
            .expect("rules")
            .rules()
            .is_empty()
    );
}

/// Deploys `s` with its trigger's resource taken away between plan and apply (`vanish`): the
/// error names the call that failed and lists the steps done before it, trigger steps included,
/// and not the failed one.
async fn fails_part_way(
    aws: &Aws,
    s: &DeploySettings,
    zip: &Package,
    vanish: impl std::future::Future<Output = ()>,
    failed_call: &str,
    done_before: &str,
    not_done: &str,
) {
    let plan = deploy::plan(aws, s, zip).await.expect("plan");
    vanish.await;
    let err = deploy::apply(aws, s, zip, plan, &mut |_| {})
        .await
        .expect_err("a trigger step fails");
    let DeployError::Partial { cause, done } = &err else {
        panic!("{}: a partial failure, not: {err}", s.name);
    };
    assert!(cause.to_string().contains(failed_call), "{cause}");
    assert!(done.contains("  - create the function"), "{done}");
    assert!(done.contains(done_before), "{}: {done}", s.name);
    assert!(!done.contains(not_done), "{}: {done}", s.name);
    ops::delete(aws, &s.name).await.expect("delete cleans up");
    assert!(ops::get(aws, &s.name).await.is_err());
}

#[tokio::test]
async fn sns_and_s3_triggers_that_fail_part_way_name_the_steps_done() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"half"), &[]).expect("zip");

    let topic = aws
        .sns
        .create_topic()
        .name("going")
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_owned();
    let s = trigger_settings(
        "half-sns",
        serde_json::json!({"kind": "sns", "topic": topic}),
    );
    fails_part_way(
        &aws,
        &s,
        &zip,
        async {
            aws.sns
                .delete_topic()
                .topic_arn(&topic)
                .send()
                .await
                .expect("delete topic");
        },
        "sns:Subscribe",
        "(statement lamplight-sns)",
        "subscribe the alias",
    )
    .await;

    aws.s3
        .create_bucket()
        .bucket("going-bucket")
        .send()
        .await
        .expect("bucket");
    let s = trigger_settings(
        "half-s3",
        serde_json::json!({"kind": "s3", "bucket": "going-bucket"}),
    );
    fails_part_way(
        &aws,
        &s,
        &zip,
        async {
            aws.s3
                .delete_bucket()
                .bucket("going-bucket")
                .send()
                .await
                .expect("delete bucket");
        },
        "s3:",
        "(statement lamplight-s3)",
        "notify the alias",
    )
    .await;
}

/// The mapping's source and UUID, for each mapping there is.
async fn mapped_sources(aws: &Aws) -> Vec<(String, String)> {
    mappings(aws)
        .await
        .iter()
        .map(|m| {
            (
                m.event_source_arn().unwrap_or_default().to_owned(),
                m.uuid().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_queue_changed_in_the_settings_moves_the_mapping_and_the_earlier_one_goes() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"sqs"), &[]).expect("zip");
    for name in ["first", "second"] {
        aws.sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("user's queue");
    }
    let first = queue_arn(&aws, "first").await.expect("arn");
    let second = queue_arn(&aws, "second").await.expect("arn");

    let s = trigger_settings("mover", serde_json::json!({"kind": "sqs", "queue": first}));
    deploy(&aws, &s, &zip).await;
    let before = mapped_sources(&aws).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].0, first);
    let earlier = before[0].1.clone();

    let moved = trigger_settings("mover", serde_json::json!({"kind": "sqs", "queue": second}));
    let (plan, _) = deploy(&aws, &moved, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "let role mover-lamplight receive, delete and read attributes of queue second only"
                .to_owned(),
            "map queue second to the alias (ReportBatchItemFailures)".to_owned(),
            format!("remove mapping {earlier} of the earlier queue first"),
        ]
    );
    let after = mapped_sources(&aws).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, second, "only the new queue is read");
    let policy = inline_policy(&aws, "mover-lamplight", "lamplight-sqs")
        .await
        .expect("inline policy");
    assert_eq!(
        policy["Statement"][0]["Resource"],
        second.as_str(),
        "the role reads the new queue only"
    );

    let (plan, _) = deploy(&aws, &moved, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    ops::delete(&aws, "mover").await.expect("delete");
    assert!(mappings(&aws).await.is_empty());
    for (name, arn) in [("first", first), ("second", second)] {
        assert_eq!(
            queue_arn(&aws, name).await,
            Some(arn),
            "the user's queues stay"
        );
    }
}

#[tokio::test]
async fn a_table_changed_in_the_settings_moves_the_mapping_and_the_earlier_one_goes() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"ddb"), &[]).expect("zip");
    let first = create_table(&aws, "first", true).await;
    let second = create_table(&aws, "second", true).await;

    let s = trigger_settings(
        "mover",
        serde_json::json!({"kind": "dynamodb", "table": "first"}),
    );
    deploy(&aws, &s, &zip).await;
    let before = mapped_sources(&aws).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].0, first);
    let earlier = before[0].1.clone();

    let moved = trigger_settings(
        "mover",
        serde_json::json!({"kind": "dynamodb", "table": "second"}),
    );
    let (plan, _) = deploy(&aws, &moved, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            format!(
                "let role mover-lamplight read stream {second} only (inline policy lamplight-dynamodb)"
            ),
            format!("map stream {second} to the alias (ReportBatchItemFailures, from LATEST)"),
            format!("remove mapping {earlier} of the earlier stream {first}"),
        ]
    );
    let after = mapped_sources(&aws).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, second, "only the new stream is read");
    let policy = inline_policy(&aws, "mover-lamplight", "lamplight-dynamodb")
        .await
        .expect("inline policy");
    assert_eq!(
        policy["Statement"][0]["Resource"],
        second.as_str(),
        "the role reads the new stream only"
    );

    let (plan, _) = deploy(&aws, &moved, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    ops::delete(&aws, "mover").await.expect("delete");
    assert!(mappings(&aws).await.is_empty());
    for table in ["first", "second"] {
        aws.dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .expect("the user's tables stay");
    }
}

#[tokio::test]
async fn a_bucket_changed_in_the_settings_moves_the_notification_and_keeps_the_others() {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"s3"), &[]).expect("zip");
    for bucket in ["first", "second", "third"] {
        aws.s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("bucket");
    }
    // Someone else's notification on the earlier bucket: it must outlive the move.
    aws.sqs
        .create_queue()
        .queue_name("audit")
        .send()
        .await
        .expect("queue");
    let queue = queue_arn(&aws, "audit").await.expect("queue arn");
    aws.s3
        .put_bucket_notification_configuration()
        .bucket("first")
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .id("users-own")
                        .queue_arn(&queue)
                        .events(Event::from("s3:ObjectRemoved:*"))
                        .build()
                        .expect("queue configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("user's notification");

    let s = trigger_settings(
        "mover",
        serde_json::json!({"kind": "s3", "bucket": "first"}),
    );
    deploy(&aws, &s, &zip).await;
    let current = notifications(&aws, "first").await;
    assert_eq!(current.lambda_function_configurations().len(), 1);
    assert_eq!(current.queue_configurations().len(), 1);

    let moved = trigger_settings(
        "mover",
        serde_json::json!({"kind": "s3", "bucket": "second"}),
    );
    let (plan, done) = deploy(&aws, &moved, &zip).await;
    assert_eq!(
        trigger_steps(&plan),
        [
            "let role mover-lamplight s3:GetObject on arn:aws:s3:::second/* only (inline policy lamplight-s3)",
            "remove the alias's notification from bucket first (its other notifications kept)",
            "again allow s3.amazonaws.com to invoke the alias from the trigger's resource only (statement lamplight-s3)",
            "notify the alias of bucket second's events (add; its other notifications kept)",
        ]
    );
    let earlier = notifications(&aws, "first").await;
    assert!(
        earlier.lambda_function_configurations().is_empty(),
        "{earlier:?}"
    );
    assert_eq!(earlier.queue_configurations().len(), 1, "the user's stays");
    assert_eq!(earlier.queue_configurations()[0].id(), Some("users-own"));
    let now = notifications(&aws, "second").await;
    let ours = now.lambda_function_configurations();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].id(), Some("lamplight-mover"));
    assert_eq!(ours[0].lambda_function_arn(), format!("{}:live", done.arn));
    let policy = policy_of(&aws, "mover").await;
    let st = statement(&policy, "lamplight-s3").expect("s3 statement");
    assert_eq!(
        st["Condition"]["ArnLike"]["AWS:SourceArn"],
        "arn:aws:s3:::second"
    );
    let read = inline_policy(&aws, "mover-lamplight", "lamplight-s3")
        .await
        .expect("inline policy");
    assert_eq!(
        read["Statement"][0]["Resource"],
        serde_json::json!(["arn:aws:s3:::second/*"])
    );

    let (plan, _) = deploy(&aws, &moved, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    // The earlier bucket deleted since: nothing of it to clean up, and the move still goes.
    aws.s3
        .put_bucket_notification_configuration()
        .bucket("second")
        .notification_configuration(NotificationConfiguration::builder().build())
        .send()
        .await
        .expect("emptied");
    aws.s3
        .delete_bucket()
        .bucket("second")
        .send()
        .await
        .expect("bucket deleted");
    let last = trigger_settings(
        "mover",
        serde_json::json!({"kind": "s3", "bucket": "third"}),
    );
    let (plan, _) = deploy(&aws, &last, &zip).await;
    let steps = trigger_steps(&plan);
    assert!(
        !steps.iter().any(|s| s.starts_with("remove the alias's")),
        "{steps:?}"
    );
    assert_eq!(
        notifications(&aws, "third")
            .await
            .lambda_function_configurations()
            .len(),
        1
    );
    let (plan, _) = deploy(&aws, &last, &zip).await;
    assert!(changes_nothing(&plan), "{plan}");

    let removed = ops::delete(&aws, "mover").await.expect("delete");
    assert_eq!(
        removed,
        [
            "S3 notification lamplight-mover of bucket third",
            "function mover",
            "role mover-lamplight"
        ]
    );
    // moto answers a bucket left with no notifications in a form only deploy's reader takes.
    for bucket in ["first", "third"] {
        assert!(
            lamplight_deploy::trigger::bucket_notifications(&aws, bucket)
                .await
                .expect("notifications")
                .lambda_function_configurations()
                .is_empty(),
            "{bucket}"
        );
    }
    assert_eq!(
        notifications(&aws, "first")
            .await
            .queue_configurations()
            .len(),
        1,
        "the user's notification stays"
    );
}

#[tokio::test]
async fn the_log_group_is_deleted_only_when_asked() {
    let moto = start_moto(true);
    let aws = aws_at(&moto.endpoint()).await;
    let dir = tempfile::tempdir().expect("dir");
    let zip = package(&bootstrap(dir.path(), b"logs"), &[]).expect("zip");
    let mut s = settings("logged");
    s.log_retention_days = Some(7);
    deploy(&aws, &s, &zip).await;
    let groups = |aws: &Aws| {
        let aws = aws.clone();
        async move {
            aws.logs
                .describe_log_groups()
                .log_group_name_prefix("/aws/lambda/logged")
                .send()
                .await
                .expect("groups")
                .log_groups()
                .iter()
                .filter_map(|g| g.log_group_name().map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(groups(&aws).await, ["/aws/lambda/logged"]);
    ops::delete(&aws, "logged").await.expect("delete");
    assert_eq!(
        groups(&aws).await,
        ["/aws/lambda/logged"],
        "a delete keeps the logs unless asked"
    );
    assert_eq!(
        ops::delete_log_group(&aws, "logged").await.expect("logs"),
        Some("log group /aws/lambda/logged".to_owned())
    );
    assert!(groups(&aws).await.is_empty());
    assert_eq!(
        ops::delete_log_group(&aws, "logged").await.expect("again"),
        None,
        "none left: nothing to report"
    );
}
