//! Where an invocation's payload comes from: inline JSON, a file, or a sample event.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Resolves `spec`: `@path` or an existing file path is read; text that parses as JSON is used
/// as is; otherwise it names a sample event, `events/<spec>.json` of the function's package.
pub(crate) fn resolve(spec: Option<&str>, package_dir: Option<&Path>) -> Result<Vec<u8>> {
    let Some(spec) = spec else {
        return Ok(b"{}".to_vec());
    };
    if let Some(path) = spec.strip_prefix('@') {
        return std::fs::read(path).with_context(|| format!("cannot read the payload file {path}"));
    }
    if serde_json::from_str::<serde_json::Value>(spec).is_ok() {
        return Ok(spec.as_bytes().to_vec());
    }
    if Path::new(spec).is_file() {
        return std::fs::read(spec).with_context(|| format!("cannot read the payload file {spec}"));
    }
    if let Some(dir) = package_dir {
        let event = dir.join("events").join(format!("{spec}.json"));
        if event.is_file() {
            return std::fs::read(&event)
                .with_context(|| format!("cannot read {}", event.display()));
        }
        let known = lamplight_test::event_names_in(&dir.join("events"));
        if !known.is_empty() {
            bail!(
                "`{spec}` is not JSON, a file, or a sample event; sample events: {}",
                known.join(", ")
            );
        }
    }
    bail!("`{spec}` is not JSON, a file (`@path`), or a sample event (events/<name>.json)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_json_files_and_sample_events_resolve() {
        let dir = std::env::temp_dir().join(format!("lamplight-payload-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("events")).expect("dir");
        std::fs::write(dir.join("events/ada.json"), br#"{"name":"Ada"}"#).expect("write");
        assert_eq!(resolve(None, None).expect("default"), b"{}");
        assert_eq!(
            resolve(Some(r#"{"a":1}"#), None).expect("json"),
            br#"{"a":1}"#
        );
        let file = dir.join("events/ada.json");
        assert_eq!(
            resolve(Some(&format!("@{}", file.display())), None).expect("file"),
            br#"{"name":"Ada"}"#
        );
        assert_eq!(
            resolve(Some("ada"), Some(&dir)).expect("event"),
            br#"{"name":"Ada"}"#
        );
        let err = resolve(Some("bob"), Some(&dir))
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("sample events: ada"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }
}
