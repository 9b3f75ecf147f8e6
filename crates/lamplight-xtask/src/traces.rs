//! `cargo xtask traces`: X-Ray traces of a deployed function, or those a running local service
//! kept (`--local`), as waterfalls and optionally an HTML page.

use anyhow::{Context, Result};
use bytes::Bytes;
use http::Method;
use lamplight_deploy::aws::Aws;
use lamplight_deploy::traces;
use lamplight_xray::Trace;

use crate::flags;
use crate::http::Client;
use crate::local::{DEFAULT_ENDPOINT, parse_trace};

pub(crate) async fn run(f: &flags::Traces) -> Result<()> {
    let traces = if f.local {
        let endpoint = f
            .named
            .aws
            .endpoint_url
            .as_deref()
            .unwrap_or(DEFAULT_ENDPOINT);
        local(endpoint, &f.named.function, &f.id).await?
    } else {
        let aws = Aws::connect(&f.named.aws.connection()).await?;
        let since = humantime::parse_duration(&f.since)
            .with_context(|| format!("--since `{}` is not a duration", f.since))?;
        let ids = if f.id.is_empty() {
            traces::recent(&aws, &f.named.function, since).await?
        } else {
            f.id.clone()
        };
        traces::fetch(&aws, &ids).await?
    };
    if traces.is_empty() {
        println!("no traces of {} in the last {}", f.named.function, f.since);
    }
    for trace in &traces {
        println!("{}", trace.waterfall(50));
    }
    if let Some(path) = &f.html {
        std::fs::write(path, traces::html(&traces))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Traces of `function` kept by a running local service (or the given ids).
async fn local(endpoint: &str, function: &str, ids: &[String]) -> Result<Vec<Trace>> {
    let client = Client::default();
    let ids: Vec<String> = if ids.is_empty() {
        let reply = client
            .send(
                Method::GET,
                &format!("{endpoint}/lamplight/traces"),
                &[],
                Bytes::new(),
            )
            .await
            .with_context(|| {
                format!("no local Lambda service at {endpoint}: start one with `cargo xtask local`")
            })?;
        let listing: serde_json::Value =
            serde_json::from_slice(&reply.body).context("the service's trace list is not JSON")?;
        listing["traces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["id"].as_str().map(str::to_owned))
            .collect()
    } else {
        ids.to_vec()
    };
    let mut traces = Vec::new();
    for id in ids {
        let reply = client
            .send(
                Method::GET,
                &format!("{endpoint}/lamplight/traces/{id}"),
                &[],
                Bytes::new(),
            )
            .await?;
        if let Some(trace) = parse_trace(&reply.body)
            && trace.segments.iter().any(|s| s.name == function)
        {
            traces.push(trace);
        }
    }
    Ok(traces)
}
