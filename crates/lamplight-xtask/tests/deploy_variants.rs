//! Issue "triggers": every template variant, rendered, deployed twice with `cargo xtask deploy`
//! and deleted with `cargo xtask delete` against moto (`pip install 'moto[server]==5.2.5'`),
//! leaves its trigger exactly once after the deploys and nothing of it after the delete.
//!
//! The commands run in a child copy of this test binary ([`xtask_in_child`]): `deploy` finds
//! its workspace through the current directory and its credentials through the environment,
//! both process-wide, so each run gets the rendered project as its directory and moto's fake
//! keys without this process changing either. No function is compiled: `--bootstrap` ships a
//! host executable, with `--arch` of the host.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use lamplight_deploy::aws::Aws;
use lamplight_deploy::binary::{self, Arch};
use lamplight_deploy::role::role_name;
use lamplight_deploy::trigger;
use lamplight_test::moto::Moto;
use lamplight_xtask::{Choices, EVENT_SOURCES};

/// Set in the child: the `cargo xtask` arguments to run, as a JSON array.
const CHILD: &str = "LAMPLIGHT_XTASK_CHILD_ARGS";

/// The dynamodb variant's `table`, created with a stream before its deploy.
const TABLE: &str = "orders";
/// The s3 variant's `bucket`, created before its deploy.
const BUCKET: &str = "my-uploads";
const ALIAS: &str = "live";

/// In the child, runs one command in-process; in a plain run, does nothing.
#[test]
fn xtask_in_child() {
    let Ok(args) = std::env::var(CHILD) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("the arguments are a JSON array");
    if let Err(e) = lamplight_xtask::run_args(args) {
        panic!("the command failed: {e:#}");
    }
}

/// Which variant: the function's (and project's) name, the template's choices, and what its
/// deploy must leave.
struct Variant {
    name: &'static str,
    event_source: &'static str,
    use_s3: bool,
    trigger: Expect,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Nothing,
    S3Read,
    HttpApi,
    RestApi,
    Alb,
    FunctionUrl,
    Sqs,
    Sns,
    Dynamodb,
    S3,
    EventBridge,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "vm-custom",
        event_source: "custom",
        use_s3: false,
        trigger: Expect::Nothing,
    },
    Variant {
        name: "vm-custom-s3",
        event_source: "custom",
        use_s3: true,
        trigger: Expect::S3Read,
    },
    Variant {
        name: "vm-http-api",
        event_source: "http-api",
        use_s3: false,
        trigger: Expect::HttpApi,
    },
    Variant {
        name: "vm-function-url",
        event_source: "function-url",
        use_s3: false,
        trigger: Expect::FunctionUrl,
    },
    Variant {
        name: "vm-sqs",
        event_source: "sqs",
        use_s3: false,
        trigger: Expect::Sqs,
    },
    Variant {
        name: "vm-sns",
        event_source: "sns",
        use_s3: false,
        trigger: Expect::Sns,
    },
    Variant {
        name: "vm-dynamodb",
        event_source: "dynamodb",
        use_s3: false,
        trigger: Expect::Dynamodb,
    },
    Variant {
        name: "vm-s3",
        event_source: "s3",
        use_s3: false,
        trigger: Expect::S3,
    },
    Variant {
        name: "vm-eventbridge",
        event_source: "eventbridge",
        use_s3: false,
        trigger: Expect::EventBridge,
    },
    Variant {
        name: "vm-rest-api",
        event_source: "rest-api",
        use_s3: false,
        trigger: Expect::RestApi,
    },
    Variant {
        name: "vm-alb",
        event_source: "alb",
        use_s3: false,
        trigger: Expect::Alb,
    },
];

/// moto with AWS's managed IAM policies, which the lamplight role attaches.
fn start_moto() -> Moto {
    Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]).expect("moto starts")
}

/// The deployer's clients for moto.
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

/// A real executable of this machine that provided.al2023 could run (glibc 2.34 at most): the
/// deploy checks the bootstrap it ships.
fn runnable_bootstrap() -> (PathBuf, Arch) {
    let arch = Arch::host().expect("an arm64 or x86_64 machine");
    ["/bin/true", "/usr/bin/true", "/usr/bin/env"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| binary::check(p, arch).is_ok())
        .map(|p| (p, arch))
        .expect("no executable here links glibc 2.34 or older")
}

/// Runs `cargo xtask <args>` in `project` against moto, in a child copy of this binary; its
/// output on failure.
fn xtask(project: &Path, moto: &Moto, scratch: &Path, args: &[&str]) {
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.extend(["--endpoint-url".to_owned(), moto.endpoint()]);
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "--exact",
            "xtask_in_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .current_dir(project)
        .env(CHILD, serde_json::to_string(&args).expect("json"))
        // The zip goes under the project, not the shared target directory.
        .env("CARGO_TARGET_DIR", project.join("target"))
        .env("CARGO_NET_OFFLINE", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        // None of the host's profiles, sessions or instance role.
        .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
    ] {
        command.env_remove(var);
    }
    let output = command.output().expect("the child runs");
    assert!(
        output.status.success(),
        "cargo xtask {} in {} failed:\n{}\n{}",
        args.join(" "),
        project.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_variant_deploys_its_trigger_once_and_delete_removes_it() {
    let started = Instant::now();
    // Every event source of the template is covered.
    for source in EVENT_SOURCES {
        assert!(
            VARIANTS.iter().any(|v| v.event_source == *source),
            "event source {source} has no variant in this test"
        );
    }
    lamplight_xtask::set_template_author();
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let checkout = checkout.canonicalize().expect("the checkout");
    let template = lamplight_xtask::template_dir(Some(&checkout)).expect("the template");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let (bootstrap, arch) = runnable_bootstrap();
    let bootstrap = bootstrap.display().to_string();
    let arch = arch.to_string();

    let moto = start_moto();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let aws = runtime.block_on(aws_at(&moto.endpoint()));
    let stream = runtime.block_on(prerequisites(&aws));

    for variant in VARIANTS {
        let name = variant.name;
        let project = lamplight_xtask::render(
            &template,
            name,
            scratch.path(),
            &Choices {
                event_source: variant.event_source.to_owned(),
                use_s3: variant.use_s3,
                lamplight_path: Some(checkout.clone()),
                ..Choices::default()
            },
        )
        .expect("the template renders");
        let deploy = [
            "deploy",
            "--bootstrap",
            bootstrap.as_str(),
            "--arch",
            arch.as_str(),
        ];
        xtask(&project, &moto, scratch.path(), &deploy);
        let first = runtime.block_on(State::read(&aws, name));
        xtask(&project, &moto, scratch.path(), &deploy);
        let second = runtime.block_on(State::read(&aws, name));
        assert_eq!(first, second, "{name}: the second deploy changed nothing");
        second.assert_deployed(variant, &stream);

        xtask(&project, &moto, scratch.path(), &["delete", name, "--yes"]);
        let after = runtime.block_on(State::read(&aws, name));
        after.assert_deleted(name);
        runtime.block_on(assert_user_resources_stay(&aws));
        eprintln!(
            "{name}: deployed twice and deleted ({:.1} s so far)",
            started.elapsed().as_secs_f64()
        );
    }
    runtime.block_on(assert_moto_is_empty(&aws));
}

/// What the variants need that deploy never creates: the table with a stream and the bucket.
/// Returns the stream's ARN.
async fn prerequisites(aws: &Aws) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        StreamSpecification, StreamViewType,
    };
    let table = aws
        .dynamodb
        .create_table()
        .table_name(TABLE)
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
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .expect("stream"),
        )
        .send()
        .await
        .expect("the table is created");
    aws.s3
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("the bucket is created");
    table
        .table_description()
        .and_then(|d| d.latest_stream_arn())
        .expect("the table has a stream")
        .to_owned()
}

/// Everything a deploy of `name` may have created, read through the SDK.
#[derive(Debug, PartialEq)]
struct State {
    name: String,
    /// The function's unqualified ARN, when it exists.
    function_arn: Option<String>,
    /// Aliases of the function.
    aliases: Vec<String>,
    /// Its lamplight role, when it exists, and that role's inline policies.
    role: Option<Vec<String>>,
    /// The `Sid`s of the alias's resource policy.
    statements: Vec<String>,
    /// The alias's Function URL: its auth type.
    urls: Vec<String>,
    /// Event source mappings of the function: their source ARNs.
    mappings: Vec<String>,
    /// Queues called `<name>-queue`.
    queues: Vec<String>,
    /// Topics called `<name>-topic`.
    topics: Vec<String>,
    /// Lambda subscriptions to the function (any topic): topic ARNs.
    subscriptions: Vec<String>,
    /// HTTP APIs tagged as created for the function: their route keys.
    apis: Vec<Vec<String>>,
    /// REST APIs tagged as created for the function: the paths whose `ANY` calls the alias,
    /// and the stages.
    rest_apis: Vec<(Vec<String>, Vec<String>)>,
    /// Target groups tagged as created for the function: their targets.
    target_groups: Vec<Vec<String>>,
    /// Rules called `<name>-schedule`: their schedule and target ARNs.
    rules: Vec<(String, Vec<String>)>,
    /// The bucket's Lambda notifications that are the function's: their target ARNs.
    notifications: Vec<String>,
}

/// `arn` is the function `function_arn` itself or one of its qualifiers.
fn of_function(arn: &str, function_arn: &str) -> bool {
    arn == function_arn
        || arn
            .strip_prefix(function_arn)
            .is_some_and(|rest| rest.starts_with(':'))
}

impl State {
    async fn read(aws: &Aws, name: &str) -> State {
        let function_arn = aws
            .lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .ok()
            .and_then(|f| f.configuration()?.function_arn().map(str::to_owned));
        // Known before the function is: mappings, subscriptions and notifications still name
        // it after it is gone.
        let arn_of = |account: &str| format!("arn:aws:lambda:us-east-1:{account}:function:{name}");
        let account = function_arn
            .as_deref()
            .and_then(|a| a.split(':').nth(4))
            .unwrap_or("123456789012")
            .to_owned();
        let arn = function_arn.clone().unwrap_or_else(|| arn_of(&account));

        let mut aliases = Vec::new();
        let mut statements = Vec::new();
        let mut urls = Vec::new();
        if function_arn.is_some() {
            aliases = aws
                .lambda
                .list_aliases()
                .function_name(name)
                .send()
                .await
                .expect("aliases")
                .aliases()
                .iter()
                .filter_map(|a| a.name().map(str::to_owned))
                .collect();
            // With no statement the alias has no policy: GetPolicy answers not found.
            if let Ok(policy) = aws
                .lambda
                .get_policy()
                .function_name(name)
                .qualifier(ALIAS)
                .send()
                .await
            {
                let document: serde_json::Value =
                    serde_json::from_str(policy.policy().unwrap_or("{}")).expect("policy json");
                statements = document["Statement"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|st| st["Sid"].as_str().unwrap_or_default().to_owned())
                    .collect();
            }
            // moto 5.2.5 has no ListFunctionUrlConfigs and ignores the qualifier (a function
            // has one URL config there): the alias's is the one asked for.
            if let Ok(url) = aws
                .lambda
                .get_function_url_config()
                .function_name(name)
                .qualifier(ALIAS)
                .send()
                .await
            {
                urls.push(url.auth_type().as_str().to_owned());
            }
        }

        let role_name = role_name(name);
        let role = match aws.iam.get_role().role_name(&role_name).send().await {
            Ok(_) => Some(
                aws.iam
                    .list_role_policies()
                    .role_name(&role_name)
                    .send()
                    .await
                    .expect("role policies")
                    .policy_names()
                    .to_vec(),
            ),
            Err(_) => None,
        };

        let mappings = aws
            .lambda
            .list_event_source_mappings()
            .send()
            .await
            .expect("mappings")
            .event_source_mappings()
            .iter()
            .filter(|m| m.function_arn().is_some_and(|f| of_function(f, &arn)))
            .map(|m| m.event_source_arn().unwrap_or_default().to_owned())
            .collect();

        let queue = trigger::queue_name(name, "create");
        let queues = aws
            .sqs
            .list_queues()
            .queue_name_prefix(&queue)
            .send()
            .await
            .expect("queues")
            .queue_urls()
            .iter()
            .filter(|u| u.rsplit('/').next() == Some(queue.as_str()))
            .cloned()
            .collect();

        let topic = format!(":{}", trigger::topic_name(name));
        let topics = aws
            .sns
            .list_topics()
            .send()
            .await
            .expect("topics")
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .filter(|a| a.ends_with(&topic))
            .map(str::to_owned)
            .collect();
        let subscriptions = aws
            .sns
            .list_subscriptions()
            .send()
            .await
            .expect("subscriptions")
            .subscriptions()
            .iter()
            .filter(|s| s.protocol() == Some("lambda"))
            .filter(|s| s.endpoint().is_some_and(|e| of_function(e, &arn)))
            .map(|s| s.topic_arn().unwrap_or_default().to_owned())
            .collect();

        let mut apis = Vec::new();
        let found = aws.apigw.get_apis().send().await.expect("apis");
        for api in found.items() {
            let ours = api.tags().is_some_and(|t| {
                t.get(trigger::FUNCTION_TAG).map(String::as_str) == Some(name)
                    && t.get(trigger::CREATED_BY_TAG).map(String::as_str)
                        == Some(trigger::CREATED_BY)
            });
            if ours {
                let routes = aws
                    .apigw
                    .get_routes()
                    .api_id(api.api_id().unwrap_or_default())
                    .send()
                    .await
                    .expect("routes");
                apis.push(
                    routes
                        .items()
                        .iter()
                        .filter_map(|r| r.route_key().map(str::to_owned))
                        .collect(),
                );
            }
        }

        let mut rest_apis = Vec::new();
        let found = aws.rest.get_rest_apis().send().await.expect("rest apis");
        for api in found.items() {
            let ours = api.tags().is_some_and(|t| {
                t.get(trigger::FUNCTION_TAG).map(String::as_str) == Some(name)
                    && t.get(trigger::CREATED_BY_TAG).map(String::as_str)
                        == Some(trigger::CREATED_BY)
            });
            if !ours {
                continue;
            }
            let id = api.id().unwrap_or_default();
            let resources = aws
                .rest
                .get_resources()
                .rest_api_id(id)
                .send()
                .await
                .expect("resources");
            let mut paths = Vec::new();
            for r in resources.items() {
                let integration = aws
                    .rest
                    .get_integration()
                    .rest_api_id(id)
                    .resource_id(r.id().unwrap_or_default())
                    .http_method("ANY")
                    .send()
                    .await;
                if let Ok(i) = integration
                    && i.uri().is_some_and(|u| {
                        u.ends_with(&format!(":function:{name}:{ALIAS}/invocations"))
                    })
                {
                    paths.push(r.path().unwrap_or_default().to_owned());
                }
            }
            paths.sort();
            let stages = aws
                .rest
                .get_stages()
                .rest_api_id(id)
                .send()
                .await
                .expect("stages")
                .item()
                .iter()
                .filter_map(|st| st.stage_name().map(str::to_owned))
                .collect();
            rest_apis.push((paths, stages));
        }

        let mut target_groups = Vec::new();
        let groups = aws
            .elb
            .describe_target_groups()
            .send()
            .await
            .expect("target groups");
        for group in groups.target_groups() {
            let arn = group.target_group_arn().unwrap_or_default();
            let tags = aws
                .elb
                .describe_tags()
                .resource_arns(arn)
                .send()
                .await
                .expect("tags");
            let ours = tags
                .tag_descriptions()
                .iter()
                .flat_map(|d| d.tags())
                .any(|t| t.key() == Some(trigger::FUNCTION_TAG) && t.value() == Some(name));
            if !ours {
                continue;
            }
            let targets = aws
                .elb
                .describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
                .expect("targets")
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned))
                .collect();
            target_groups.push(targets);
        }

        let rule = trigger::rule_name(name);
        let mut rules = Vec::new();
        let listed = aws
            .events
            .list_rules()
            .name_prefix(&rule)
            .send()
            .await
            .expect("rules");
        for r in listed.rules().iter().filter(|r| r.name() == Some(&rule)) {
            let targets = aws
                .events
                .list_targets_by_rule()
                .rule(&rule)
                .send()
                .await
                .expect("targets")
                .targets()
                .iter()
                .map(|t| t.arn().to_owned())
                .collect();
            rules.push((
                r.schedule_expression().unwrap_or_default().to_owned(),
                targets,
            ));
        }

        let id = trigger::notification_id(name);
        let notifications = bucket_notifications(aws).await;
        let notifications = notifications
            .iter()
            .filter(|c| c.id() == Some(id.as_str()) || of_function(c.lambda_function_arn(), &arn))
            .map(|c| c.lambda_function_arn().to_owned())
            .collect();

        State {
            name: name.to_owned(),
            function_arn,
            aliases,
            role,
            statements,
            urls,
            mappings,
            queues,
            topics,
            subscriptions,
            apis,
            rest_apis,
            target_groups,
            rules,
            notifications,
        }
    }

    /// The function, its alias, its role, and its variant's trigger exactly once.
    fn assert_deployed(&self, variant: &Variant, stream: &str) {
        let name = variant.name;
        let arn = self.function_arn.as_deref().expect("the function exists");
        let alias_arn = format!("{arn}:{ALIAS}");
        assert_eq!(self.aliases, [ALIAS], "{name}: one alias");
        let role = self.role.as_deref().expect("the lamplight role exists");
        let none: &[&str] = &[];

        // Each kind's resources: exactly one where it is this variant's trigger, else none.
        let expect = variant.trigger;
        let (policies, statements): (&[&str], &[&str]) = match expect {
            Expect::Nothing | Expect::FunctionUrl => (none, none),
            Expect::S3Read => (&[trigger::S3_READ_POLICY], none),
            Expect::HttpApi => (none, &[trigger::HTTP_API_STATEMENT]),
            Expect::RestApi => (none, &[trigger::REST_API_STATEMENT]),
            Expect::Alb => (none, &[trigger::ALB_STATEMENT]),
            Expect::Sqs => (&[trigger::SQS_POLICY], none),
            Expect::Sns => (none, &[trigger::SNS_STATEMENT]),
            Expect::Dynamodb => (&[trigger::DYNAMODB_POLICY], none),
            Expect::S3 => (&[trigger::S3_POLICY], &[trigger::S3_STATEMENT]),
            Expect::EventBridge => (none, &[trigger::EVENTBRIDGE_STATEMENT]),
        };
        assert_eq!(role, policies, "{name}: the role's inline policies");
        assert_eq!(
            self.statements, statements,
            "{name}: the alias's permissions"
        );

        let urls: &[&str] = if expect == Expect::FunctionUrl {
            &["AWS_IAM"]
        } else {
            none
        };
        assert_eq!(self.urls, urls, "{name}: Function URLs");

        let queue = self.queues.first().cloned();
        match expect {
            Expect::Sqs => {
                assert_eq!(self.queues.len(), 1, "{name}: one queue: {self:#?}");
                let queue = queue.expect("the queue");
                let queue = queue.rsplit('/').next().expect("queue name");
                assert_eq!(self.mappings.len(), 1, "{name}: one mapping: {self:#?}");
                assert!(
                    self.mappings[0].ends_with(&format!(":{queue}")),
                    "{name}: the mapping reads the queue: {self:#?}"
                );
            }
            Expect::Dynamodb => {
                assert!(self.queues.is_empty(), "{name}: {self:#?}");
                assert_eq!(self.mappings, [stream], "{name}: one mapping of the stream");
            }
            _ => {
                assert!(self.queues.is_empty(), "{name}: no queue: {self:#?}");
                assert!(self.mappings.is_empty(), "{name}: no mapping: {self:#?}");
            }
        }

        if expect == Expect::Sns {
            assert_eq!(self.topics.len(), 1, "{name}: one topic: {self:#?}");
            assert_eq!(self.subscriptions, self.topics, "{name}: one subscription");
        } else {
            assert!(self.topics.is_empty(), "{name}: no topic: {self:#?}");
            assert!(self.subscriptions.is_empty(), "{name}: {self:#?}");
        }

        if expect == Expect::HttpApi {
            assert_eq!(self.apis, [["$default"]], "{name}: one API, one route");
        } else {
            assert!(self.apis.is_empty(), "{name}: no API: {self:#?}");
        }

        if expect == Expect::RestApi {
            assert_eq!(
                self.rest_apis,
                [(
                    vec!["/".to_owned(), "/{proxy+}".to_owned()],
                    vec!["prod".to_owned()]
                )],
                "{name}: one REST API, both resources to the alias, one stage"
            );
        } else {
            assert!(self.rest_apis.is_empty(), "{name}: no REST API: {self:#?}");
        }

        if expect == Expect::Alb {
            assert_eq!(
                self.target_groups,
                [vec![alias_arn.clone()]],
                "{name}: one target group, the alias its one target"
            );
        } else {
            assert!(self.target_groups.is_empty(), "{name}: {self:#?}");
        }

        if expect == Expect::EventBridge {
            assert_eq!(
                self.rules,
                [("rate(1 day)".to_owned(), vec![alias_arn.clone()])],
                "{name}: one rule with one target, the alias"
            );
        } else {
            assert!(self.rules.is_empty(), "{name}: no rule: {self:#?}");
        }

        if expect == Expect::S3 {
            assert_eq!(
                self.notifications,
                [alias_arn.as_str()],
                "{name}: one notification, to the alias"
            );
        } else {
            assert!(self.notifications.is_empty(), "{name}: {self:#?}");
        }
    }

    /// Nothing of the function is left.
    fn assert_deleted(&self, name: &str) {
        let gone = State {
            name: name.to_owned(),
            function_arn: None,
            aliases: Vec::new(),
            role: None,
            statements: Vec::new(),
            urls: Vec::new(),
            mappings: Vec::new(),
            queues: Vec::new(),
            topics: Vec::new(),
            subscriptions: Vec::new(),
            apis: Vec::new(),
            rest_apis: Vec::new(),
            target_groups: Vec::new(),
            rules: Vec::new(),
            notifications: Vec::new(),
        };
        assert_eq!(*self, gone, "{name}: delete left something behind");
    }
}

/// The table and the bucket are the user's: deploys and deletes use them, never remove them.
async fn assert_user_resources_stay(aws: &Aws) {
    aws.dynamodb
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .expect("the table stays");
    aws.s3
        .head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("the bucket stays");
}

/// After every delete, moto holds nothing the deploys made, whoever's it was.
async fn assert_moto_is_empty(aws: &Aws) {
    let functions = aws.lambda.list_functions().send().await.expect("functions");
    assert!(functions.functions().is_empty(), "{functions:?}");
    let roles = aws.iam.list_roles().send().await.expect("roles");
    let lamplight: Vec<&str> = roles
        .roles()
        .iter()
        .map(|r| r.role_name())
        .filter(|r| r.ends_with("-lamplight"))
        .collect();
    assert!(lamplight.is_empty(), "{lamplight:?}");
    let mappings = aws
        .lambda
        .list_event_source_mappings()
        .send()
        .await
        .expect("mappings");
    assert!(mappings.event_source_mappings().is_empty(), "{mappings:?}");
    let queues = aws.sqs.list_queues().send().await.expect("queues");
    assert!(queues.queue_urls().is_empty(), "{queues:?}");
    let topics = aws.sns.list_topics().send().await.expect("topics");
    assert!(topics.topics().is_empty(), "{topics:?}");
    let subscriptions = aws
        .sns
        .list_subscriptions()
        .send()
        .await
        .expect("subscriptions");
    assert!(
        subscriptions.subscriptions().is_empty(),
        "{subscriptions:?}"
    );
    let apis = aws.apigw.get_apis().send().await.expect("apis");
    assert!(apis.items().is_empty(), "{apis:?}");
    let rest_apis = aws.rest.get_rest_apis().send().await.expect("rest apis");
    assert!(rest_apis.items().is_empty(), "{rest_apis:?}");
    let groups = aws
        .elb
        .describe_target_groups()
        .send()
        .await
        .expect("target groups");
    assert!(groups.target_groups().is_empty(), "{groups:?}");
    let rules = aws.events.list_rules().send().await.expect("rules");
    assert!(rules.rules().is_empty(), "{rules:?}");
    let notifications = bucket_notifications(aws).await;
    assert!(notifications.is_empty(), "{notifications:?}");
}

/// The bucket's Lambda notifications (moto's answer for a bucket without any read as none).
async fn bucket_notifications(aws: &Aws) -> Vec<aws_sdk_s3::types::LambdaFunctionConfiguration> {
    trigger::bucket_notifications(aws, BUCKET)
        .await
        .expect("the bucket's notifications")
        .lambda_function_configurations()
        .to_vec()
}
