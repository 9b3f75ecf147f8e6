//! The cargo workspace the commands work on: its function packages and how to build them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use xshell::{Shell, cmd};

/// A binary of the workspace that is a Lambda function (its package depends on `lamplight`,
/// `lambda_runtime` or `lambda_http`).
#[derive(Debug, Clone)]
pub struct FunctionPackage {
    /// The package name.
    pub package: String,
    /// The binary name (the function's name by default).
    pub bin: String,
    /// The package directory (where `events/` lives).
    pub dir: PathBuf,
    /// `[package.metadata.lamplight]`, or `{}`.
    pub settings: Value,
    /// The whole `[package.metadata]` (cargo-lambda's keys included).
    pub metadata: Value,
}

/// The workspace.
#[derive(Debug)]
pub struct Workspace {
    /// The workspace root.
    pub root: PathBuf,
    /// `CARGO_TARGET_DIR`.
    pub target_dir: PathBuf,
    /// Every function binary.
    pub functions: Vec<FunctionPackage>,
}

const RUNTIMES: &[&str] = &["lamplight", "lambda_runtime", "lambda_http"];

impl Workspace {
    /// Reads `cargo metadata` of the workspace around the current directory.
    pub fn load(sh: &Shell) -> Result<Self> {
        let text = cmd!(sh, "cargo metadata --format-version 1 --no-deps")
            .quiet()
            .read()
            .context("`cargo metadata` failed: run this inside a cargo workspace")?;
        let meta: Value = serde_json::from_str(&text)
            .context("`cargo metadata` printed something that is not JSON")?;
        let root = PathBuf::from(meta["workspace_root"].as_str().unwrap_or("."));
        let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));
        let mut functions = Vec::new();
        for package in meta["packages"].as_array().into_iter().flatten() {
            let depends = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| {
                    d["kind"].is_null() && RUNTIMES.contains(&d["name"].as_str().unwrap_or(""))
                });
            if !depends {
                continue;
            }
            let name = package["name"].as_str().unwrap_or_default().to_owned();
            let dir = Path::new(package["manifest_path"].as_str().unwrap_or_default())
                .parent()
                .map(Path::to_owned)
                .unwrap_or_default();
            let settings = package["metadata"]["lamplight"].clone();
            for target in package["targets"].as_array().into_iter().flatten() {
                let is_bin = target["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"));
                if is_bin {
                    functions.push(FunctionPackage {
                        package: name.clone(),
                        bin: target["name"].as_str().unwrap_or_default().to_owned(),
                        dir: dir.clone(),
                        settings: if settings.is_null() {
                            Value::Object(Default::default())
                        } else {
                            settings.clone()
                        },
                        metadata: package["metadata"].clone(),
                    });
                }
            }
        }
        Ok(Self {
            root,
            target_dir,
            functions,
        })
    }

    /// The function binary called `name`.
    pub fn function(&self, name: &str) -> Result<&FunctionPackage> {
        if let Some(f) = self.functions.iter().find(|f| f.bin == name) {
            return Ok(f);
        }
        let known: Vec<&str> = self.functions.iter().map(|f| f.bin.as_str()).collect();
        if known.is_empty() {
            bail!(
                "no function `{name}`: this workspace has no binary that depends on lamplight or lambda_runtime"
            )
        }
        bail!(
            "no function `{name}` in this workspace; functions: {}",
            known.join(", ")
        )
    }

    /// Builds `function` for this machine (debug, or `--release`) and returns the binary.
    pub fn build_local(
        &self,
        sh: &Shell,
        function: &FunctionPackage,
        release: bool,
    ) -> Result<PathBuf> {
        let (package, bin) = (&function.package, &function.bin);
        let profile: &[&str] = if release { &["--release"] } else { &[] };
        cmd!(
            sh,
            "cargo build --quiet --package {package} --bin {bin} {profile...}"
        )
        .run()
        .with_context(|| format!("building `{bin}` failed"))?;
        let path = self
            .target_dir
            .join(if release { "release" } else { "debug" })
            .join(bin);
        if !path.exists() {
            bail!("cargo built `{bin}` but {} is missing", path.display());
        }
        Ok(path)
    }
}
