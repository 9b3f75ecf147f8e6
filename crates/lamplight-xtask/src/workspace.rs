//! The cargo workspace the commands work on: its function packages, how to build them, and
//! their settings for a deploy or for the local service.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lamplight_deploy::binary::Arch;
use lamplight_deploy::build::{BuildRequest, Profile};
use lamplight_deploy::settings::DeploySettings;
use lamplight_local::{Code, FunctionConfig, TracingMode};
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::flags::{self, DeployFlags};

/// A binary of the workspace that is a Lambda function (its package depends on `lamplight`,
/// `lambda_runtime` or `lambda_http`).
#[derive(Debug, Clone)]
pub struct FunctionPackage {
    /// The cargo package that holds it.
    pub package: String,
    /// The binary: the function's name.
    pub bin: String,
    /// The package directory (where `events/` lives).
    pub dir: PathBuf,
    /// `[package.metadata.lamplight]`, or `{}`.
    pub settings: Value,
    /// The whole `[package.metadata]` (cargo-lambda's keys included).
    pub metadata: Value,
}

/// The cargo workspace around the current directory, as `cargo metadata` describes it.
#[derive(Debug)]
pub struct Workspace {
    /// Where its root `Cargo.toml` is.
    pub root: PathBuf,
    /// Where cargo builds (`CARGO_TARGET_DIR`, else `target/`).
    pub target_dir: PathBuf,
    /// Every binary of the workspace that is a Lambda function.
    pub functions: Vec<FunctionPackage>,
}

const RUNTIMES: &[&str] = &["lamplight", "lambda_runtime", "lambda_http"];

impl FunctionPackage {
    /// How to deploy it: `[package.metadata]`, then the command's flags.
    pub(crate) fn deploy_settings(&self, overrides: &DeployFlags) -> Result<DeploySettings> {
        self.deploy_settings_with(overrides, &[])
    }

    /// [`Self::deploy_settings`], with `--trigger KEY=VALUE` settings over `trigger`.
    pub(crate) fn deploy_settings_with(
        &self,
        overrides: &DeployFlags,
        trigger: &[String],
    ) -> Result<DeploySettings> {
        let mut s = if trigger.is_empty() {
            DeploySettings::from_metadata(&self.bin, &self.metadata)?
        } else {
            let mut metadata = self.metadata.clone();
            let table = &mut metadata["lamplight"]["trigger"];
            *table = with_trigger_flags(table, trigger)?;
            DeploySettings::from_metadata(&self.bin, &metadata)
                .with_context(|| format!("with --trigger {}", trigger.join(" --trigger ")))?
        };
        if let Some(arch) = overrides.arch {
            s.arch = arch;
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
}

/// `trigger` with each `KEY=VALUE` set on it; VALUE is a TOML value (`20`, `true`,
/// `["GET /a"]`), else taken as text (`NONE`). A new `kind` starts from that kind's defaults:
/// the old kind's keys would not fit it.
pub(crate) fn with_trigger_flags(trigger: &Value, flags: &[String]) -> Result<Value> {
    let mut table = match trigger {
        Value::Object(t) => t.clone(),
        _ => serde_json::Map::new(),
    };
    for flag in flags {
        let (key, value) = flag
            .split_once('=')
            .filter(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .with_context(|| {
                format!("--trigger `{flag}` is not KEY=VALUE (e.g. --trigger batch_size=20)")
            })?;
        let value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
            Ok(mut parsed) => serde_json::to_value(parsed.remove("v"))
                .context("a --trigger value that is not JSON")?,
            Err(_) => Value::String(value.to_owned()),
        };
        if key == "kind" && table.get("kind") != Some(&value) {
            table.clear();
        }
        table.insert(key.to_owned(), value);
    }
    Ok(Value::Object(table))
}

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

    /// The functions a command names: `names`, or with none named the only one, or every one
    /// with `all`.
    pub(crate) fn targets(&self, names: &[String], all: bool) -> Result<Vec<&FunctionPackage>> {
        if all || (names.is_empty() && self.functions.len() == 1) {
            return Ok(self.functions.iter().collect());
        }
        if names.is_empty() {
            let known: Vec<&str> = self.functions.iter().map(|f| f.bin.as_str()).collect();
            bail!(
                "name the function (one of: {}) or pass --all",
                known.join(", ")
            );
        }
        names.iter().map(|n| self.function(n)).collect()
    }

    /// What cargo builds to ship `function` for `arch`: `--fast` picks the quick profile.
    pub(crate) fn build_request(
        &self,
        function: &FunctionPackage,
        arch: Arch,
        fast: bool,
    ) -> BuildRequest {
        BuildRequest {
            package: function.package.clone(),
            bin: function.bin.clone(),
            arch,
            profile: if fast {
                Profile::Fast
            } else {
                Profile::Release
            },
            target_dir: self.target_dir.clone(),
        }
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

/// A function's configuration from `[package.metadata.lamplight]` and the command's flags.
pub fn function_config(
    name: &str,
    bootstrap: PathBuf,
    package: Option<&FunctionPackage>,
    overrides: &flags::FunctionSettings,
) -> Result<FunctionConfig> {
    let mut config = FunctionConfig::new(name, Code::Bootstrap(bootstrap));
    if let Some(settings) = package.map(|p| &p.settings) {
        if let Some(memory) = settings["memory"].as_u64() {
            config.memory_mb = u32::try_from(memory).context("memory is too large")?;
        }
        if let Some(timeout) = settings["timeout"].as_u64() {
            config.timeout = Duration::from_secs(timeout);
        }
        match &settings["tracing"] {
            Value::Null => {}
            value => {
                config.tracing = value
                    .as_str()
                    .and_then(TracingMode::parse)
                    .with_context(|| {
                        format!(
                            "[package.metadata.lamplight] tracing = {value} is not \"Active\" or \"PassThrough\""
                        )
                    })?;
            }
        }
        match &settings["max_concurrency"] {
            Value::Null => {}
            value => {
                let n = value
                    .as_u64()
                    .filter(|n| (1..=1600).contains(n))
                    .with_context(|| {
                        format!(
                            "[package.metadata.lamplight] max_concurrency = {value} is not a \
                             number of invocations from 1 to 1600"
                        )
                    })?;
                config.max_concurrency = usize::try_from(n).ok();
            }
        }
        if let Some(env) = settings["env"].as_object() {
            for (k, v) in env {
                let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                config.environment.insert(k.clone(), value);
            }
        }
    }
    if let Some(file) = &overrides.env_file {
        let pairs = dotenvy::from_path_iter(file)
            .with_context(|| format!("cannot read the env file {}", file.display()))?;
        for pair in pairs {
            let (k, v) = pair.with_context(|| format!("in the env file {}", file.display()))?;
            config.environment.insert(k, v);
        }
    }
    if let Some(memory) = overrides.memory {
        config.memory_mb = memory;
    }
    if let Some(timeout) = overrides.timeout {
        config.timeout = Duration::from_secs(timeout);
    }
    for pair in &overrides.env {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("--env `{pair}` is not KEY=VALUE");
        };
        config.environment.insert(k.to_owned(), v.to_owned());
    }
    config.max_environments = overrides.max_environments.max(1);
    // Layers from the metadata are relative to the package, those from flags to where the
    // command runs.
    let from_metadata = package
        .into_iter()
        .flat_map(|p| {
            p.settings["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str())
                .map(|l| p.dir.join(l))
        })
        .collect::<Vec<_>>();
    for layer in from_metadata
        .into_iter()
        .chain(overrides.layers.iter().cloned())
    {
        let layer = std::path::absolute(&layer)
            .with_context(|| format!("the layer {}", layer.display()))?;
        if !layer.is_dir() {
            bail!(
                "the layer {} is not a directory (a layer is a directory holding what Lambda unpacks into /opt, extensions in its extensions/)",
                layer.display()
            );
        }
        config.layers.push(layer);
    }
    if let Some(mode) = overrides.tracing.as_deref().and_then(TracingMode::parse) {
        config.tracing = mode;
    }
    if let Some(n) = overrides.max_concurrency {
        config.max_concurrency = usize::try_from(n).ok();
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn trigger_flags_set_keys_and_a_new_kind_starts_afresh() {
        let table = serde_json::json!({"kind": "sqs", "queue": "create", "batch_size": 10});
        assert_eq!(
            with_trigger_flags(
                &table,
                &flags(&["batch_size=20", "queue=arn:aws:sqs:us-east-1:1:q"])
            )
            .expect("set"),
            serde_json::json!({"kind": "sqs", "queue": "arn:aws:sqs:us-east-1:1:q", "batch_size": 20})
        );
        assert_eq!(
            with_trigger_flags(&table, &flags(&["kind=function-url", "auth=NONE"])).expect("kind"),
            serde_json::json!({"kind": "function-url", "auth": "NONE"})
        );
        assert_eq!(
            with_trigger_flags(
                &Value::Null,
                &flags(&["kind=http-api", r#"routes=["GET /a"]"#])
            )
            .expect("routes"),
            serde_json::json!({"kind": "http-api", "routes": ["GET /a"]})
        );
        for bad in ["batch_size", "=3", "a b=1"] {
            let err = with_trigger_flags(&table, &flags(&[bad])).expect_err(bad);
            assert!(err.to_string().contains("is not KEY=VALUE"), "{err}");
        }
    }

    fn package_with(settings: Value) -> FunctionPackage {
        FunctionPackage {
            package: "f".into(),
            bin: "f".into(),
            dir: PathBuf::from("f"),
            metadata: serde_json::json!({ "lamplight": settings.clone() }),
            settings,
        }
    }

    #[test]
    fn tracing_comes_from_the_metadata_and_the_flag_wins() {
        let config = |settings: Value, flag: Option<&str>| {
            let overrides = flags::FunctionSettings {
                tracing: flag.map(str::to_owned),
                ..Default::default()
            };
            function_config("f", "f".into(), Some(&package_with(settings)), &overrides)
        };
        assert_eq!(
            config(serde_json::json!({}), None).expect("ok").tracing,
            TracingMode::Active
        );
        let passive = config(serde_json::json!({"tracing": "PassThrough"}), None).expect("ok");
        assert_eq!(passive.tracing, TracingMode::PassThrough);
        let flag = config(
            serde_json::json!({"tracing": "PassThrough"}),
            Some("Active"),
        )
        .expect("ok");
        assert_eq!(flag.tracing, TracingMode::Active);
        let err = config(serde_json::json!({"tracing": "sometimes"}), None).expect_err("refused");
        assert!(
            format!("{err:#}").contains("is not \"Active\" or \"PassThrough\""),
            "{err:#}"
        );
    }

    #[test]
    fn max_concurrency_comes_from_the_metadata_and_the_flag_wins() {
        let config = |settings: Value, flag: Option<u32>| {
            let overrides = flags::FunctionSettings {
                max_concurrency: flag,
                ..Default::default()
            };
            function_config("f", "f".into(), Some(&package_with(settings)), &overrides)
        };
        let none = config(serde_json::json!({}), None).expect("valid");
        assert_eq!(none.max_concurrency, None, "one invocation per environment");
        let from_metadata = config(serde_json::json!({"max_concurrency": 8}), None).expect("ok");
        assert_eq!(from_metadata.max_concurrency, Some(8));
        let flag = config(serde_json::json!({"max_concurrency": 8}), Some(64)).expect("ok");
        assert_eq!(flag.max_concurrency, Some(64));
        for bad in [
            serde_json::json!(0),
            serde_json::json!("many"),
            serde_json::json!(-1),
            serde_json::json!(2000),
        ] {
            let err = config(serde_json::json!({ "max_concurrency": bad.clone() }), None)
                .expect_err("refused");
            let text = format!("{err:#}");
            assert!(
                text.contains("max_concurrency") && text.contains("from 1 to 1600"),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn a_trigger_flag_the_kind_does_not_know_names_the_flag() {
        let package = FunctionPackage {
            package: "orders".into(),
            bin: "orders".into(),
            dir: PathBuf::from("functions/orders"),
            settings: serde_json::json!({"trigger": {"kind": "sqs"}}),
            metadata: serde_json::json!({"lamplight": {"trigger": {"kind": "sqs"}}}),
        };
        let err = package
            .deploy_settings_with(&DeployFlags::default(), &flags(&["batchsize=5"]))
            .expect_err("unknown key");
        let text = format!("{err:#}");
        assert!(
            text.contains("with --trigger batchsize=5")
                && text.contains("unknown field `batchsize`"),
            "{text}"
        );
        let s = package
            .deploy_settings_with(&DeployFlags::default(), &flags(&["kind=custom"]))
            .expect("custom");
        assert_eq!(s.trigger, None);
    }

    #[test]
    fn layers_come_from_the_metadata_then_the_flags_and_must_be_directories() {
        let root = tempfile::tempdir().expect("tempdir");
        let package_dir = root.path().join("functions/orders");
        std::fs::create_dir_all(package_dir.join("layers/collector")).expect("mkdir");
        let package = FunctionPackage {
            package: "orders".into(),
            bin: "orders".into(),
            dir: package_dir.clone(),
            settings: serde_json::json!({"layers": ["layers/collector"]}),
            metadata: serde_json::json!({}),
        };
        let extra = root.path().join("extra");
        std::fs::create_dir(&extra).expect("mkdir");
        let settings = flags::FunctionSettings {
            layers: vec![extra.clone()],
            ..flags::FunctionSettings::default()
        };
        let config = function_config("orders", "bootstrap".into(), Some(&package), &settings)
            .expect("config");
        assert_eq!(
            config.layers,
            vec![package_dir.join("layers/collector"), extra]
        );

        let missing = flags::FunctionSettings {
            layers: vec![root.path().join("nowhere")],
            ..flags::FunctionSettings::default()
        };
        let err = function_config("orders", "bootstrap".into(), None, &missing)
            .expect_err("a missing layer");
        assert!(err.to_string().contains("is not a directory"), "{err}");
    }
}
