//! `bench managed`: Lambda Managed Instances. One execution environment serving C invocations
//! at once (`max_concurrency`, one process) against C separate environments (Lambda's default
//! model, C processes), for an I/O-bound function, at the same client concurrency C.

use std::time::Instant;

use anyhow::{Result, bail};
use bytes::Bytes;
use http::Method;
use lamplight_local::{Code, FunctionConfig, LocalLambda};
use lamplight_xtask::{Client, Workspace};
use xshell::Shell;

/// The client concurrencies measured.
const LEVELS: [usize; 3] = [1, 8, 64];

pub(super) async fn run(sh: &Shell, rounds: usize, wait_ms: u64) -> Result<()> {
    let ws = Workspace::load(sh)?;
    let Ok(package) = ws.function("concfn") else {
        bail!(
            "`bench managed` runs in the lamplight repository: it needs the `concfn` function of lamplight-e2e"
        );
    };
    let package = package.clone();
    eprintln!("building concfn (release) ...");
    let bootstrap = ws.build_local(sh, &package, true)?;
    let payload = Bytes::from(format!(r#"{{"wait_ms":{wait_ms}}}"#));

    println!(
        "## Lambda Managed Instances (`cargo xtask bench managed --rounds {rounds} --wait-ms {wait_ms}`)\n"
    );
    println!(
        "| clients | one environment serving C at once: invocations/s (processes) | C environments, one invocation each: invocations/s (processes) | ratio |"
    );
    println!("|---|---|---|---|");
    for c in LEVELS {
        let shared = FunctionConfig::new("shared", Code::Bootstrap(bootstrap.clone()))
            .max_concurrency(c)
            .max_environments(1)
            .max_queued(c.max(1) * 2);
        let separate = FunctionConfig::new("separate", Code::Bootstrap(bootstrap.clone()))
            .max_environments(c)
            .max_queued(c.max(1) * 2);
        let service = LocalLambda::builder()
            .function(shared)
            .function(separate)
            .start()
            .await?;
        let (one_rate, one_envs) = measure(&service, "shared", c, rounds, &payload).await?;
        let (many_rate, many_envs) = measure(&service, "separate", c, rounds, &payload).await?;
        println!(
            "| {c} | {one_rate:.0} ({one_envs}) | {many_rate:.0} ({many_envs}) | {:.2}x |",
            one_rate / many_rate
        );
        drop(service);
    }
    Ok(())
}

/// Invocations/s of `name` with `clients` callers each making `rounds` calls, after a warm-up
/// that starts every environment; and how many environments served them.
async fn measure(
    service: &LocalLambda,
    name: &str,
    clients: usize,
    rounds: usize,
    payload: &Bytes,
) -> Result<(f64, usize)> {
    let url = format!(
        "{}/2015-03-31/functions/{name}/invocations",
        service.endpoint_url()
    );
    let client = Client::default();
    let wave = |n: usize| {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (client, url, payload) = (client.clone(), url.clone(), payload.clone());
                tokio::spawn(async move {
                    for _ in 0..n {
                        invoke_ok(&client, &url, payload.clone()).await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        async move {
            for t in tasks {
                t.await??;
            }
            anyhow::Ok(())
        }
    };
    wave(3).await?;
    let started = Instant::now();
    wave(rounds).await?;
    let rate = (clients * rounds) as f64 / started.elapsed().as_secs_f64();
    let environments = service.function(name).map_or(0, |f| f.environments());
    Ok((rate, environments))
}

async fn invoke_ok(client: &Client, url: &str, payload: Bytes) -> Result<()> {
    let reply = client.send(Method::POST, url, &[], payload).await?;
    if !reply.status.is_success() || reply.headers.contains_key("x-amz-function-error") {
        bail!(
            "invocation failed ({}): {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    Ok(())
}
