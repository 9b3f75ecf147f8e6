//! `bench ship`: the generated function's zips, the edit-to-zip loop, packaging, and unchanged
//! deploys against moto, against cargo-lambda's quoted figures.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use lamplight_xtask::{Choices, Workspace, render};
use xshell::Shell;

use super::stats::median;

/// cargo-lambda 1.9.2's figures on this machine (from the issues): release zip of its
/// default template (generic and HTTP), rebuild after touching main.rs, `cargo lambda deploy`'s
/// packaging.
const CARGO_LAMBDA_ZIP_BYTES: (u64, u64) = (874_519, 1_270_205);
const CARGO_LAMBDA_REBUILD_S: (f64, f64) = (22.0, 36.0);
const CARGO_LAMBDA_PACKAGE_S: (f64, f64) = (0.6, 0.9);

pub(super) async fn run(sh: &Shell, rounds: usize) -> Result<()> {
    use lamplight_deploy::binary::{self, Arch};
    let ws = Workspace::load(sh)?;
    let (template, checkout) = crate::template_and_checkout(&ws)?;
    let arch = Arch::host().context("this machine is not arm64 or x86_64")?;
    let name = "ship-bench";
    let out = ws.target_dir.join("bench");
    let _ = std::fs::remove_dir_all(out.join(name));
    let choices = Choices {
        lamplight_path: Some(checkout.clone()),
        architecture: arch.lambda_name().into(),
        ..Choices::default()
    };
    let dir = render(&template, name, &out, &choices)?;
    std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    let target = arch.target();
    let build = |profile: &str| -> Result<f64> {
        let _cwd = sh.push_dir(&dir);
        let _target = sh.push_env("CARGO_TARGET_DIR", &ws.target_dir);
        let started = Instant::now();
        xshell::cmd!(
            sh,
            "cargo build --quiet --profile {profile} --target {target} --package {name}"
        )
        .run()
        .context("building the generated function")?;
        Ok(started.elapsed().as_secs_f64())
    };
    eprintln!("building the generated function (release and fast) ...");
    build("release")?;
    build("fast")?;
    let release = ws.target_dir.join(target).join("release").join(name);
    let fast = ws.target_dir.join(target).join("fast").join(name);
    binary::check(&release, arch)?;
    let zip = lamplight_deploy::package::package(&release, &[])?;
    let fast_zip = lamplight_deploy::package::package(&fast, &[])?;
    let mut package_ms = Vec::new();
    for _ in 0..rounds.max(3) {
        let t = Instant::now();
        lamplight_deploy::package::package(&release, &[])?;
        package_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // The edit-to-zip loop: change the worker, rebuild with the fast profile, zip.
    let worker = dir.join("functions").join(name).join("src/worker.rs");
    let mut edit_s = Vec::new();
    for round in 0..rounds {
        let mut text = std::fs::read_to_string(&worker)?;
        text.push_str(&format!("\n// edit {round}\n"));
        std::fs::write(&worker, text)?;
        let t = Instant::now();
        build("fast")?;
        lamplight_deploy::package::package(&fast, &[])?;
        edit_s.push(t.elapsed().as_secs_f64());
    }
    let mut text = std::fs::read_to_string(&worker)?;
    text.push_str("\n// edit for release\n");
    std::fs::write(&worker, text)?;
    let release_rebuild = build("release")?;

    eprintln!("deploying to moto ...");
    let deploy_s = unchanged_deploys(&release, arch, rounds).await?;

    println!("## Shipping (`cargo xtask bench ship --rounds {rounds}`)\n");
    println!(
        "The template's default function (custom events, full telemetry) built for {arch}; moto 5.2.5 on loopback.\n"
    );
    println!("| measure | lamplight | cargo-lambda 1.9.2 (this machine) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| release zip (bytes) | {} | {} generic, {} HTTP (no telemetry) | {:.2}x of generic |",
        zip.size(),
        CARGO_LAMBDA_ZIP_BYTES.0,
        CARGO_LAMBDA_ZIP_BYTES.1,
        zip.size() as f64 / CARGO_LAMBDA_ZIP_BYTES.0 as f64
    );
    println!("| fast-profile zip (bytes) | {} | | |", fast_zip.size());
    println!(
        "| edit worker.rs to deployable zip, fast profile, median (s) | {:.1} | rebuild {}-{} s | {:.1}x-{:.1}x faster |",
        median(edit_s.clone()),
        CARGO_LAMBDA_REBUILD_S.0,
        CARGO_LAMBDA_REBUILD_S.1,
        CARGO_LAMBDA_REBUILD_S.0 / median(edit_s.clone()),
        CARGO_LAMBDA_REBUILD_S.1 / median(edit_s)
    );
    println!("| the same edit, release profile (s) | {release_rebuild:.1} | | |");
    println!(
        "| package a built binary, median (ms) | {:.0} | {:.0}-{:.0} ms | {:.0}x-{:.0}x faster |",
        median(package_ms.clone()),
        CARGO_LAMBDA_PACKAGE_S.0 * 1000.0,
        CARGO_LAMBDA_PACKAGE_S.1 * 1000.0,
        CARGO_LAMBDA_PACKAGE_S.0 * 1000.0 / median(package_ms.clone()),
        CARGO_LAMBDA_PACKAGE_S.1 * 1000.0 / median(package_ms)
    );
    println!(
        "| deploy with unchanged code against moto, median (s) | {:.2} | | |",
        median(deploy_s)
    );
    Ok(())
}

/// Starts moto, deploys `bootstrap` once, then times `rounds` deploys that change nothing.
async fn unchanged_deploys(
    bootstrap: &std::path::Path,
    arch: lamplight_deploy::binary::Arch,
    rounds: usize,
) -> Result<Vec<f64>> {
    use lamplight_deploy::{deploy, package::package, settings::DeploySettings};
    // Blocking, a few hundred milliseconds once: not worth a runtime thread of its own.
    let moto =
        lamplight_test::moto::Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")])?;
    let endpoint = moto.endpoint();
    let config = aws_config_for(&endpoint);
    let aws = lamplight_deploy::aws::Aws::from_config(&config).await?;
    let mut settings = DeploySettings::new("ship-bench");
    settings.arch = arch;
    let zip = package(bootstrap, &[])?;
    let plan = deploy::plan(&aws, &settings, &zip).await?;
    deploy::apply(&aws, &settings, &zip, plan, &mut |_| {}).await?;
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let zip = package(bootstrap, &[])?;
        let plan = deploy::plan(&aws, &settings, &zip).await?;
        let done = deploy::apply(&aws, &settings, &zip, plan, &mut |_| {}).await?;
        if done.code_uploaded {
            bail!("an unchanged deploy uploaded code");
        }
        times.push(t.elapsed().as_secs_f64());
    }
    drop(moto);
    Ok(times)
}

fn aws_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("bench", "bench", None, None, "bench"),
            ),
        )
        .build()
}
