//! `cargo xtask build | package | deploy | invoke | get | list | delete | logs | traces`: the
//! commands that ship a function to AWS, over lamplight-deploy.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lamplight_deploy::aws::{Aws, Connection};
use lamplight_deploy::binary::{self, Arch};
use lamplight_deploy::package::{Package, package};
use lamplight_deploy::settings::DeploySettings;
use lamplight_deploy::{deploy, logs, ops, traces};
use xshell::{Shell, cmd};

use crate::flags;
use crate::workspace::{FunctionPackage, Workspace};

/// A built bootstrap.
#[derive(Debug)]
pub struct Built {
    /// The function.
    pub name: String,
    /// The binary.
    pub path: PathBuf,
    /// What it is.
    pub info: binary::BinaryInfo,
}

fn has_zigbuild(sh: &Shell) -> bool {
    cmd!(sh, "cargo zigbuild --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
}

fn cross_linker_ready(sh: &Shell, arch: Arch) -> bool {
    let var = format!(
        "CARGO_TARGET_{}_LINKER",
        arch.target().to_uppercase().replace('-', "_")
    );
    if std::env::var_os(&var).is_some() {
        return true;
    }
    let gcc = match arch {
        Arch::Arm64 => "aarch64-linux-gnu-gcc",
        Arch::X86_64 => "x86_64-linux-gnu-gcc",
    };
    cmd!(sh, "{gcc} --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
}

/// Builds `function` for `arch` (`--fast`: the quick profile) and checks the binary.
pub fn build_one(
    sh: &Shell,
    ws: &Workspace,
    function: &FunctionPackage,
    arch: Arch,
    fast: bool,
) -> Result<Built> {
    let (package, bin) = (&function.package, &function.bin);
    let profile = if fast { "fast" } else { "release" };
    let target = arch.target();
    let zig = has_zigbuild(sh);
    if !zig && Arch::host() != Some(arch) && !cross_linker_ready(sh, arch) {
        bail!(
            "building {bin} for {arch} on this {} machine needs a cross toolchain:\n  \
             - cargo-zigbuild (recommended; also pins glibc to 2.34): `cargo install cargo-zigbuild` and `pip install ziglang`\n  \
             - or gcc for {arch}: `apt install gcc-{}-linux-gnu` and `rustup target add {target}`\n\
             or deploy with --arch {} (this machine's)",
            std::env::consts::ARCH,
            if arch == Arch::Arm64 {
                "aarch64"
            } else {
                "x86-64"
            },
            Arch::host().map_or("x86_64", Arch::lambda_name),
        );
    }
    if zig {
        // The `.2.34` suffix makes zig link against provided.al2023's glibc.
        let zig_target = format!("{target}.2.34");
        cmd!(sh, "cargo zigbuild --profile {profile} --target {zig_target} --package {package} --bin {bin}")
            .run()
            .with_context(|| format!("cargo zigbuild of {bin} failed"))?;
    } else {
        cmd!(
            sh,
            "cargo build --profile {profile} --target {target} --package {package} --bin {bin}"
        )
        .run()
        .with_context(|| format!("cargo build of {bin} failed"))?;
    }
    let path = ws.target_dir.join(target).join(profile).join(bin);
    let info = binary::check(&path, arch).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Built {
        name: bin.clone(),
        path,
        info,
    })
}

fn settings_of(
    function: &FunctionPackage,
    overrides: &flags::DeployFlags,
) -> Result<DeploySettings> {
    let mut s = DeploySettings::from_metadata(&function.bin, &function.metadata)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(arch) = &overrides.arch {
        s.arch = arch.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    }
    if let Some(m) = overrides.memory {
        s.memory = m;
    }
    if let Some(t) = overrides.timeout {
        s.timeout = t;
    }
    if let Some(role) = &overrides.role {
        s.role = Some(role.clone());
    }
    if let Some(alias) = &overrides.alias {
        s.alias = alias.clone();
    }
    for pair in &overrides.env {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("--env `{pair}` is not KEY=VALUE"))?;
        s.env.insert(k.to_owned(), v.to_owned());
    }
    Ok(s)
}

fn targets<'a>(ws: &'a Workspace, names: &[String], all: bool) -> Result<Vec<&'a FunctionPackage>> {
    if all || (names.is_empty() && ws.functions.len() == 1) {
        return Ok(ws.functions.iter().collect());
    }
    if names.is_empty() {
        let known: Vec<&str> = ws.functions.iter().map(|f| f.bin.as_str()).collect();
        bail!(
            "name the function (one of: {}) or pass --all",
            known.join(", ")
        );
    }
    names.iter().map(|n| ws.function(n)).collect()
}

async fn connect(c: &flags::AwsFlags, region: Option<String>) -> Result<Aws> {
    let connection = Connection {
        region: c.region.clone().or(region),
        profile: c.profile.clone(),
        endpoint_url: c.endpoint_url.clone(),
    };
    Aws::connect(&connection)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// `cargo xtask build`.
pub fn build(sh: &Shell, f: &flags::Build) -> Result<()> {
    let ws = Workspace::load(sh)?;
    for function in targets(&ws, &f.functions, f.all)? {
        let s = settings_of(function, &f.deploy)?;
        let built = build_one(sh, &ws, function, s.arch, f.fast)?;
        let glibc = built
            .info
            .max_glibc
            .map_or("none".into(), |(a, b)| format!("GLIBC_{a}.{b}"));
        println!(
            "{}: {} ({} bytes, {}, needs {glibc}; provided.al2023 has 2.34)",
            built.name,
            built.path.display(),
            built.info.size,
            built.info.arch
        );
    }
    Ok(())
}

fn package_of(
    sh: &Shell,
    ws: &Workspace,
    function: &FunctionPackage,
    s: &DeploySettings,
    f: &flags::Package,
) -> Result<(PathBuf, Package)> {
    let bootstrap = match &f.bootstrap {
        Some(path) => {
            binary::check(path, s.arch).map_err(|e| anyhow::anyhow!("{e}"))?;
            path.clone()
        }
        None => build_one(sh, ws, function, s.arch, f.fast)?.path,
    };
    let started = std::time::Instant::now();
    let zip = package(&bootstrap, &f.include).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = ws.target_dir.join("lambda").join(&function.bin);
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("bootstrap.zip");
    std::fs::write(&out, &zip.bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "packaged {} in {} ms: {} bytes, sha256 {}",
        out.display(),
        started.elapsed().as_millis(),
        zip.size(),
        zip.sha256_hex
    );
    if !zip.skipped.is_empty() {
        eprintln!(
            "left out hidden files (name them with --include to ship them): {}",
            zip.skipped.join(", ")
        );
    }
    Ok((out, zip))
}

/// `cargo xtask package`.
pub fn package_cmd(sh: &Shell, f: &flags::Package) -> Result<()> {
    let ws = Workspace::load(sh)?;
    for function in targets(&ws, &f.functions, f.all)? {
        let s = settings_of(function, &f.deploy)?;
        let (out, zip) = package_of(sh, &ws, function, &s, f)?;
        println!("{}\t{}\t{}", out.display(), zip.size(), zip.sha256_hex);
    }
    Ok(())
}

/// `cargo xtask deploy`.
pub async fn deploy_cmd(sh: &Shell, f: &flags::Deploy) -> Result<()> {
    let ws = Workspace::load(sh)?;
    for function in targets(&ws, &f.package.functions, f.package.all)? {
        let s = settings_of(function, &f.package.deploy)?;
        let (_, zip) = package_of(sh, &ws, function, &s, &f.package)?;
        let aws = connect(&f.aws, s.region.clone()).await?;
        let plan = deploy::plan(&aws, &s, &zip)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        print!("{plan}");
        if f.dry_run {
            println!("(dry run: nothing changed)");
            continue;
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.enable_steady_tick(Duration::from_millis(120));
        let started = std::time::Instant::now();
        let done = deploy::apply(&aws, &s, &zip, plan, &mut |m| {
            spinner.set_message(m.to_owned())
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"));
        spinner.finish_and_clear();
        let done = done?;
        println!(
            "deployed {} in {:.1} s",
            s.name,
            started.elapsed().as_secs_f64()
        );
        println!("  arn       {}", done.arn);
        println!("  version   {} (alias `{}`)", done.version, done.alias);
        println!(
            "  code      {} bytes{}",
            done.code_size,
            if done.code_uploaded {
                ""
            } else {
                ", unchanged: not uploaded"
            }
        );
        for (what, url) in &done.links {
            println!("  {what:<9} {url}");
        }
    }
    Ok(())
}

/// `cargo xtask invoke` (remote).
pub async fn invoke_remote(sh: &Shell, f: &flags::Invoke) -> Result<()> {
    let ws = Workspace::load(sh).ok();
    let dir = ws
        .as_ref()
        .and_then(|w| w.function(&f.function).ok())
        .map(|p| p.dir.clone());
    let payload = crate::payload::resolve(f.payload.as_deref(), dir.as_deref())?;
    let aws = connect(&f.aws, None).await?;
    let out = ops::invoke(&aws, &f.function, f.qualifier.as_deref(), payload)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let shown = crate::local::Shown {
        payload: out.payload.into(),
        function_error: out.function_error,
        logs: out.logs,
        trace: None,
    };
    shown.print();
    if shown.function_error.is_some() {
        bail!("the function returned an error");
    }
    Ok(())
}

/// `cargo xtask get`.
pub async fn get(f: &flags::Named) -> Result<()> {
    let aws = connect(&f.aws, None).await?;
    let s = ops::get(&aws, &f.function)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{}\n  {} {} {} MB {} s, tracing {}\n  code {} bytes, sha256 {}, modified {}",
        s.arn,
        s.runtime,
        s.architecture,
        s.memory,
        s.timeout,
        s.tracing,
        s.code_size,
        s.code_sha256,
        s.last_modified
    );
    Ok(())
}

/// `cargo xtask list`.
pub async fn list(f: &flags::AwsFlags) -> Result<()> {
    let aws = connect(f, None).await?;
    let all = ops::list(&aws).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{:<40} {:<16} {:<7} {:>6} {:>4}  modified",
        "function", "runtime", "arch", "MB", "s"
    );
    for s in all {
        println!(
            "{:<40} {:<16} {:<7} {:>6} {:>4}  {}",
            s.name, s.runtime, s.architecture, s.memory, s.timeout, s.last_modified
        );
    }
    Ok(())
}

/// `cargo xtask delete`.
pub async fn delete(f: &flags::Delete) -> Result<()> {
    if !f.yes {
        use std::io::Write as _;
        print!(
            "delete the function {}? type its name to confirm: ",
            f.named.function
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != f.named.function {
            bail!(
                "not deleted (the answer was not `{}`); pass --yes to skip the question",
                f.named.function
            );
        }
    }
    let aws = connect(&f.named.aws, None).await?;
    ops::delete(&aws, &f.named.function)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("deleted {}", f.named.function);
    Ok(())
}

/// `cargo xtask logs`.
pub async fn logs_cmd(f: &flags::Logs) -> Result<()> {
    let aws = connect(&f.named.aws, None).await?;
    let since = humantime::parse_duration(&f.since)
        .with_context(|| format!("--since `{}` is not a duration like 10m or 2h", f.since))?;
    let mut last = None;
    loop {
        let lines = logs::read(&aws, &f.named.function, since, f.filter.as_deref(), last)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for line in &lines {
            let at = humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + Duration::from_millis(line.timestamp.max(0) as u64),
            );
            println!("{at} {}", line.message);
        }
        if let Some(l) = lines.last() {
            last = Some(l.timestamp);
        }
        if !f.follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// `cargo xtask traces`.
pub async fn traces_cmd(f: &flags::Traces) -> Result<()> {
    let traces = if f.local {
        let endpoint = f
            .named
            .aws
            .endpoint_url
            .clone()
            .unwrap_or_else(|| crate::local::DEFAULT_ENDPOINT.to_owned());
        crate::local::local_traces(&endpoint, &f.named.function, &f.id).await?
    } else {
        let aws = connect(&f.named.aws, None).await?;
        let since = humantime::parse_duration(&f.since)
            .with_context(|| format!("--since `{}` is not a duration", f.since))?;
        let ids = if f.id.is_empty() {
            traces::recent(&aws, &f.named.function, since)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
        } else {
            f.id.clone()
        };
        traces::fetch(&aws, &ids)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
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
