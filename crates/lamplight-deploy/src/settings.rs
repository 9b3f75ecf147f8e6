//! What a function is deployed with: `[package.metadata.lamplight]` (or cargo-lambda's
//! `[package.metadata.lambda.deploy]`), then flags on top.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::binary::Arch;
use crate::error::DeployError;
use crate::trigger::{Target, Trigger};

/// Everything a deploy sets on the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploySettings {
    /// The function's name.
    pub name: String,
    /// Memory in MB.
    pub memory: i32,
    /// Timeout in seconds.
    pub timeout: i32,
    /// Architecture.
    pub arch: Arch,
    /// `provided.al2023`.
    pub runtime: String,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// X-Ray tracing Active (else PassThrough).
    pub tracing: bool,
    /// An existing role; `None` creates a least-privilege one.
    pub role: Option<String>,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Days to keep the function's logs.
    pub log_retention_days: Option<i32>,
    /// The alias moved to each published version.
    pub alias: String,
    /// The region, when the metadata names one.
    pub region: Option<String>,
    /// What invokes the function (`trigger`); `None` for none or `custom`.
    pub trigger: Option<Trigger>,
    /// `s3_read = ["bucket/prefix", ...]`: objects the role may read (s3:GetObject), beyond a
    /// trigger's own bucket.
    pub s3_read: Vec<String>,
}

impl DeploySettings {
    /// What the triggers need of these settings.
    pub fn trigger_target(&self) -> Target {
        Target {
            name: self.name.clone(),
            alias: self.alias.clone(),
            role: self.role.clone(),
            s3_read: self.s3_read.clone(),
            trigger: self.trigger.clone(),
        }
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `value` as an integer in `range`, typed as the AWS SDK wants it.
fn within(value: &Value, range: &std::ops::RangeInclusive<u32>) -> Option<i32> {
    let n = u32::try_from(value.as_u64()?).ok()?;
    if range.contains(&n) {
        i32::try_from(n).ok()
    } else {
        None
    }
}

fn map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| text(v).map(|v| (k.clone(), v)))
        .collect()
}

/// Checks a function name as Lambda does for the plain names lamplight deploys: 1 to 64 ASCII
/// letters, digits, `-` and `_` (no ARNs, no `:qualifier`). Every command that takes a name
/// checks it with this before touching AWS or a file; the local Lambda service applies the same
/// rule to the names it is sent.
///
/// ```
/// use lamplight_deploy::settings::validate_name;
/// assert!(validate_name("orders-worker_2").is_ok());
/// assert!(validate_name("orders.worker").is_err());
/// assert!(validate_name(&"f".repeat(65)).is_err());
/// ```
pub fn validate_name(name: &str) -> Result<(), DeployError> {
    if lamplight_limits::is_function_name(name) {
        Ok(())
    } else {
        Err(DeployError::InvalidName(name.to_owned()))
    }
}

impl DeploySettings {
    /// Lambda's defaults for `name`: 128 MB, 3 s, arm64, tracing Active, alias `live`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            memory: 128,
            timeout: 3,
            arch: Arch::Arm64,
            runtime: "provided.al2023".into(),
            env: BTreeMap::new(),
            tracing: true,
            role: None,
            description: String::new(),
            tags: BTreeMap::new(),
            log_retention_days: None,
            alias: "live".into(),
            region: None,
            trigger: None,
            s3_read: Vec::new(),
        }
    }

    /// Reads `[package.metadata]` (the `metadata` object of `cargo metadata`): lamplight's
    /// keys win over cargo-lambda's.
    pub fn from_metadata(name: &str, metadata: &Value) -> Result<Self, DeployError> {
        validate_name(name)?;
        let mut s = Self::new(name);
        let bad = |key: &str, value: &Value, expected: &str| {
            DeployError::Build(format!(
                "[package.metadata] `{key} = {value}` of {name}: expected {expected}"
            ))
        };
        // cargo-lambda first, so lamplight's own table overrides it.
        for table in [&metadata["lambda"]["deploy"], &metadata["lamplight"]] {
            if !table.is_object() {
                continue;
            }
            if let Some(v) = table.get("memory") {
                s.memory = within(v, &lamplight_limits::MEMORY_MB)
                    .ok_or_else(|| bad("memory", v, "128 to 10240 (MB)"))?;
            }
            if let Some(v) = table.get("timeout") {
                s.timeout = within(v, &lamplight_limits::TIMEOUT_SECONDS)
                    .ok_or_else(|| bad("timeout", v, "1 to 900 (seconds)"))?;
            }
            if let Some(v) = table.get("architecture").or_else(|| table.get("arch")) {
                s.arch = v
                    .as_str()
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| bad("architecture", v, "arm64 or x86_64"))?;
            }
            if let Some(v) = table.get("tracing") {
                s.tracing = match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                    Some("active") => true,
                    Some("passthrough") => false,
                    _ => return Err(bad("tracing", v, "\"Active\" or \"PassThrough\"")),
                };
            }
            if let Some(role) = table.get("role").and_then(text) {
                s.role = Some(role);
            }
            if let Some(env) = table.get("env") {
                s.env.extend(map(env));
            }
            if let Some(tags) = table.get("tags") {
                s.tags.extend(map(tags));
            }
            if let Some(d) = table.get("description").and_then(text) {
                s.description = d;
            }
            if let Some(v) = table
                .get("retention")
                .or_else(|| table.get("log_retention"))
            {
                s.log_retention_days =
                    Some(v.as_i64().ok_or_else(|| bad("retention", v, "days"))? as i32);
            }
            if let Some(alias) = table.get("alias").and_then(text) {
                s.alias = alias;
            }
            if let Some(region) = table.get("region").and_then(text) {
                s.region = Some(region);
            }
            if let Some(runtime) = table.get("runtime").and_then(text) {
                s.runtime = runtime;
            }
            if let Some(v) = table.get("s3_read") {
                let expected = "a list of \"bucket\" or \"bucket/prefix\"";
                let items = v.as_array().ok_or_else(|| bad("s3_read", v, expected))?;
                s.s3_read = items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .filter(|r| {
                                crate::trigger::valid_bucket_name(r.split('/').next().unwrap_or(r))
                            })
                            .map(str::to_owned)
                            .ok_or_else(|| bad("s3_read", item, expected))
                    })
                    .collect::<Result<_, _>>()?;
            }
            if let Some(trigger) = table.get("trigger") {
                s.trigger = Trigger::from_value(name, trigger)?;
            }
        }
        let env_size: usize = s.env.iter().map(|(k, v)| k.len() + v.len()).sum();
        if env_size > 4096 {
            return Err(DeployError::Build(format!(
                "the environment of {name} is {env_size} bytes; Lambda allows 4 KB in total: move large values to SSM Parameter Store or S3"
            )));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lamplight_keys_win_over_cargo_lambda_keys() {
        let metadata = json!({
            "lambda": {"deploy": {"memory": 512, "timeout": 10, "tracing": "passthrough", "env": {"A": "1"}, "tags": {"team": "x"}}},
            "lamplight": {"memory": 256, "architecture": "x86_64", "env": {"B": 2}, "role": "", "retention": 14},
        });
        let s = DeploySettings::from_metadata("orders", &metadata).expect("valid");
        assert_eq!(
            (s.memory, s.timeout, s.arch, s.tracing),
            (256, 10, Arch::X86_64, false)
        );
        assert_eq!(
            s.env,
            BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())])
        );
        assert_eq!(s.role, None, "an empty role means: create one");
        assert_eq!(s.log_retention_days, Some(14));
    }

    #[test]
    fn bad_settings_name_the_key_and_what_is_expected() {
        let err = DeploySettings::from_metadata("f", &json!({"lamplight": {"memory": 64}}))
            .expect_err("too small");
        assert!(
            err.to_string()
                .contains("`memory = 64` of f: expected 128 to 10240 (MB)"),
            "{err}"
        );
        let err = DeploySettings::from_metadata("no spaces", &json!({})).expect_err("bad name");
        assert!(
            err.to_string().contains("not a valid Lambda function name"),
            "{err}"
        );
    }
}
