//! Every template variant rendered with the cargo-generate engine, its file list and key files
//! snapshotted: a change to the template shows up as a reviewable diff here, and a sample event
//! or snapshot leaking into another event source's project fails.
//!
//! One test in its own binary: it may set `CARGO_NAME` before any other thread exists.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};

use lamplight_xtask::{render, template_dir};
use xtask::variants;

fn files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .expect("inside")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn every_variant_renders_its_own_files() {
    if std::env::var_os("CARGO_NAME").is_none() && std::env::var_os("USER").is_none() {
        // SAFETY: the only test of this binary, before it starts any thread.
        unsafe { std::env::set_var("CARGO_NAME", "lamplight") };
    }
    let template = template_dir(None).expect("the checkout's template");
    let out = std::env::temp_dir().join(format!("lamplight-template-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    for (name, choices) in variants(Path::new("/checkout/lamplight")) {
        let dir: PathBuf = render(&template, &name, &out, &choices).expect("renders");
        let listing = files(&dir);
        let events: Vec<&String> = listing.iter().filter(|f| f.contains("/events/")).collect();
        let snapshots: Vec<&String> = listing.iter().filter(|f| f.ends_with(".snap")).collect();
        assert!(!events.is_empty(), "{name}: no sample events");
        assert_eq!(
            events.len(),
            snapshots.len(),
            "{name}: one snapshot per sample event: {listing:#?}"
        );
        let read = |p: &str| {
            std::fs::read_to_string(dir.join(p)).unwrap_or_else(|e| panic!("{name}: {p}: {e}"))
        };
        let function = format!("functions/{name}");
        let text = format!(
            "{}\n\n--- {function}/Cargo.toml\n{}\n--- {function}/src/main.rs\n{}\n--- {function}/src/handler.rs\n{}",
            listing.join("\n"),
            read(&format!("{function}/Cargo.toml")),
            read(&format!("{function}/src/main.rs")),
            read(&format!("{function}/src/handler.rs")),
        );
        insta::assert_snapshot!(name.as_str(), text);

        // The trigger the template writes is one deploy reads: created for the kinds it
        // supports, refused by name for the others, none for custom events.
        let manifest: toml::Value =
            toml::from_str(&read(&format!("{function}/Cargo.toml"))).expect("Cargo.toml");
        let metadata = serde_json::to_value(&manifest["package"]["metadata"]).expect("json");
        let settings = lamplight_deploy::settings::DeploySettings::from_metadata(&name, &metadata)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind = settings.trigger.as_ref().map(|t| t.kind());
        let expected = match choices.event_source.as_str() {
            source @ ("sqs" | "http-api" | "function-url" | "rest-api" | "alb" | "dynamodb"
            | "sns" | "s3" | "eventbridge") => Some(source),
            _ => None,
        };
        assert_eq!(kind, expected, "{name}: the trigger written for its source");
        // The custom variant that reads S3 lets its role read the bucket it names.
        let reads: Vec<&str> = if name.ends_with("custom-s3") {
            vec!["my-greetings"]
        } else {
            Vec::new()
        };
        assert_eq!(settings.s3_read, reads, "{name}: s3_read");
    }
    let _ = std::fs::remove_dir_all(&out);
}
