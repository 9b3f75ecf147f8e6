//! The template's Rust is Rust: each variant is plain source a contributor can read whole and
//! rustfmt can format, so no Liquid control flow (`{% if %}`, `{% case %}`) may creep back into a
//! `.rs` file. Name substitutions such as `{{crate_name}}` are allowed.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_liquid_control_flow_in_template_rust() {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template");
    let mut files = Vec::new();
    rust_files(&template, &mut files);
    assert!(files.len() > 10, "the template's Rust files: {files:?}");
    let offending: Vec<String> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).expect("utf-8").contains("{%"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offending.is_empty(),
        "Liquid control flow in Rust files (give the variant its own file instead): {offending:#?}"
    );
}
