//! `bench size`: the template's default and `http-api` functions and a bare `lambda_runtime`
//! echo function, built with the template's release profile and zipped the same way
//! (lamplight-deploy's packaging), side by side.
//!
//! Sizes only, for now; cold start and peak RSS under the local service come next (issue 17).

use anyhow::{Context, Result};
use lamplight_xtask::{Choices, Workspace, render, template_dir};
use xshell::Shell;

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

/// One built function's sizes.
struct Sizes {
    name: &'static str,
    binary: u64,
    zip: u64,
}

pub(super) fn run(sh: &Shell) -> Result<()> {
    use lamplight_deploy::binary::Arch;
    let ws = Workspace::load(sh)?;
    let template = template_dir(Some(&ws.root))?;
    let checkout = template
        .parent()
        .context("the template has no parent")?
        .to_owned();
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

    // The bare function: its own workspace, the template's release profile, this checkout's
    // lock file so the shared crates are the same versions.
    let name = "size-bare-echo";
    let dir = out.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nlambda_runtime = \"1.5\"\nserde_json = \"1\"\n\
             tokio = {{ version = \"1\", features = [\"macros\"] }}\n\n[workspace]\n\n{profile}"
        ),
    )?;
    std::fs::write(dir.join("src/main.rs"), BARE_MAIN)?;
    std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    eprintln!("building {name} (release) ...");
    rows.push(build(sh, &ws, &dir, name, target)?);

    let bare_zip = rows.last().map_or(1, |r| r.zip.max(1));
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
    Ok(())
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
    Ok(Sizes {
        name,
        binary: std::fs::metadata(&binary)?.len(),
        zip: u64::try_from(zip.size())?,
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
