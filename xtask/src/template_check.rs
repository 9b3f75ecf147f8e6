//! `cargo xtask template-check`: every variant of the template rendered, built, linted and
//! tested offline against this checkout, then run under the local Lambda service as its users
//! reach it (sample events, lambda-httpx, cargo-lambda's emulator).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lamplight_local::{FunctionResult, LocalLambda};
use lamplight_xtask::{
    Choices, EVENT_SOURCES, FunctionSettings, Workspace, function_config, render,
};
use xshell::{Shell, cmd};

/// Whether `given` (`fn-custom`, or `custom` for short) names the variant `name`.
fn names(given: &str, name: &str) -> bool {
    given == name || name.strip_prefix("fn-") == Some(given)
}

/// The variants `template-check` renders: every event source, plus the S3 worker and x86_64.
pub fn variants(checkout: &Path) -> Vec<(String, Choices)> {
    let base = Choices {
        lamplight_path: Some(checkout.to_owned()),
        ..Choices::default()
    };
    let mut variants: Vec<(String, Choices)> = EVENT_SOURCES
        .iter()
        .map(|source| {
            (
                format!("fn-{source}"),
                Choices {
                    event_source: (*source).to_owned(),
                    ..base.clone()
                },
            )
        })
        .collect();
    variants.push((
        "fn-custom-s3".into(),
        Choices {
            use_s3: true,
            ..base.clone()
        },
    ));
    variants.push((
        "fn-x86".into(),
        Choices {
            architecture: "x86_64".into(),
            memory: 1024,
            timeout: 30,
            region: "eu-west-1".into(),
            ..base
        },
    ));
    variants
}

/// Renders every variant under `target/template-check/` and runs
/// `cargo build`, `cargo clippy -D warnings` and `cargo test` in each, offline, with this
/// checkout's target directory (dependencies compile once) and lock file.
pub(crate) async fn run(sh: &Shell, only: &[String]) -> Result<()> {
    let ws = Workspace::load(sh)?;
    let (template, checkout) = crate::template_and_checkout(&ws)?;
    let known: Vec<String> = variants(&checkout).into_iter().map(|(n, _)| n).collect();
    let unknown: Vec<&str> = only
        .iter()
        .filter(|o| !known.iter().any(|n| names(o, n)))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        // Checking nothing would pass: a typo must not look like a green check.
        bail!(
            "no template variant {}; the variants are {}",
            unknown.join(", "),
            known.join(", ")
        );
    }
    let out = ws.target_dir.join("template-check");
    let mut failures = Vec::new();
    let mut xtask_checked = false;
    for (name, choices) in variants(&checkout) {
        if !only.is_empty() && !only.iter().any(|o| names(o, &name)) {
            continue;
        }
        let _ = std::fs::remove_dir_all(out.join(&name));
        let dir = render(&template, &name, &out, &choices)?;
        std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))
            .context("copying Cargo.lock")?;
        println!(
            "== {name} ({}, {}, use_s3={})",
            choices.event_source, choices.architecture, choices.use_s3
        );
        // Every variant's xtask is the same one-line crate over lamplight-xtask (and the AWS
        // SDK): check it in the first variant only, so the SDK is not rebuilt per variant.
        let with_xtask = !std::mem::replace(&mut xtask_checked, true);
        if let Err(e) = check_project(sh, &dir, &ws.target_dir, with_xtask) {
            eprintln!("{name}: {e:#}");
            failures.push(name.clone());
        } else if let Err(e) =
            answers_from_outside(sh, &dir, &ws.target_dir, &name, &choices, &checkout).await
        {
            eprintln!("{name}: {e:#}");
            failures.push(format!("{name} (called from outside)"));
        }
        if name == "fn-http-api"
            && !failures.contains(&name)
            && let Err(e) = reloads_on_save(&dir, &ws.target_dir, &name)
        {
            eprintln!("{name}: {e:#}");
            failures.push(format!("{name} (cargo xtask watch)"));
        }
        // Twelve workspaces share one target directory; each function's own test and bootstrap
        // binaries (over 100 MB a variant) are never used again, and CI machines' disks are small.
        if let Err(e) = free_function(sh, &dir, &ws.target_dir, &name) {
            eprintln!("{name}: could not remove its build output: {e:#}");
        }
    }
    if only.is_empty()
        && let Err(e) = same_as_cli(sh, &template, &checkout, &out)
    {
        eprintln!("{e:#}");
        failures.push("cargo-generate CLI".to_owned());
    }
    if failures.is_empty() {
        println!("every variant builds, passes clippy and its tests");
        Ok(())
    } else {
        bail!("variants that failed: {}", failures.join(", "))
    }
}

/// The sample events a variant must accept, as AWS's tools and other clients send them: the
/// corpora of lamplight-http (API Gateway, ALB, Function URLs; minimal and full; lambda-httpx,
/// Mangum, Zappa) and lamplight-batch (`sam local generate-event` shapes).
fn sample_events(checkout: &Path, event_source: &str) -> Vec<PathBuf> {
    let names: &[&str] = match event_source {
        "rest-api" | "http-api" => &[
            "rest-api-full",
            "rest-api-minimal",
            "http-api-full",
            "http-api-minimal",
            "lambda-httpx",
            "mangum-minimal",
            "zappa-minimal",
            "lenient-forms",
        ],
        "alb" => &["alb-full", "alb-minimal"],
        "function-url" => &["function-url-full", "function-url-minimal"],
        "sqs" => &["sqs"],
        "sns" => &["sns"],
        "dynamodb" => &["dynamodb"],
        "s3" => &["s3"],
        "eventbridge" => &["eventbridge-schedule"],
        _ => &[],
    };
    let dir = if is_http(event_source) {
        checkout.join("crates/lamplight-http/tests/events/corpus")
    } else {
        checkout.join("crates/lamplight-batch/tests/events")
    };
    names
        .iter()
        .map(|n| dir.join(format!("{n}.json")))
        .collect()
}

fn is_http(event_source: &str) -> bool {
    ["rest-api", "http-api", "alb", "function-url"].contains(&event_source)
}

/// Runs a built variant under the local Lambda service, as its users reach it: every sample
/// event of its source must be accepted (decoded; answered below 500 by HTTP variants), and
/// the API Gateway variants must answer lambda-httpx.
async fn answers_from_outside(
    sh: &Shell,
    dir: &Path,
    target: &Path,
    name: &str,
    choices: &Choices,
    checkout: &Path,
) -> Result<()> {
    let workspace = {
        let _cwd = sh.push_dir(dir);
        Workspace::load(sh)?
    };
    let config = function_config(
        name,
        target.join("debug").join(name),
        Some(workspace.function(name)?),
        &FunctionSettings::default(),
    )?;
    let env: Vec<(String, String)> = config.environment.clone().into_iter().collect();
    let service = LocalLambda::builder()
        .function(config)
        .start()
        .await
        .context("starting the local Lambda service")?;
    let http = is_http(&choices.event_source);
    let events = sample_events(checkout, &choices.event_source);
    for event in &events {
        let file = event
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        let payload =
            std::fs::read(event).with_context(|| format!("reading {}", event.display()))?;
        let outcome = service.invoke(name, payload).await?;
        match &outcome.result {
            // A worker may refuse what a sample says (a message that is not an order, an
            // object it cannot fetch here); the event itself must decode.
            FunctionResult::Error { error_type, body } if http || error_type.contains("Event") => {
                bail!("{file} was refused: {}", String::from_utf8_lossy(body));
            }
            FunctionResult::Response(body) if http => {
                let response: serde_json::Value = serde_json::from_slice(body)
                    .with_context(|| format!("{file}: the answer is not JSON"))?;
                let status = response["statusCode"].as_u64().unwrap_or(0);
                if !(200..500).contains(&status) {
                    bail!("{file} was answered with status {status}: {response}");
                }
            }
            _ => {}
        }
    }
    if !events.is_empty() {
        println!(
            "== {name}: accepts {} sample event{}",
            events.len(),
            if events.len() == 1 { "" } else { "s" }
        );
    }
    if ["rest-api", "http-api"].contains(&choices.event_source.as_str()) {
        answers_lambda_httpx(&service, name).await?;
    }
    if choices.event_source == "custom" && !choices.use_s3 {
        serves_under_cargo_lambda(dir, &target.join("debug").join(name), name, &env).await?;
    }
    Ok(())
}

/// Serves the generated function under cargo-lambda's emulator, the tool Rust Lambda authors
/// use today: a greeting and an error document, twice in a row. Skipped, saying so, when
/// cargo-lambda is not installed, except on CI.
async fn serves_under_cargo_lambda(
    dir: &Path,
    bootstrap: &Path,
    name: &str,
    env: &[(String, String)],
) -> Result<()> {
    use crate::callers;
    if !callers::cargo_lambda_installed() {
        if std::env::var_os("CI").is_some() {
            bail!(
                "cargo-lambda is not installed: {}",
                callers::CARGO_LAMBDA_INSTALL
            );
        }
        println!(
            "== {name}: cargo-lambda not installed ({}): the emulator check is skipped",
            callers::CARGO_LAMBDA_INSTALL
        );
        return Ok(());
    }
    let events = dir.join("functions").join(name).join("events");
    let ada = std::fs::read(events.join("greet-ada.json")).context("reading greet-ada.json")?;
    let droid = std::fs::read(events.join("greet-not-a-name.json"))
        .context("reading greet-not-a-name.json")?;
    let answers = callers::cargo_lambda(
        &dir.join("Cargo.toml"),
        bootstrap,
        env,
        &[ada.clone(), droid.clone(), ada, droid],
    )
    .await?;
    for (i, (status, body)) in answers.iter().enumerate() {
        let ok = if i % 2 == 0 {
            *status == 200 && body["message"] == "Hello, Ada!"
        } else {
            *status == 500 && body["errorType"] == "GreetError"
        };
        if !ok {
            bail!("under cargo-lambda, invocation {i} answered {status}: {body}");
        }
    }
    println!("== {name}: serves 4 invocations in a row under `cargo lambda watch`");
    Ok(())
}

/// Calls an API Gateway variant through lambda-httpx, the Python seed's client: its minimal
/// REST proxy events must get the answers API Gateway would give (200, 201, 422, 409, 404),
/// ten reads at once included. Skipped, saying so, when lambda-httpx is not installed, except
/// on CI.
async fn answers_lambda_httpx(service: &LocalLambda, name: &str) -> Result<()> {
    use crate::callers;
    if !callers::lambda_httpx_installed() {
        if std::env::var_os("CI").is_some() {
            bail!(
                "lambda-httpx is not installed: {}",
                callers::LAMBDA_HTTPX_INSTALL
            );
        }
        println!(
            "== {name}: lambda-httpx not installed ({}): the client check is skipped",
            callers::LAMBDA_HTTPX_INSTALL
        );
        return Ok(());
    }
    let plan = serde_json::json!({
        "requests": [
            {"name": "read", "method": "GET", "path": "/orders/7"},
            {"name": "create", "method": "POST", "path": "/orders",
             "json": {"item": "tea", "quantity": 2}},
            {"name": "invalid", "method": "POST", "path": "/orders",
             "json": {"item": "tea", "quantity": "two"}},
            {"name": "refused", "method": "POST", "path": "/orders",
             "json": {"item": "tea", "quantity": 11}},
            {"name": "missing", "method": "GET", "path": "/orders/9"},
            {"name": "unknown", "method": "GET", "path": "/no/such/route"},
        ],
        "concurrent": vec!["/orders/7"; 10],
    });
    let seen = callers::lambda_httpx(&service.endpoint_url(), name, &plan).await?;
    let expected = [
        ("read", 200),
        ("create", 201),
        ("invalid", 422),
        ("refused", 409),
        ("missing", 404),
        ("unknown", 404),
    ];
    let mut wrong: Vec<String> = expected
        .iter()
        .filter(|(request, status)| seen[request]["status"] != *status)
        .map(|(request, status)| format!("{request}: expected {status}, got {}", seen[request]))
        .collect();
    if seen["read"]["body"] != serde_json::json!({"id": 7, "item": "tea", "quantity": 2}) {
        wrong.push(format!("read: wrong order {}", seen["read"]["body"]));
    }
    if seen["create"]["content_type"] != "application/json" {
        wrong.push(format!("create: no JSON content type {}", seen["create"]));
    }
    let reads = seen["concurrent"]
        .as_array()
        .map_or(0, |r| r.iter().filter(|o| o["status"] == 200).count());
    if reads != 10 {
        wrong.push(format!("{reads} of 10 concurrent reads answered 200"));
    }
    if !wrong.is_empty() {
        bail!("lambda-httpx got wrong answers:\n  {}", wrong.join("\n  "));
    }
    println!("== {name}: lambda-httpx gets 200, 201, 422, 409, 404, 404 and 10 concurrent reads");
    Ok(())
}

/// Renders every variant with the `cargo generate` CLI too, when it is installed, and checks
/// that both engines write the same files with the same bytes: one template, one result.
fn same_as_cli(sh: &Shell, template: &Path, checkout: &Path, out: &Path) -> Result<()> {
    if cmd!(sh, "cargo generate --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        println!("== cargo-generate CLI not installed: the same-tree check is skipped");
        return Ok(());
    }
    let (cli, lib) = (out.join("cli"), out.join("lib"));
    let _ = std::fs::remove_dir_all(&cli);
    let _ = std::fs::remove_dir_all(&lib);
    std::fs::create_dir_all(&cli)?;
    let mut different = Vec::new();
    for (name, c) in variants(checkout) {
        let _cwd = sh.push_dir(&cli);
        let defines = [
            format!("event_source={}", c.event_source),
            format!("architecture={}", c.architecture),
            format!("memory={}", c.memory),
            format!("timeout={}", c.timeout),
            format!("region={}", c.region),
            format!("use_s3={}", c.use_s3),
            format!("lamplight_path={}", checkout.display()),
        ];
        let defines: Vec<String> = defines
            .iter()
            .flat_map(|d| ["-d".into(), d.clone()])
            .collect();
        cmd!(
            sh,
            "cargo generate --path {template} --name {name} --silent --vcs none {defines...}"
        )
        .quiet()
        .ignore_stdout()
        .run()
        .with_context(|| format!("cargo generate (the CLI) could not render {name}"))?;
        let ours = render(template, &name, &lib, &c)?;
        different.extend(
            tree_differences(&cli.join(&name), &ours)?
                .into_iter()
                .map(|path| format!("{name}/{path}")),
        );
    }
    println!("== the cargo-generate CLI renders the same trees");
    if different.is_empty() {
        Ok(())
    } else {
        bail!(
            "the cargo-generate CLI and `cargo xtask new` render different files (is a template \
             file not rustfmt-clean?):\n  {}",
            different.join("\n  ")
        )
    }
}

/// Relative paths present in only one tree, or with different bytes.
fn tree_differences(a: &Path, b: &Path) -> Result<Vec<String>> {
    fn files(
        root: &Path,
        dir: &Path,
        into: &mut std::collections::BTreeMap<String, Vec<u8>>,
    ) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                files(root, &path, into)?;
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                into.insert(rel, std::fs::read(&path)?);
            }
        }
        Ok(())
    }
    let (mut left, mut right) = Default::default();
    files(a, a, &mut left)?;
    files(b, b, &mut right)?;
    let mut paths: std::collections::BTreeSet<&String> = left.keys().collect();
    paths.extend(right.keys());
    Ok(paths
        .into_iter()
        .filter(|p| left.get(*p) != right.get(*p))
        .cloned()
        .collect())
}

/// The flags that give a generated project this checkout's dev profile (see the workspace's
/// Cargo.toml), so it reuses the artifacts already built here instead of building them again.
pub(crate) const PROFILE: &[&str] = &[
    "--config",
    "profile.dev.debug=\"line-tables-only\"",
    "--config",
    "profile.dev.package.\"*\".debug=false",
    "--config",
    "profile.dev.package.miniz_oxide.opt-level=3",
    "--config",
    "profile.dev.package.crc32fast.opt-level=3",
    "--config",
    "profile.dev.package.sha2.opt-level=3",
];

fn check_project(sh: &Shell, dir: &Path, target: &Path, with_xtask: bool) -> Result<()> {
    let _cwd = sh.push_dir(dir);
    let _target = sh.push_env("CARGO_TARGET_DIR", target);
    let _insta = sh.push_env("INSTA_UPDATE", "no");
    let exclude: &[&str] = if with_xtask {
        &[]
    } else {
        &["--exclude", "xtask"]
    };
    cmd!(
        sh,
        "cargo {PROFILE...} build --offline --workspace {exclude...} --all-targets"
    )
    .run()
    .context("cargo build")?;
    cmd!(
        sh,
        "cargo {PROFILE...} clippy --offline --workspace {exclude...} --all-targets -- -D warnings"
    )
    .run()
    .context("cargo clippy")?;
    cmd!(
        sh,
        "cargo {PROFILE...} test --offline --workspace {exclude...}"
    )
    .run()
    .context("cargo test")?;
    // Not `--all`: that would also format the lamplight checkout the project depends on by path.
    cmd!(sh, "cargo fmt --check")
        .run()
        .context("cargo fmt --check")?;
    Ok(())
}

/// A free port on loopback (for a service started right after).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `GET path` on 127.0.0.1:`port` with a plain HTTP/1.0 request: the status line and body.
fn get(port: u16, path: &str) -> Result<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok(format!("{status}\n{body}"))
}

/// `cargo xtask watch` in the generated HTTP API workspace, as its author uses it with curl:
/// `GET /orders/7` through the HTTP front; a saved edit of the worker answers without a restart
/// (a request made during the rebuild waits for it), and a saved broken worker shows the
/// compiler's error while the old code keeps answering.
fn reloads_on_save(dir: &Path, target: &Path, name: &str) -> Result<()> {
    use lamplight_test::process::Spawned;
    use std::time::Duration;
    // `cargo xtask` and the builds it runs must use the profile the check built with, or they
    // would build everything again: put it where every cargo in the workspace reads it.
    let config_path = dir.join(".cargo").join("config.toml");
    let config = std::fs::read_to_string(&config_path).context("reading .cargo/config.toml")?;
    let profile: String = PROFILE
        .iter()
        .filter(|a| **a != "--config")
        .map(|setting| format!("{setting}\n"))
        .collect();
    std::fs::write(&config_path, format!("{profile}{config}"))
        .context("writing .cargo/config.toml")?;
    let worker = dir
        .join("functions")
        .join(name)
        .join("src")
        .join("worker.rs");
    let original = std::fs::read_to_string(&worker).context("reading worker.rs")?;
    let result = (|| -> Result<String> {
        let (port, xray, http) = (free_port()?, free_port()?, free_port()?);
        let mut watch = Spawned::start(
            std::process::Command::new("cargo")
                .args(["xtask", "watch", "--no-traces"])
                .args([
                    "--port",
                    &port.to_string(),
                    "--xray-port",
                    &xray.to_string(),
                    "--http-port",
                    &http.to_string(),
                ])
                .current_dir(dir)
                .env("CARGO_TARGET_DIR", target)
                .env("CARGO_TERM_COLOR", "never"),
        )
        .context("starting cargo xtask watch")?;
        let ran = (|| -> Result<String> {
            watch
                .wait_for(Duration::from_secs(600), |out| out.contains("watching "))
                .map_err(|out| {
                    anyhow::anyhow!("cargo xtask watch never started watching:\n{out}")
                })?;
            let order = format!("/lambda-url/{name}/orders/7");
            let answer = get(http, &order)?;
            if !answer.starts_with("HTTP/1.0 200") || !answer.contains("\"quantity\":2") {
                bail!("before the edit GET {order} answered {answer}");
            }
            let from = "item: \"tea\".into(),\n            quantity: 2,";
            let edited =
                original.replacen(from, "item: \"tea\".into(),\n            quantity: 3,", 1);
            if edited == original {
                bail!("the worker no longer has the order this check edits");
            }
            std::fs::write(&worker, &edited)?;
            // Asked while it rebuilds: waits, then gets the new code.
            std::thread::sleep(Duration::from_millis(400));
            let answer = get(http, &order)?;
            let out = watch
                .wait_for(Duration::from_secs(300), |out| out.contains("reloaded "))
                .map_err(|out| anyhow::anyhow!("no reload after the edit:\n{out}"))?;
            if !answer.contains("\"quantity\":3") {
                bail!("asked during the rebuild, it answered {answer}\n{out}");
            }
            let reloaded = out
                .lines()
                .find(|l| l.starts_with("reloaded "))
                .unwrap_or_default()
                .to_owned();
            std::fs::write(
                &worker,
                format!("{edited}\ncompile_error!(\"broken on purpose\");\n"),
            )?;
            let out = watch
                .wait_for(Duration::from_secs(300), |out| out.contains("build failed"))
                .map_err(|out| anyhow::anyhow!("a broken worker was not reported:\n{out}"))?;
            if !out.contains("broken on purpose") {
                bail!("the compiler's error is not shown:\n{out}");
            }
            let answer = get(http, &order)?;
            if !answer.contains("\"quantity\":3") {
                bail!("after a failed build it answered {answer}\n{out}");
            }
            Ok(reloaded)
        })();
        let _ = watch.interrupt(Duration::from_secs(10));
        ran
    })();
    std::fs::write(&worker, &original).context("restoring worker.rs")?;
    std::fs::write(&config_path, config).context("restoring .cargo/config.toml")?;
    let reloaded = result?;
    println!(
        "== {name}: under `cargo xtask watch`, GET /orders/7 answered a saved edit ({reloaded}) and the old code through a broken one"
    );
    Ok(())
}

/// Removes what building the variant's function package left in the shared target directory;
/// the dependencies it built stay for the next variant.
fn free_function(sh: &Shell, dir: &Path, target: &Path, package: &str) -> Result<()> {
    let _cwd = sh.push_dir(dir);
    let _target = sh.push_env("CARGO_TARGET_DIR", target);
    cmd!(
        sh,
        "cargo {PROFILE...} clean --offline --quiet --package {package}"
    )
    .run()
    .context("cargo clean")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_named_with_or_without_fn() {
        assert!(names("fn-custom", "fn-custom") && names("custom", "fn-custom"));
        assert!(!names("custom", "fn-custom-s3") && !names("fn-", "fn-custom"));
        let all = variants(Path::new("/checkout"));
        assert!(all.iter().any(|(n, _)| names("x86", n)));
    }
}
