//! `cargo xtask demo`: the whole loop on this machine in one command: generate a function from
//! the template, build it, run it under the local Lambda service, invoke it with its sample
//! events, and show each response, log tail and trace.

use anyhow::{Context, Result};
use lamplight_local::LocalLambda;
use xshell::{Shell, cmd};

use lamplight_xtask::{
    Choices, FunctionPackage, Workspace, function_config, invoke_in_process, render,
};

use crate::template_check::PROFILE;

const NAME: &str = "hello-lamplight";

pub(crate) async fn run(sh: &Shell) -> Result<()> {
    let ws = Workspace::load(sh)?;
    let (template, checkout) = crate::template_and_checkout(&ws)?;
    let out = ws.target_dir.join("demo");
    let _ = std::fs::remove_dir_all(out.join(NAME));
    println!("1. generating `{NAME}` from the template (custom JSON events) ...");
    let choices = Choices {
        lamplight_path: Some(checkout.clone()),
        ..Choices::default()
    };
    let dir = render(&template, NAME, &out, &choices)?;
    std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))
        .context("copying Cargo.lock")?;
    println!("   {}", dir.display());

    println!("2. building it ...");
    {
        let _cwd = sh.push_dir(&dir);
        let _target = sh.push_env("CARGO_TARGET_DIR", &ws.target_dir);
        let profile = PROFILE;
        cmd!(sh, "cargo {profile...} build --quiet --package {NAME}")
            .run()
            .context("building the demo function")?;
    }
    let bootstrap = ws.target_dir.join("debug").join(NAME);
    let package = FunctionPackage {
        package: NAME.into(),
        bin: NAME.into(),
        dir: dir.join("functions").join(NAME),
        settings: read_settings(&dir.join("functions").join(NAME).join("Cargo.toml"))?,
        metadata: serde_json::Value::Null,
    };

    println!("3. starting the local Lambda service with it ...");
    let config = function_config(NAME, bootstrap, Some(&package), &Default::default())?;
    let service = LocalLambda::builder().function(config).start().await?;
    println!(
        "   Lambda API {}, X-Ray sink udp://{}",
        service.endpoint_url(),
        service.xray_addr()
    );

    let events = package.dir.join("events");
    for (i, name) in lamplight_test::event_names_in(&events).iter().enumerate() {
        println!("\n4.{} invoking it with events/{name}.json", i + 1);
        let event = events.join(format!("{name}.json"));
        let payload =
            std::fs::read(&event).with_context(|| format!("reading {}", event.display()))?;
        let shown = invoke_in_process(&service, NAME, payload).await?;
        shown.print();
    }
    println!(
        "\nnext: cd {} && cargo test && cargo xtask local (the generated workspace has the same commands)",
        dir.display()
    );
    Ok(())
}

/// `[package.metadata.lamplight]` of a manifest.
fn read_settings(manifest: &std::path::Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", manifest.display()))?;
    let settings = value
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("lamplight"))
        .cloned()
        .unwrap_or(toml::Value::Table(Default::default()));
    Ok(serde_json::to_value(settings)?)
}
