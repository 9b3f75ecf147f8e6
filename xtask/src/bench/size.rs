//! `bench size`: the template's default and `http-api` functions and a bare `lambda_runtime`
//! echo function, built with the template's release profile and zipped the same way
//! (lamplight-deploy's packaging), side by side.
//!
//! Then the template's default function and the bare one run under the same bare Runtime API
//! ([`super::runtime_api`]), the lamplight one with its X-Ray daemon set: spawn-to-first-poll
//! cold starts (alternating, p50 of 20), per-invocation latency seen by a back-to-back caller
//! (alternating, after a warm-up), and peak RSS after those invocations.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lamplight_xtask::{Choices, Workspace, render};
use xshell::Shell;

use super::runtime_api::{DaemonSink, Function};
use super::stats::Stats;

/// The bare function: what cargo-lambda's generic template builds, an echo with
/// lambda_runtime's default subscriber.
const BARE_MAIN: &str = r#"use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(echo)).await
}
"#;

/// The bare S3 function: lambda_runtime, aws-config and aws-sdk-s3 with the features and TLS
/// client lamplight-aws gives the SDK, one GetObject per event.
const BARE_S3_MAIN: &str = r#"use aws_smithy_http_client::tls;
use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(client)
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let s3 = &s3;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let bucket = event.payload["bucket"].as_str().unwrap_or_default().to_owned();
        let key = event.payload["key"].as_str().unwrap_or_default().to_owned();
        let object = s3.get_object().bucket(bucket).key(key).send().await?;
        let body = object.body.collect().await?.into_bytes();
        Ok::<Value, Error>(json!({ "length": body.len() }))
    }))
    .await
}
"#;

/// One built function's sizes.
struct Sizes {
    name: &'static str,
    binary: u64,
    zip: u64,
    path: std::path::PathBuf,
}

/// Cold starts measured per function.
const COLD_STARTS: usize = 20;
/// Invocations before latency is sampled (connections, caches, lazy statics).
const WARM_UP: usize = 20;
/// Latency samples per function; with the warm-up, more than the 100 invocations the peak
/// memory is read after.
const SAMPLES: usize = 400;

pub(super) fn run(sh: &Shell) -> Result<()> {
    use lamplight_deploy::binary::Arch;
    let ws = Workspace::load(sh)?;
    let (template, checkout) = crate::template_and_checkout(&ws)?;
    let arch = Arch::host().context("this machine is not arm64 or x86_64")?;
    let target = arch.target();
    let out = ws.target_dir.join("bench");
    let base = Choices {
        lamplight_path: Some(checkout.clone()),
        architecture: arch.lambda_name().into(),
        ..Choices::default()
    };
    let variants = [
        ("size-default", base.clone()),
        (
            "size-http-api",
            Choices {
                event_source: "http-api".into(),
                ..base.clone()
            },
        ),
        (
            "size-s3",
            Choices {
                event_source: "s3".into(),
                ..base
            },
        ),
    ];
    let mut rows = Vec::new();
    let mut profile = None;
    for (name, choices) in variants {
        let _ = std::fs::remove_dir_all(out.join(name));
        let dir = render(&template, name, &out, &choices)?;
        std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))?;
        if profile.is_none() {
            profile = Some(release_profile(&std::fs::read_to_string(
                dir.join("Cargo.toml"),
            )?)?);
        }
        eprintln!("building {name} (release) ...");
        rows.push(build(sh, &ws, &dir, name, target)?);
    }
    let profile = profile.context("no variant rendered")?;

    // The bare functions: their own workspaces, the template's release profile, this
    // checkout's lock file so the shared crates are the same versions.
    let bare = |name: &'static str, deps: &str, main: &str| -> Result<Sizes> {
        let dir = out.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nlambda_runtime = \"1.5\"\nserde_json = \"1\"\n\
                 tokio = {{ version = \"1\", features = [\"macros\"] }}\n{deps}\n[workspace]\n\n{profile}"
            ),
        )?;
        std::fs::write(dir.join("src/main.rs"), main)?;
        std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))?;
        eprintln!("building {name} (release) ...");
        build(sh, &ws, &dir, name, target)
    };
    let sdk = "default-features = false, features = [\"rt-tokio\", \"behavior-version-latest\"]";
    let bare_s3 = bare(
        "size-bare-s3",
        &format!(
            "aws-config = {{ version = \"1\", {sdk} }}\naws-sdk-s3 = {{ version = \"1\", {sdk} }}\n\
             aws-smithy-http-client = {{ version = \"1\", default-features = false, features = [\"rustls-ring\"] }}\n"
        ),
        BARE_S3_MAIN,
    )?;
    rows.push(bare("size-bare-echo", "", BARE_MAIN)?);

    let bare_zip = rows.last().map_or(1, |r| r.zip.max(1));
    let s3_zip = rows
        .iter()
        .find(|r| r.name == "size-s3")
        .map_or(0, |r| r.zip);
    let event =
        std::fs::read(out.join("size-default/functions/size-default/events/greet-ada.json"))
            .context("the default function's sample event")?;
    let run = measure(&rows[0].path, rows[rows.len() - 1].path.as_path(), &event)?;
    println!("## Size (`cargo xtask bench size`)\n");
    println!(
        "Release profile of the template, built for {arch}; zips as `cargo xtask deploy` packs them.\n"
    );
    println!("| function | binary (bytes) | zip (bytes) | zip vs bare |");
    println!("|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {:.2}x |",
            row.name,
            row.binary,
            row.zip,
            row.zip as f64 / bare_zip as f64
        );
    }
    println!(
        "| {} | {} | {} | (size-s3 is {:.2}x of it) |",
        bare_s3.name,
        bare_s3.binary,
        bare_s3.zip,
        s3_zip as f64 / bare_s3.zip.max(1) as f64
    );
    println!(
        "\nUnder one bare Runtime API, alternating: cold start = spawn to first poll (p50 of \
         {COLD_STARTS}); latency = event handed out to answer received, back to back, {SAMPLES} \
         samples after {WARM_UP} warm-up invocations; peak RSS (VmHWM) after them. size-default \
         traces to an X-Ray daemon socket ({} datagrams received) and writes JSON logs and EMF.\n",
        run.datagrams
    );
    println!(
        "| function | cold start p50 (ms) | latency p50 (us) | latency p90 (us) | peak RSS (MB) |"
    );
    println!("|---|---|---|---|---|");
    for (name, m) in [
        ("size-default", &run.lamplight),
        ("size-bare-echo", &run.bare),
    ] {
        println!(
            "| {name} | {:.2} | {:.0} | {:.0} | {:.1} |",
            m.cold_p50_ms,
            m.latency.p50 * 1000.0,
            m.latency.p90 * 1000.0,
            m.peak_rss_kb as f64 / 1024.0
        );
    }
    let default_zip = rows[0].zip;
    println!("\n| goal | measured | holds |\n|---|---|---|");
    let goal = |name: &str, measured: String, holds: bool| {
        println!(
            "| {name} | {measured} | {} |",
            if holds { "yes" } else { "no" }
        );
    };
    goal(
        "default zip <= 1,000,000 B",
        format!("{default_zip} B"),
        default_zip <= 1_000_000,
    );
    if let Some(http) = rows.iter().find(|r| r.name == "size-http-api") {
        goal(
            "http-api zip < 1,200,000 B",
            format!("{} B", http.zip),
            http.zip < 1_200_000,
        );
    }
    goal(
        "s3 zip within +30% of bare lambda_runtime + aws-sdk-s3",
        format!("{s3_zip} B vs {} B", bare_s3.zip),
        s3_zip as f64 <= bare_s3.zip as f64 * 1.3,
    );
    let cold = run.lamplight.cold_p50_ms - run.bare.cold_p50_ms;
    goal(
        "cold start within +1 ms of bare",
        format!("{cold:+.2} ms"),
        cold <= 1.0,
    );
    let latency = (run.lamplight.latency.p50 - run.bare.latency.p50) * 1000.0;
    goal(
        "latency p50 within +100 us of bare",
        format!("{latency:+.0} us"),
        latency <= 100.0,
    );
    let rss = (run.lamplight.peak_rss_kb as f64 - run.bare.peak_rss_kb as f64) / 1024.0;
    goal(
        "peak RSS within +5 MB of bare",
        format!("{rss:+.1} MB"),
        rss <= 5.0,
    );
    Ok(())
}

/// What one function measured.
struct Measured {
    cold_p50_ms: f64,
    latency: Stats,
    peak_rss_kb: u64,
}

struct Run {
    lamplight: Measured,
    bare: Measured,
    datagrams: u64,
}

/// Measures the lamplight function and the bare one side by side, alternating so that
/// whatever else the machine does falls on both.
fn measure(lamplight: &Path, bare: &Path, event: &[u8]) -> Result<Run> {
    let daemon = DaemonSink::start()?;
    let lamplight_env = vec![
        ("GREETING".to_owned(), "Hello".to_owned()),
        (
            "AWS_XRAY_DAEMON_ADDRESS".to_owned(),
            daemon.addr().to_string(),
        ),
        ("AWS_LAMBDA_LOG_FORMAT".to_owned(), "JSON".to_owned()),
    ];
    let functions = [(lamplight, lamplight_env), (bare, Vec::new())];

    eprintln!("cold starts ({COLD_STARTS} each, alternating) ...");
    let mut cold: [Vec<Duration>; 2] = Default::default();
    for _ in 0..COLD_STARTS {
        for (i, (binary, env)) in functions.iter().enumerate() {
            let function = Function::start(binary, env)?;
            cold[i].push(function.cold_start()?);
        }
    }

    eprintln!("latency ({WARM_UP} warm-up and {SAMPLES} samples each, alternating) ...");
    let mut running = functions
        .iter()
        .map(|(binary, env)| Function::start(binary, env))
        .collect::<Result<Vec<_>>>()?;
    let mut samples: [Vec<Duration>; 2] = Default::default();
    for round in 0..WARM_UP + SAMPLES {
        for (i, function) in running.iter_mut().enumerate() {
            let took = function
                .api
                .invoke(event)
                .with_context(|| format!("invoking {}", functions[i].0.display()))?;
            if round >= WARM_UP {
                samples[i].push(took);
            }
        }
    }
    let mut measured = running.iter().zip(&mut samples).zip(&mut cold).map(
        |((function, samples), cold)| -> Result<Measured> {
            Ok(Measured {
                cold_p50_ms: Stats::of(cold).p50,
                latency: Stats::of(samples),
                peak_rss_kb: function.peak_rss_kb()?,
            })
        },
    );
    let lamplight = measured.next().context("no lamplight measure")??;
    let bare = measured.next().context("no bare measure")??;
    let datagrams = daemon.received();
    if datagrams == 0 {
        bail!("the lamplight function sent no X-Ray segment: it was not measured traced");
    }
    Ok(Run {
        lamplight,
        bare,
        datagrams,
    })
}

/// Builds `name` in `dir` with the release profile and measures its binary and zip.
fn build(
    sh: &Shell,
    ws: &Workspace,
    dir: &std::path::Path,
    name: &'static str,
    target: &str,
) -> Result<Sizes> {
    {
        let _cwd = sh.push_dir(dir);
        let _target = sh.push_env("CARGO_TARGET_DIR", &ws.target_dir);
        xshell::cmd!(
            sh,
            "cargo build --quiet --release --target {target} --package {name}"
        )
        .run()
        .with_context(|| format!("building {name}"))?;
    }
    let binary = ws.target_dir.join(target).join("release").join(name);
    let zip = lamplight_deploy::package::package(&binary, &[])?;
    // Kept apart: the next build of the same name would replace what is measured.
    let kept = ws
        .target_dir
        .join("bench")
        .join(format!("{name}.bootstrap"));
    std::fs::copy(&binary, &kept)?;
    Ok(Sizes {
        name,
        binary: std::fs::metadata(&binary)?.len(),
        zip: u64::try_from(zip.size())?,
        path: kept,
    })
}

/// The template's `[profile.*]` tables, from a rendered workspace's Cargo.toml: everything
/// from `[profile.release]` on.
fn release_profile(manifest: &str) -> Result<String> {
    let start = manifest
        .find("[profile.release]")
        .context("the template's Cargo.toml has no [profile.release]")?;
    Ok(manifest[start..].to_owned())
}
