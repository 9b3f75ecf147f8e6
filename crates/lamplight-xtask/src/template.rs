//! `cargo xtask new` (render the template with cargo-generate, the same engine as
//! `cargo generate`) and `cargo xtask template-check` (render every variant, then build, lint
//! and test each one).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cargo_generate::{GenerateArgs, TemplatePath, Vcs};
use xshell::{Shell, cmd};

/// The event sources the template knows.
pub const EVENT_SOURCES: &[&str] = &[
    "custom",
    "http-api",
    "rest-api",
    "alb",
    "function-url",
    "sqs",
    "s3",
    "eventbridge",
    "sns",
    "dynamodb",
];

/// The placeholders of one rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    /// `event_source`.
    pub event_source: String,
    /// `architecture`.
    pub architecture: String,
    /// `memory`, MB.
    pub memory: u32,
    /// `timeout`, seconds.
    pub timeout: u32,
    /// `region`.
    pub region: String,
    /// `use_s3`.
    pub use_s3: bool,
    /// `lamplight_path`: a checkout to depend on by path, or `None` for crates.io versions.
    pub lamplight_path: Option<PathBuf>,
}

impl Default for Choices {
    fn default() -> Self {
        Self {
            event_source: "custom".into(),
            architecture: "arm64".into(),
            memory: 128,
            timeout: 3,
            region: "us-east-1".into(),
            use_s3: false,
            lamplight_path: None,
        }
    }
}

impl Choices {
    fn defines(&self) -> Vec<String> {
        vec![
            format!("event_source={}", self.event_source),
            format!("architecture={}", self.architecture),
            format!("memory={}", self.memory),
            format!("timeout={}", self.timeout),
            format!("region={}", self.region),
            format!("use_s3={}", self.use_s3),
            format!(
                "lamplight_path={}",
                self.lamplight_path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        ]
    }

    /// Checks the choices the way the template's prompts would.
    pub fn validate(&self) -> Result<()> {
        if !EVENT_SOURCES.contains(&self.event_source.as_str()) {
            bail!(
                "unknown event source `{}`; choose one of: {}",
                self.event_source,
                EVENT_SOURCES.join(", ")
            );
        }
        if !["arm64", "x86_64"].contains(&self.architecture.as_str()) {
            bail!(
                "architecture `{}` is neither arm64 nor x86_64",
                self.architecture
            );
        }
        if !(128..=10240).contains(&self.memory) {
            bail!(
                "memory {} MB is outside Lambda's 128 to 10240 MB",
                self.memory
            );
        }
        if !(1..=900).contains(&self.timeout) {
            bail!("timeout {} s is outside Lambda's 1 to 900 s", self.timeout);
        }
        Ok(())
    }
}

/// The template directory: `LAMPLIGHT_TEMPLATE`, else `template/` of the workspace being
/// worked in, else the lamplight checkout this crate was built from.
pub fn template_dir(workspace_root: Option<&Path>) -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("LAMPLIGHT_TEMPLATE") {
        return Ok(PathBuf::from(dir));
    }
    let candidates = [
        workspace_root.map(|r| r.join("template")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("cargo-generate.toml").is_file())
        .map(|d| d.canonicalize().unwrap_or(d))
        .context("no lamplight template found: set LAMPLIGHT_TEMPLATE to a lamplight checkout's template/ directory")
}

/// Renders the template as `name` into `destination/name`, as `cargo generate --path` would.
pub fn render(
    template: &Path,
    name: &str,
    destination: &Path,
    choices: &Choices,
) -> Result<PathBuf> {
    choices.validate()?;
    std::fs::create_dir_all(destination)
        .with_context(|| format!("cannot create {}", destination.display()))?;
    let args = GenerateArgs {
        template_path: TemplatePath {
            path: Some(template.display().to_string()),
            ..TemplatePath::default()
        },
        name: Some(name.to_owned()),
        destination: Some(destination.to_owned()),
        silent: true,
        quiet: false,
        vcs: Some(Vcs::None),
        define: choices.defines(),
        no_workspace: true,
        ..GenerateArgs::default()
    };
    cargo_generate::generate(args)
        .with_context(|| format!("rendering the template as `{name}` failed"))
}

/// `cargo xtask new`.
pub fn new(sh: &Shell, flags: &crate::flags::New) -> Result<()> {
    let workspace = crate::workspace::Workspace::load(sh).ok();
    let root = workspace.as_ref().map(|w| w.root.clone());
    let template = template_dir(root.as_deref())?;
    let mut choices = flags.choices();
    let generated_workspace = root.as_deref().filter(|r| {
        r.join("functions").is_dir() && r.join("xtask").is_dir() && !r.join("template").is_dir()
    });
    if let Some(root) = generated_workspace {
        // In a function workspace: render aside, keep only the new function.
        let target = root.join("functions").join(&flags.name);
        if target.exists() {
            bail!("{} already exists", target.display());
        }
        let scratch = std::env::temp_dir().join(format!("lamplight-new-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let rendered = render(&template, &flags.name, &scratch, &choices)?;
        copy_dir(&rendered.join("functions").join(&flags.name), &target)?;
        let _ = std::fs::remove_dir_all(&scratch);
        println!(
            "added {} (a member through `functions/*`)",
            target.display()
        );
        println!("note: its dependencies come from this workspace's [workspace.dependencies]");
        return Ok(());
    }
    if choices.lamplight_path.is_none() && flags.lamplight_path.is_none() {
        // Rendering from a lamplight checkout: build against it.
        choices.lamplight_path = template.parent().map(Path::to_owned);
    }
    let destination = flags
        .destination
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let path = render(&template, &flags.name, &destination, &choices)?;
    println!("created {}", path.display());
    println!(
        "next: cd {} && cargo test && cargo xtask invoke {} --local --payload <event>",
        path.display(),
        flags.name
    );
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying to {}", target.display()))?;
        }
    }
    Ok(())
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

/// `cargo xtask template-check`: renders every variant under `target/template-check/` and runs
/// `cargo build`, `cargo clippy -D warnings` and `cargo test` in each, offline, with this
/// checkout's target directory (dependencies compile once) and lock file.
pub fn check(sh: &Shell, only: &[String]) -> Result<()> {
    let ws = crate::workspace::Workspace::load(sh)?;
    let template = template_dir(Some(&ws.root))?;
    let checkout = template
        .parent()
        .context("the template has no parent directory")?
        .to_owned();
    let out = ws.target_dir.join("template-check");
    let mut failures = Vec::new();
    let mut xtask_checked = false;
    for (name, choices) in variants(&checkout) {
        if !only.is_empty() && !only.contains(&name) {
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
            failures.push(name);
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
pub const PROFILE: &[&str] = &[
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
