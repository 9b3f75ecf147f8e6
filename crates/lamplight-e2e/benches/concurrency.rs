//! Doing many things at once, measured side by side in one run (`cargo xtask bench
//! concurrency`, or `cargo bench -p lamplight-e2e --bench concurrency`):
//!
//! - 100 concurrent 1 KiB S3 GetObject against one s3s-fs server on loopback: lamplight's
//!   `s3::get_objects`, its own sequential loop, and the seeds' Python ways (aiobotocore, aiohttp
//!   with SigV4 by hand; `pip install aiobotocore aiohttp`) when Python has them;
//!   and the same fetch from a server that adds 10 ms to every answer (the wait-bound case);
//! - 100 Lambda invocations through the local Lambda service: `lambda::invoke_all` against a
//!   sequential loop.
//!
//! Flags (after `--`): `--rounds N` (default 30).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lamplight_aws::Aws;
use lamplight_local::{Code, FunctionConfig, LocalLambda};

const OBJECTS: usize = 100;
const INVOCATIONS: usize = 100;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn rounds<F, Fut>(rounds: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    median(times)
}

fn sdk_config(endpoint: &str, key: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(key, key, None, None, "bench"),
            ),
        )
        .endpoint_url(endpoint)
        .build()
}

fn python(endpoint: &str, rounds: usize) -> Vec<(String, Duration)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/s3_python.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args([endpoint, "bench", &OBJECTS.to_string(), &rounds.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output();
    let Ok(out) = out else {
        eprintln!("# python3 not found: the Python rows are left out");
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, secs) = l.split_once(' ')?;
            Some((name.to_owned(), Duration::from_secs_f64(secs.parse().ok()?)))
        })
        .collect()
}

/// A bucket `bench` of [`OBJECTS`] 1 KiB objects under `root`; their keys.
fn objects(root: &std::path::Path) -> Vec<String> {
    let bucket = root.join("bench");
    std::fs::create_dir_all(&bucket).expect("bucket");
    let keys: Vec<String> = (0..OBJECTS).map(|i| format!("k{i:04}")).collect();
    for k in &keys {
        std::fs::write(bucket.join(k), vec![7u8; 1024]).expect("object");
    }
    keys
}

/// Median round times against the S3 server at `addr`: all objects at once, then one after
/// another (`sequential_rounds` of them: a sequential round against a slow server is long).
async fn s3_rounds(
    addr: std::net::SocketAddr,
    keys: &[String],
    rounds_n: usize,
    sequential_rounds: usize,
) -> (Duration, Duration) {
    let key = lamplight_test::servers::S3_KEY;
    let s3 = Aws::from_config(sdk_config(&format!("http://{addr}"), key)).s3();
    let concurrent = rounds(rounds_n, || async {
        let fetched = lamplight_aws::s3::get_objects(&s3, "bench", keys, OBJECTS)
            .await
            .into_result()
            .expect("every object");
        assert_eq!(fetched.len(), OBJECTS);
    })
    .await;
    let sequential = rounds(sequential_rounds, || async {
        for k in keys {
            let object = s3
                .get_object()
                .bucket("bench")
                .key(k)
                .send()
                .await
                .expect("object");
            let body = object.body.collect().await.expect("body");
            assert_eq!(body.into_bytes().len(), 1024);
        }
    })
    .await;
    (concurrent, sequential)
}

async fn s3(
    addr: std::net::SocketAddr,
    far_addr: std::net::SocketAddr,
    keys: &[String],
    rounds_n: usize,
) {
    let endpoint = format!("http://{addr}");
    let (concurrent, sequential) = s3_rounds(addr, keys, rounds_n, rounds_n.div_ceil(3)).await;
    let pythons = python(&endpoint, rounds_n);
    let (far_concurrent, far_sequential) =
        s3_rounds(far_addr, keys, rounds_n, rounds_n.div_ceil(10)).await;

    let ours = per_second(OBJECTS, concurrent);
    println!(
        "## S3: {OBJECTS} concurrent 1 KiB GetObject (s3s-fs on loopback, median of {rounds_n} rounds)\n"
    );
    println!("| approach | GetObject/s | lamplight is |");
    println!("|---|---|---|");
    println!("| lamplight `s3::get_objects` (limit {OBJECTS}) | {ours:.0} | |");
    let seq = per_second(OBJECTS, sequential);
    println!(
        "| lamplight, sequential loop | {seq:.0} | {:.1}x |",
        ours / seq
    );
    for (name, d) in pythons {
        let theirs = per_second(OBJECTS, d);
        println!(
            "| Python {name} (`asyncio.gather`) | {theirs:.0} | {:.1}x |",
            ours / theirs
        );
    }
    let far_ours = per_second(OBJECTS, far_concurrent);
    let far_seq = per_second(OBJECTS, far_sequential);
    println!(
        "| lamplight `s3::get_objects`, {} ms added to every answer | {far_ours:.0} | |",
        LATENCY.as_millis()
    );
    println!(
        "| lamplight, sequential loop, {} ms added to every answer | {far_seq:.0} | {:.1}x |",
        LATENCY.as_millis(),
        far_ours / far_seq
    );
    println!();
}

/// The server's latency in the wait-bound rows: about what a GetObject waits on the network.
const LATENCY: Duration = Duration::from_millis(10);

/// Median round times of [`INVOCATIONS`] invocations of `target` with `payload(i)`: all at
/// once, then one after another (`sequential_rounds` of them).
async fn lambda_rounds(
    lambda: &lamplight_aws::aws_sdk_lambda::Client,
    payload: impl Fn(usize) -> String,
    rounds_n: usize,
    sequential_rounds: usize,
) -> (Duration, Duration) {
    let payloads = || {
        (0..INVOCATIONS)
            .map(|i| Bytes::from(payload(i)))
            .collect::<Vec<_>>()
    };
    let concurrent = rounds(rounds_n, || async {
        let answers = lamplight_aws::lambda::invoke_all(lambda, "target", payloads(), INVOCATIONS)
            .await
            .expect("every invocation");
        assert_eq!(answers.len(), INVOCATIONS);
    })
    .await;
    let sequential = rounds(sequential_rounds, || async {
        for p in payloads() {
            lamplight_aws::lambda::invoke(lambda, "target", p)
                .await
                .expect("invocation");
        }
    })
    .await;
    (concurrent, sequential)
}

async fn fanout(rounds_n: usize) {
    let testfn = PathBuf::from(env!("CARGO_BIN_EXE_testfn"));
    let service = LocalLambda::builder()
        .function(
            FunctionConfig::new("target", Code::Bootstrap(testfn))
                .env("GREETING", "hello")
                .env("LAMPLIGHT_TRACES", "off")
                .max_environments(INVOCATIONS),
        )
        .start()
        .await
        .expect("local service");
    let lambda = Aws::from_config(sdk_config(&service.endpoint_url(), "bench")).lambda();
    let (concurrent, sequential) = lambda_rounds(
        &lambda,
        |i| format!(r#"{{"action":"echo","value":{i}}}"#),
        rounds_n,
        rounds_n.div_ceil(3),
    )
    .await;
    // The wait-bound case: a function that spends 10 ms on its work (a query, a call out).
    let (far_concurrent, far_sequential) = lambda_rounds(
        &lambda,
        |_| format!(r#"{{"action":"sleep","ms":{}}}"#, LATENCY.as_millis()),
        rounds_n,
        rounds_n.div_ceil(10),
    )
    .await;
    let ours = per_second(INVOCATIONS, concurrent);
    let seq = per_second(INVOCATIONS, sequential);
    let far_ours = per_second(INVOCATIONS, far_concurrent);
    let far_seq = per_second(INVOCATIONS, far_sequential);
    println!(
        "## Lambda: {INVOCATIONS} invocations through the local Lambda service (median of {rounds_n} rounds)\n"
    );
    println!("| approach | invocations/s | lamplight is |");
    println!("|---|---|---|");
    println!("| lamplight `lambda::invoke_all` (limit {INVOCATIONS}) | {ours:.0} | |");
    println!("| sequential loop | {seq:.0} | {:.1}x |", ours / seq);
    println!(
        "| lamplight `lambda::invoke_all`, functions that work {} ms | {far_ours:.0} | |",
        LATENCY.as_millis()
    );
    println!(
        "| sequential loop, functions that work {} ms | {far_seq:.0} | {:.1}x |",
        LATENCY.as_millis(),
        far_ours / far_seq
    );
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds_n = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(30usize)
        .max(1);
    let root = tempfile::tempdir().expect("tempdir");
    let keys = objects(root.path());
    // The S3 server runs on its own runtime threads, as a separate server would.
    let server = tokio::runtime::Runtime::new().expect("server runtime");
    let addr = server.block_on(lamplight_test::servers::s3(root.path()));
    let far_addr = server.block_on(lamplight_test::servers::s3_with_latency(
        root.path(),
        LATENCY,
    ));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        s3(addr, far_addr, &keys, rounds_n).await;
        fanout(rounds_n).await;
    });
}
