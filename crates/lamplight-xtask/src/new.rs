//! `cargo xtask new`: the function template rendered with cargo-generate (the engine of
//! `cargo generate`), as a new function workspace or as one more function in this one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cargo_generate::{GenerateArgs, TemplatePath, Vcs};
use xshell::Shell;

use crate::flags;
use crate::workspace::Workspace;

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

/// The template's placeholders for one rendering (see `template/cargo-generate.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    /// One of [`EVENT_SOURCES`].
    pub event_source: String,
    /// `arm64` or `x86_64`.
    pub architecture: String,
    /// MB.
    pub memory: u32,
    /// Seconds.
    pub timeout: u32,
    /// Where the function deploys.
    pub region: String,
    /// The custom worker reads objects from S3.
    pub use_s3: bool,
    /// A lamplight checkout to depend on by path, or `None` for crates.io versions.
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

pub(crate) fn run(sh: &Shell, flags: &flags::New) -> Result<()> {
    let workspace = Workspace::load(sh).ok();
    let root = workspace.as_ref().map(|w| w.root.clone());
    let template = template_dir(root.as_deref())?;
    let mut choices = Choices {
        event_source: flags.event.clone(),
        architecture: flags.arch.clone(),
        memory: flags.memory,
        timeout: flags.timeout,
        region: flags.region.clone(),
        use_s3: flags.s3,
        lamplight_path: flags.lamplight_path.clone(),
    };
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
