//! A real AWS API server for tests: moto (`pip install 'moto[server]==5.2.5'`), started on a
//! free loopback port and killed when dropped.
//!
//! moto implements DynamoDB, SSM, Secrets Manager, AppConfig, S3, SQS, Lambda and IAM well
//! enough to test the calls a function makes against real request signing, real serialisation
//! and real errors, which a mock of the SDK would not.
//!
//! ```no_run
//! let moto = lamplight_test::moto::Moto::start().expect("moto runs");
//! // Point a function (or the SDK in the test) at it.
//! for (name, value) in moto.env() {
//!     println!("{name}={value}");
//! }
//! ```

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::Spawned;

/// The region moto is used in.
pub const REGION: &str = "us-east-1";
/// The access key (and secret key) moto accepts.
pub const ACCESS_KEY: &str = "testing";

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    process: Spawned,
    addr: String,
}

/// moto could not be started.
#[derive(Debug)]
pub struct NotStarted(pub String);

impl std::fmt::Display for NotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "moto did not start ({}): is it installed? pip install 'moto[server]==5.2.5'",
            self.0
        )
    }
}

impl std::error::Error for NotStarted {}

impl Moto {
    /// Starts moto with Lambda's Docker-free simulator (no Docker engine runs here) and waits
    /// until it answers, at most 60 s.
    pub fn start() -> Result<Moto, NotStarted> {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with moto's own settings in its environment (say
    /// `MOTO_IAM_LOAD_MANAGED_POLICIES=true` for AWS's managed IAM policies).
    pub fn start_with(env: &[(&str, &str)]) -> Result<Moto, NotStarted> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| NotStarted(format!("no free port: {e}")))?
            .port();
        let process = Spawned::start(
            Command::new("python3")
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .envs(env.iter().copied()),
        )
        .map_err(|e| NotStarted(format!("python3 did not run: {e}")))?;
        let moto = Moto {
            process,
            addr: format!("127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while moto.request("GET", "/moto-api/config", "").is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                return Err(NotStarted(moto.process.output()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        moto.request(
            "POST",
            "/moto-api/config",
            r#"{"lambda":{"use_docker":false}}"#,
        )
        .ok_or_else(|| NotStarted("its configuration endpoint did not answer".into()))?;
        Ok(moto)
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL` or an SDK `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment that points the AWS SDK (in a function or a test) at this server:
    /// endpoint, region and moto's test credentials.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_DEFAULT_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", ACCESS_KEY.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Clears every resource moto holds (`/moto-api/reset`), so one server can serve tests
    /// that each start from nothing.
    pub fn reset(&self) -> bool {
        self.request("POST", "/moto-api/reset", "").is_some()
    }

    /// What moto printed so far (its request log), for a failing test's message.
    pub fn output(&self) -> String {
        self.process.output()
    }

    /// A plain HTTP/1.0 request to moto's own API; `None` when it does not answer 2xx.
    fn request(&self, method: &str, path: &str, body: &str) -> Option<String> {
        let mut stream = TcpStream::connect(&self.addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let status = answer.split_whitespace().nth(1)?;
        status.starts_with('2').then_some(answer)
    }
}
