//! A local AWS Lambda service: it runs a function's real `bootstrap` (or any executable that
//! speaks the Runtime API) in execution environments on this machine, serves the Lambda Invoke
//! and control-plane API on loopback so `aws-sdk-lambda` and the AWS CLI work unchanged with an
//! endpoint URL, and receives the function's X-Ray segments on a UDP daemon sink. An optional
//! HTTP front ([`LocalLambdaBuilder::http_addr`], [`LocalLambdaBuilder::http_function`]) serves
//! HTTP functions to plain HTTP clients: each request becomes the event of the function's
//! trigger ([`HttpShape`]), is invoked as through the Invoke API, and its proxy response is the
//! answer.
//!
//! ```no_run
//! use lamplight_local::{Code, FunctionConfig, LocalLambda};
//!
//! # async fn demo() -> Result<(), lamplight_local::ApiError> {
//! let service = LocalLambda::builder()
//!     .function(FunctionConfig::new("greeter", Code::Bootstrap("target/debug/greeter".into())))
//!     .start()
//!     .await?;
//! let outcome = service.invoke("greeter", r#"{"name": "Ada"}"#).await?;
//! println!("{:?}\n{}", outcome.result, outcome.logs);
//! # Ok(()) }
//! ```
//!
//! | module | holds |
//! |---|---|
//! | [`serve`] | the `lamplight-local` program: a service from a [`serve::Spec`] on stdin, driven by [`serve::Command`]s |
//! | [`service`] | [`LocalLambda`] and its builder: the facade that starts and runs the service |
//! | `front` | the HTTP front: plain HTTP requests as the events of HTTP triggers ([`HttpShape`]) |
//! | `api` | the Lambda API over HTTP: Invoke, the control plane, traces and logs |
//! | `response_stream` | InvokeWithResponseStream: a streamed response as it arrives, framed as an event stream; the HTTP prelude |
//! | `invoke` | one Invoke call ([`InvokeRequest`], [`InvokeResponse`]) to a deployment |
//! | `registry` | functions by name, their versions and aliases, [`FunctionHandle`] |
//! | `deployment` | one version of a function and its pool of execution environments |
//! | `environment` | one execution environment: its invocations, from `/next` to `REPORT` |
//! | `host` | the trait an environment sees its deployment through |
//! | `lifecycle` | the runtime spawned, watched until it exits, and torn down |
//! | `extensions` | the Extensions API, external extensions from layers, the shutdown sequence |
//! | `process` | the runtime's process and process group: wait, kill |
//! | `output` | capture of the runtime's stdout and stderr into its log |
//! | `slot` | the invocation slot: what the Runtime API sees of an environment |
//! | `segments` | the service's own X-Ray segments of an invocation |
//! | `runtime_api` | the Runtime API (2018-06-01) a runtime talks to |
//! | `stream` | a streamed response as the Runtime API receives it: chunks, trailers, limits |
//! | `invocation` | one invocation in flight and its [`Outcome`] |
//! | `context` | what every environment shares; the variables Lambda sets for a function |
//! | [`config`] | [`FunctionConfig`] and [`Code`]: what a function is |
//! | [`xray`] | the X-Ray daemon sink and its [`xray::TraceStore`] |
//! | [`logs`] | log streams and `REPORT` lines |
//! | [`error`] | [`ApiError`], errors in the Lambda API's shape |
//!
//! Each module imports only modules below it in this table (`config`, `xray`, `logs` and
//! `error` are leaves), so there are no import loops: `environment` and `deployment` meet
//! through `host`, and `runtime_api` serves any `RuntimeApiBackend` (the environment).
//!
//! What matches Lambda: the Runtime API and its headers, the reserved environment, warm
//! environments reused between invocations, new ones for concurrent invocations up to a limit
//! (then up to [`FunctionConfig::max_queued`] invocations wait for one, and the next are throttled
//! with `TooManyRequestsException`), timeouts that stop the environment
//! (`Sandbox.Timedout`), crashes (`Runtime.ExitError`) and init errors reported to the caller,
//! `START`/`END`/`REPORT` lines with billed duration and peak memory, the payload limits,
//! response streaming (the Runtime API's streaming mode with errors in its trailers, up to 200 MB;
//! InvokeWithResponseStream's event stream; [`LocalLambda::call_streaming`]), the Extensions API
//! with external extensions from layer directories ([`FunctionConfig::layers`]) and the shutdown
//! sequence (`SHUTDOWN`, SIGTERM, the grace period, [`LocalLambda::shutdown`]), and
//! the service's own `AWS::Lambda` and `AWS::Lambda::Function` segments in every sampled trace.
//!
//! Lambda Managed Instances: with [`FunctionConfig::max_concurrency`] N, one environment (one
//! process) serves up to N invocations at once. Its runtime gets `AWS_LAMBDA_MAX_CONCURRENCY=N`
//! and may keep N `/next` polls outstanding; each invocation has its own request id, deadline,
//! trace header, timer and `START`/`END`/`REPORT` lines, and its log holds the runtime's lines
//! that name its request id (lines that name none go to every invocation then running). An
//! environment is filled before another is started; beyond every environment's N, invocations
//! queue as above. A timeout fails only its own invocation (the others in the process keep
//! running); its place stays taken until the runtime answers it late, and an environment whose
//! every place is so taken is recycled.
//!
//! The service runs code with your AWS credentials, so its API answers only local callers: a
//! request must be addressed to a loopback `Host` (or the bound address, or one allowed with
//! [`LocalLambdaBuilder::allow_host`]), come from no web page or a loopback one (others with
//! [`LocalLambdaBuilder::allow_origin`]), and not change anything with a content type a page can
//! send cross-site unasked (`text/plain`, forms). Uploaded packages are unpacked within Lambda's
//! limits (250 MB unzipped), never outside [`LocalLambda::work_dir`], and removed with the
//! function or once replaced code has stopped running.

mod api;
pub mod config;
mod context;
mod deployment;
mod environment;
pub mod error;
mod extensions;
mod front;
mod host;
mod invocation;
mod invoke;
mod lifecycle;
pub mod logs;
mod output;
mod process;
mod registry;
mod response_stream;
mod runtime_api;
mod segments;
pub mod serve;
pub mod service;
mod slot;
mod stream;
pub mod xray;

pub use config::{Code, FunctionConfig, TracingMode};
pub use error::ApiError;
pub use invocation::{FunctionResult, Outcome};
pub use response_stream::ResponseStream;
pub use service::{
    AccessEntry, AccessLog, Echo, FunctionHandle, Hold, HttpShape, InvocationType, InvokeRequest,
    InvokeResponse, LocalLambda, LocalLambdaBuilder, Observer,
};
