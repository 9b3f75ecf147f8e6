//! [`Invocation`]: everything Lambda says about one request, typed, and buildable in tests.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lamplight_xray::TraceHeader;
use serde::{Deserialize, Serialize};

use crate::env::Env;

/// One invocation of the function: request id, deadline, function ARN, trace header, caller
/// context, and the execution environment's [`Env`].
///
/// A worker takes `&Invocation` and is tested by building one:
///
/// ```
/// use std::time::Duration;
/// use lamplight::Invocation;
///
/// let inv = Invocation::builder()
///     .function_arn("arn:aws:lambda:eu-west-1:123456789012:function:greeter:live")
///     .remaining(Duration::from_secs(3))
///     .build();
/// assert_eq!(inv.function_arn().unwrap().alias(), Some("live"));
/// assert!(inv.remaining_time() <= Duration::from_secs(3));
/// ```
#[derive(Debug, Clone)]
pub struct Invocation {
    request_id: String,
    deadline: SystemTime,
    function_arn: String,
    parsed_arn: Result<FunctionArn, ArnError>,
    trace: Option<TraceHeader>,
    raw_trace: Option<String>,
    client_context: Option<ClientContext>,
    identity: Option<CognitoIdentity>,
    tenant_id: Option<String>,
    cold_start: bool,
    env: Arc<Env>,
    context: Option<lambda_runtime::Context>,
}

impl Invocation {
    /// A builder with test-friendly defaults: a fixed request id, 3 s remaining, the ARN of
    /// `test-function` in `us-east-1`, no trace header, and [`Env::local`].
    pub fn builder() -> InvocationBuilder {
        InvocationBuilder::default()
    }

    /// The request id Lambda assigned (`Lambda-Runtime-Aws-Request-Id`).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// When Lambda stops the invocation.
    pub fn deadline(&self) -> SystemTime {
        self.deadline
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining_time(&self) -> Duration {
        self.deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }

    /// The ARN the caller invoked, as sent.
    pub fn invoked_function_arn(&self) -> &str {
        &self.function_arn
    }

    /// The invoked ARN, parsed into partition, region, account, name and qualifier.
    pub fn function_arn(&self) -> Result<&FunctionArn, &ArnError> {
        self.parsed_arn.as_ref()
    }

    /// The invocation's X-Ray trace header, when Lambda sent a valid one.
    pub fn trace(&self) -> Option<&TraceHeader> {
        self.trace.as_ref()
    }

    /// The trace header as Lambda sent it (`Lambda-Runtime-Trace-Id`).
    pub fn raw_trace_header(&self) -> Option<&str> {
        self.raw_trace.as_deref()
    }

    /// The mobile SDK's client context, when the caller sent one.
    pub fn client_context(&self) -> Option<&ClientContext> {
        self.client_context.as_ref()
    }

    /// The Cognito identity of the caller, when the call came through Cognito credentials.
    pub fn identity(&self) -> Option<&CognitoIdentity> {
        self.identity.as_ref()
    }

    /// The tenant id, for functions with tenant isolation.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// Whether this is the first invocation of the execution environment.
    pub fn is_cold_start(&self) -> bool {
        self.cold_start
    }

    /// The execution environment's reserved variables.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The invocation as `lambda_runtime` describes it, for libraries built on it
    /// (`lambda_http`); built from this invocation's fields when it was made in a test.
    pub fn lambda_context(&self) -> lambda_runtime::Context {
        if let Some(context) = &self.context {
            return context.clone();
        }
        let mut context = lambda_runtime::Context::default();
        context.request_id = self.request_id.clone();
        context.deadline = self
            .deadline
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        context.invoked_function_arn = self.function_arn.clone();
        context.xray_trace_id = self.raw_trace.clone();
        context
    }

    pub(crate) fn from_context(
        ctx: lambda_runtime::Context,
        env: Arc<Env>,
        cold_start: bool,
    ) -> Self {
        let builder = InvocationBuilder {
            request_id: ctx.request_id.clone(),
            deadline: SystemTime::UNIX_EPOCH + Duration::from_millis(ctx.deadline),
            function_arn: ctx.invoked_function_arn.clone(),
            trace: ctx.xray_trace_id.clone(),
            client_context: ctx
                .client_context
                .as_ref()
                .and_then(|c| serde_json::to_value(c).ok())
                .and_then(|v| serde_json::from_value(v).ok()),
            identity: ctx
                .identity
                .as_ref()
                .and_then(|c| serde_json::to_value(c).ok())
                .and_then(|v| serde_json::from_value(v).ok()),
            tenant_id: ctx.tenant_id.clone(),
            cold_start,
            env,
        };
        let mut invocation = builder.build();
        invocation.context = Some(ctx);
        invocation
    }
}

/// Builds an [`Invocation`] for tests and local runs.
#[derive(Debug, Clone)]
pub struct InvocationBuilder {
    request_id: String,
    deadline: SystemTime,
    function_arn: String,
    trace: Option<String>,
    client_context: Option<ClientContext>,
    identity: Option<CognitoIdentity>,
    tenant_id: Option<String>,
    cold_start: bool,
    env: Arc<Env>,
}

impl Default for InvocationBuilder {
    fn default() -> Self {
        Self {
            request_id: "00000000-0000-4000-8000-000000000000".into(),
            deadline: SystemTime::now() + Duration::from_secs(3),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:test-function".into(),
            trace: None,
            client_context: None,
            identity: None,
            tenant_id: None,
            cold_start: false,
            env: Arc::new(Env::local("test-function")),
        }
    }
}

impl InvocationBuilder {
    /// Sets the request id (default: the nil-like `00000000-0000-4000-8000-000000000000`).
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = id.into();
        self
    }

    /// Sets the deadline to `remaining` from now.
    pub fn remaining(mut self, remaining: Duration) -> Self {
        self.deadline = SystemTime::now() + remaining;
        self
    }

    /// Sets the deadline to a point in time (default: 3 s from when the builder was made).
    pub fn deadline(mut self, deadline: SystemTime) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets the ARN the caller invoked, qualified or not (default: `test-function` in
    /// `us-east-1`).
    pub fn function_arn(mut self, arn: impl Into<String>) -> Self {
        self.function_arn = arn.into();
        self
    }

    /// Sets the trace header (`Root=...;Parent=...;Sampled=1`).
    pub fn trace_header(mut self, header: impl Into<String>) -> Self {
        self.trace = Some(header.into());
        self
    }

    /// Sets what a mobile SDK caller sends as `Lambda-Runtime-Client-Context`.
    pub fn client_context(mut self, context: ClientContext) -> Self {
        self.client_context = Some(context);
        self
    }

    /// Sets what a Cognito-authenticated caller sends as `Lambda-Runtime-Cognito-Identity`.
    pub fn identity(mut self, identity: CognitoIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Marks the invocation as the environment's first.
    pub fn cold_start(mut self, cold: bool) -> Self {
        self.cold_start = cold;
        self
    }

    /// Sets the execution environment's reserved variables.
    pub fn env(mut self, env: Env) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// The invocation, its ARN and trace header parsed as the runtime parses Lambda's (a
    /// malformed one shows in [`Invocation::function_arn`] and [`Invocation::trace`]).
    pub fn build(self) -> Invocation {
        let parsed_arn = self.function_arn.parse();
        Invocation {
            parsed_arn,
            trace: self.trace.as_deref().and_then(|t| t.parse().ok()),
            raw_trace: self.trace,
            request_id: self.request_id,
            deadline: self.deadline,
            function_arn: self.function_arn,
            client_context: self.client_context,
            identity: self.identity,
            tenant_id: self.tenant_id,
            cold_start: self.cold_start,
            env: self.env,
            context: None,
        }
    }
}

/// A Lambda function ARN: `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub partition: String,
    /// `us-east-1`, ...
    pub region: String,
    /// The 12-digit account id.
    pub account_id: String,
    /// The unqualified name (`my-function`, not `my-function:live`).
    pub function_name: String,
    /// The version or alias the caller named, if any.
    pub qualifier: Option<Qualifier>,
}

/// The part of an ARN after the function name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier {
    /// `$LATEST`.
    Latest,
    /// A published version number.
    Version(u64),
    /// An alias (`live`, `prod`).
    Alias(String),
}

impl FunctionArn {
    /// The alias, when the caller invoked one.
    pub fn alias(&self) -> Option<&str> {
        match &self.qualifier {
            Some(Qualifier::Alias(alias)) => Some(alias),
            _ => None,
        }
    }

    /// The published version, when the caller invoked one.
    pub fn version(&self) -> Option<u64> {
        match self.qualifier {
            Some(Qualifier::Version(v)) => Some(v),
            _ => None,
        }
    }
}

/// Why an ARN is not a function ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{arn}` is not a Lambda function ARN ({reason}); expected \
     arn:<partition>:lambda:<region>:<account>:function:<name>[:<version or alias>]"
)]
pub struct ArnError {
    /// The text that failed to parse.
    pub arn: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for FunctionArn {
    type Err = ArnError;

    fn from_str(arn: &str) -> Result<Self, Self::Err> {
        let err = |reason| ArnError {
            arn: arn.to_owned(),
            reason,
        };
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() < 7 || parts.len() > 8 {
            return Err(err("wrong number of `:`-separated parts"));
        }
        if parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
            return Err(err("not an `arn:*:lambda:*:*:function:*` ARN"));
        }
        if parts[3].is_empty() {
            return Err(err("empty region"));
        }
        if parts[4].len() != 12 || !parts[4].bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("the account id is not 12 digits"));
        }
        if parts[6].is_empty() {
            return Err(err("empty function name"));
        }
        let qualifier = match parts.get(7) {
            None => None,
            Some(&"$LATEST") => Some(Qualifier::Latest),
            Some(&"") => return Err(err("empty qualifier")),
            Some(q) => Some(
                q.parse()
                    .map_or_else(|_| Qualifier::Alias((*q).to_owned()), Qualifier::Version),
            ),
        };
        Ok(Self {
            partition: parts[1].to_owned(),
            region: parts[3].to_owned(),
            account_id: parts[4].to_owned(),
            function_name: parts[6].to_owned(),
            qualifier,
        })
    }
}

impl fmt::Display for FunctionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition, self.region, self.account_id, self.function_name
        )?;
        match &self.qualifier {
            None => Ok(()),
            Some(Qualifier::Latest) => f.write_str(":$LATEST"),
            Some(Qualifier::Version(v)) => write!(f, ":{v}"),
            Some(Qualifier::Alias(a)) => write!(f, ":{a}"),
        }
    }
}

/// Client context sent by the AWS mobile SDKs (`Lambda-Runtime-Client-Context`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClientContext {
    /// The calling application.
    #[serde(default)]
    pub client: ClientApplication,
    /// Custom values set by the caller.
    #[serde(default)]
    pub custom: HashMap<String, String>,
    /// The caller's platform and SDK (`platform`, `model`, `locale`, ...).
    #[serde(default)]
    pub environment: HashMap<String, String>,
}

/// The application in a [`ClientContext`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientApplication {
    /// Identifies the app's installation on the device.
    #[serde(default)]
    pub installation_id: String,
    /// The app's display name.
    #[serde(default)]
    pub app_title: String,
    /// The version shown to users (`1.4.2`).
    #[serde(default)]
    pub app_version_name: String,
    /// The build number.
    #[serde(default)]
    pub app_version_code: String,
    /// The bundle or package id (`com.example.app`).
    #[serde(default)]
    pub app_package_name: String,
}

/// The Cognito identity of the caller (`Lambda-Runtime-Cognito-Identity`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoIdentity {
    /// `<region>:<uuid>`, stable for one user of the pool.
    pub identity_id: String,
    /// The Cognito identity pool the caller authenticated with.
    pub identity_pool_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse_with_every_qualifier_kind() {
        let arn: FunctionArn = "arn:aws:lambda:eu-west-1:123456789012:function:greeter"
            .parse()
            .expect("valid");
        assert_eq!(
            (
                arn.region.as_str(),
                arn.account_id.as_str(),
                arn.function_name.as_str()
            ),
            ("eu-west-1", "123456789012", "greeter")
        );
        assert_eq!(arn.qualifier, None);
        let v: FunctionArn = "arn:aws-cn:lambda:cn-north-1:123456789012:function:f:42"
            .parse()
            .expect("valid");
        assert_eq!((v.partition.as_str(), v.version()), ("aws-cn", Some(42)));
        let a: FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:f:live"
            .parse()
            .expect("valid");
        assert_eq!(a.alias(), Some("live"));
        assert_eq!(
            a.to_string(),
            "arn:aws:lambda:us-east-1:123456789012:function:f:live"
        );
        let l: FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"
            .parse()
            .expect("valid");
        assert_eq!(l.qualifier, Some(Qualifier::Latest));
    }

    #[test]
    fn bad_arns_say_what_is_wrong_and_what_is_expected() {
        for (arn, reason) in [
            ("arn:aws:s3:::bucket", "wrong number"),
            (
                "arn:aws:s3:us-east-1:123456789012:function:f",
                "not an `arn:*:lambda",
            ),
            ("arn:aws:lambda:us-east-1:1234:function:f", "12 digits"),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:",
                "empty function name",
            ),
        ] {
            let err = arn.parse::<FunctionArn>().expect_err(arn).to_string();
            assert!(err.contains(reason), "{arn}: {err}");
            assert!(err.contains("expected arn:<partition>:lambda"), "{err}");
        }
    }

    #[test]
    fn an_invocation_parses_its_trace_header_and_counts_down() {
        let inv = Invocation::builder()
            .trace_header(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            )
            .remaining(Duration::from_millis(1500))
            .build();
        let trace = inv.trace().expect("parsed");
        assert_eq!(trace.root.as_str(), "1-5759e988-bd862e3fe1be46a994272793");
        assert!(trace.is_sampled());
        assert!(inv.remaining_time() > Duration::from_millis(1000));
        assert!(inv.remaining_time() <= Duration::from_millis(1500));
        let past = Invocation::builder()
            .deadline(SystemTime::UNIX_EPOCH)
            .build();
        assert_eq!(past.remaining_time(), Duration::ZERO);
    }
}
