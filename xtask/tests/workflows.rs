//! The GitHub workflows, the generated project's and this repository's, keep their safety rules:
//! actions pinned by commit SHA, least permissions, and in the generated deploy workflow the tests
//! before AWS credentials, nothing but the deploy after them, one deploy at a time, and the cross
//! build tool at the versions this repository's CI tests.
//!
//! No YAML crate is in the lock file, so a small parser reads the block-style subset the workflows
//! are written in (mappings, sequences, `|` scalars); it panics on what it does not understand
//! rather than guessing.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Scalar(String),
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries) => entries,
            other => panic!("expected a mapping, found {other:?}"),
        }
    }

    fn items(&self) -> &[Node] {
        match self {
            Node::Seq(items) => items,
            other => panic!("expected a sequence, found {other:?}"),
        }
    }
}

/// (indentation, text) of the lines that carry content.
fn lines(source: &str) -> Vec<(usize, String)> {
    source
        .replace("{% raw %}", "")
        .replace("{% endraw %}", "")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| (l.len() - l.trim_start().len(), l.trim().to_owned()))
        .collect()
}

/// A value without its trailing comment.
fn scalar(value: &str) -> String {
    value.split(" #").next().unwrap_or(value).trim().to_owned()
}

fn parse(lines: &mut [(usize, String)], i: &mut usize, indent: usize) -> Node {
    if lines[*i].1.starts_with('-') {
        let mut items = Vec::new();
        while *i < lines.len() && lines[*i].0 == indent && lines[*i].1.starts_with('-') {
            let rest = lines[*i].1[1..].trim_start().to_owned();
            let item_indent = indent + lines[*i].1.len() - rest.len();
            if rest.is_empty() {
                *i += 1;
                let child = lines[*i].0;
                items.push(parse(lines, i, child));
            } else if rest.contains(": ") || rest.ends_with(':') {
                // `- key: value` opens a mapping whose keys line up with `key`.
                lines[*i] = (item_indent, rest);
                items.push(parse(lines, i, item_indent));
            } else {
                items.push(Node::Scalar(scalar(&rest)));
                *i += 1;
            }
        }
        return Node::Seq(items);
    }
    let mut entries = Vec::new();
    while *i < lines.len() && lines[*i].0 == indent && !lines[*i].1.starts_with('-') {
        let text = lines[*i].1.clone();
        let (key, value) = text
            .split_once(": ")
            .or_else(|| text.strip_suffix(':').map(|k| (k, "")))
            .unwrap_or_else(|| panic!("not `key: value`: {text}"));
        *i += 1;
        let value = scalar(value);
        let node = if value.is_empty() {
            match lines.get(*i) {
                Some(&(next, _)) if next > indent => parse(lines, i, next),
                // A sequence may sit at its key's indentation.
                Some((next, t)) if *next == indent && t.starts_with('-') => parse(lines, i, indent),
                _ => Node::Scalar(String::new()),
            }
        } else if value == "|" || value == ">" {
            let mut block = Vec::new();
            while *i < lines.len() && lines[*i].0 > indent {
                block.push(lines[*i].1.clone());
                *i += 1;
            }
            Node::Scalar(block.join("\n"))
        } else {
            Node::Scalar(value)
        };
        entries.push((key.trim_matches('"').to_owned(), node));
    }
    if let Some((next, text)) = lines.get(*i)
        && *next > indent
    {
        panic!("unexpected indentation at `{text}`");
    }
    Node::Map(entries)
}

fn workflow(path: &Path) -> (String, Node) {
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = lines(&source);
    let mut i = 0;
    let node = parse(&mut lines, &mut i, 0);
    assert_eq!(i, lines.len(), "{path:?}: parsed only {i} lines");
    (source, node)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn workflows() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["template/.github/workflows", ".github/workflows"] {
        for entry in std::fs::read_dir(root().join(dir)).expect("workflow directory") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn jobs(workflow: &Node) -> &[(String, Node)] {
    workflow.get("jobs").expect("jobs").entries()
}

fn steps(job: &Node) -> &[Node] {
    job.get("steps").map_or(&[], Node::items)
}

fn runs(step: &Node, text: &str) -> bool {
    step.str("run").is_some_and(|r| r.contains(text))
}

const CREDENTIALS: &str = "aws-actions/configure-aws-credentials@";

/// `name: level` pairs of a `permissions:` block, which must be a mapping (never `write-all`).
fn permissions<'a>(node: &'a Node, context: &str) -> Vec<(&'a str, &'a str)> {
    match node {
        Node::Map(entries) => entries
            .iter()
            .map(|(k, v)| match v {
                Node::Scalar(level) => (k.as_str(), level.as_str()),
                other => panic!("{context}: permission {k} is {other:?}"),
            })
            .collect(),
        other => panic!("{context}: permissions must list each scope, found {other:?}"),
    }
}

#[test]
fn workflows_are_pinned_least_privileged_and_test_before_deploying() {
    let files = workflows();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
        .collect();
    for expected in [
        "template/.github/workflows/ci.yml",
        "template/.github/workflows/deploy.yml",
        ".github/workflows/ci.yml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }

    for (path, name) in files.iter().zip(&names) {
        let (source, workflow) = workflow(path);

        // Every action at a full commit SHA, with the release it is in a comment for updates.
        let mut actions = 0;
        for line in source.lines().filter(|l| l.contains("uses:")) {
            let value = line.split("uses:").nth(1).unwrap_or_default();
            let (action, comment) = value.split_once(" # ").unwrap_or((value, ""));
            let sha = action.trim().rsplit_once('@').map_or("", |(_, r)| r);
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}: `{}` is not pinned to a commit SHA",
                line.trim()
            );
            assert!(
                comment.trim().starts_with('v'),
                "{name}: `{}` needs its release in a comment (`# vX.Y.Z`)",
                line.trim()
            );
            actions += 1;
        }
        let in_steps: usize = jobs(&workflow)
            .iter()
            .map(|(_, job)| {
                steps(job)
                    .iter()
                    .filter(|s| s.get("uses").is_some())
                    .count()
            })
            .sum();
        assert_eq!(actions, in_steps, "{name}: every `uses:` line is a step's");

        // Read-only at the top; a write only where the credentials are taken, and only the token.
        let top = workflow
            .get("permissions")
            .unwrap_or_else(|| panic!("{name}: no top-level permissions"));
        let top = permissions(top, name);
        assert!(top.contains(&("contents", "read")), "{name}: {top:?}");
        assert!(
            top.iter().all(|(_, level)| *level != "write"),
            "{name}: top-level permissions must be read-only: {top:?}"
        );
        for (job_name, job) in jobs(&workflow) {
            let takes_credentials = steps(job)
                .iter()
                .any(|s| s.str("uses").is_some_and(|u| u.starts_with(CREDENTIALS)));
            let Some(perms) = job.get("permissions") else {
                assert!(
                    !takes_credentials,
                    "{name}: job {job_name} takes AWS credentials without `id-token: write`"
                );
                continue;
            };
            for (scope, level) in permissions(perms, name) {
                assert!(
                    level != "write" || (scope == "id-token" && takes_credentials),
                    "{name}: job {job_name} has `{scope}: {level}`"
                );
            }
        }
    }

    let deploy_path = root().join("template/.github/workflows/deploy.yml");
    let (_, deploy) = workflow(&deploy_path);

    let concurrency = deploy.get("concurrency").expect("deploy.yml: concurrency");
    assert_eq!(
        concurrency.str("group"),
        Some("deploy-${{ github.ref }}"),
        "deploy.yml: one deploy at a time per branch"
    );
    assert_eq!(
        concurrency.str("cancel-in-progress"),
        Some("false"),
        "deploy.yml: a deploy is never cancelled half-way"
    );

    let jobs = jobs(&deploy);
    let with_credentials: Vec<&(String, Node)> = jobs
        .iter()
        .filter(|(_, job)| {
            steps(job)
                .iter()
                .any(|s| s.str("uses").is_some_and(|u| u.starts_with(CREDENTIALS)))
        })
        .collect();
    let [(deploy_name, deploy_job)] = with_credentials.as_slice() else {
        panic!("deploy.yml: one job takes AWS credentials, found {with_credentials:?}");
    };
    let perms = permissions(
        deploy_job.get("permissions").expect("permissions"),
        "deploy",
    );
    assert!(perms.contains(&("id-token", "write")), "{perms:?}");
    let deploy_steps = steps(deploy_job);
    let at = deploy_steps
        .iter()
        .position(|s| s.str("uses").is_some_and(|u| u.starts_with(CREDENTIALS)))
        .expect("the credentials step");

    // After the credentials, only the deploy: nothing else runs with them.
    let after = &deploy_steps[at + 1..];
    assert!(!after.is_empty(), "deploy.yml: no deploy step");
    for step in after {
        assert!(
            runs(step, "cargo xtask deploy") && step.get("uses").is_none(),
            "deploy.yml: only the deploy runs with AWS credentials, found {step:?}"
        );
    }

    // The tests before: earlier in the same job, or in a job it needs.
    let needs: Vec<String> = match deploy_job.get("needs") {
        Some(Node::Scalar(one)) => vec![one.clone()],
        Some(Node::Seq(many)) => many
            .iter()
            .map(|n| match n {
                Node::Scalar(s) => s.clone(),
                other => panic!("needs: {other:?}"),
            })
            .collect(),
        _ => Vec::new(),
    };
    let tested_before = deploy_steps[..at].iter().any(|s| runs(s, "cargo test"))
        || jobs.iter().any(|(name, job)| {
            needs.contains(name) && steps(job).iter().any(|s| runs(s, "cargo test"))
        });
    assert!(
        tested_before,
        "deploy.yml: job {deploy_name} deploys without running `cargo test` first"
    );

    // The cross build: the arm64 standard library and cargo-zigbuild, at the versions CI tests.
    let before = &deploy_steps[..at];
    assert!(
        before
            .iter()
            .any(|s| runs(s, "rustup") && runs(s, "aarch64-unknown-linux-gnu")),
        "deploy.yml: arm64 (the default) needs `aarch64-unknown-linux-gnu` installed"
    );
    let ci_run = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    for tool in ["cargo-zigbuild==", "ziglang=="] {
        let pin = ci_run
            .split(['\'', ' ', '\n'])
            .find(|w| w.starts_with(tool))
            .unwrap_or_else(|| panic!(".ci/run installs no {tool}"));
        assert!(
            before
                .iter()
                .any(|s| runs(s, "pip install") && runs(s, pin)),
            "deploy.yml: the deploy job installs {pin}, the version .ci/run tests"
        );
    }
}

#[test]
fn parser_reads_the_subset_workflows_use() {
    let source =
        "a:\n  b: c # note\n  d:\n  - e: f\n    g: |\n      x\n      y\n  - h\nk: [main]\n";
    let mut lines = lines(source);
    let mut i = 0;
    let node = parse(&mut lines, &mut i, 0);
    let a = node.get("a").expect("a");
    assert_eq!(a.str("b"), Some("c"));
    let d = a.get("d").expect("d").items();
    assert_eq!(d[0].str("e"), Some("f"));
    assert_eq!(d[0].str("g"), Some("x\ny"));
    assert_eq!(d[1], Node::Scalar("h".into()));
    assert_eq!(node.str("k"), Some("[main]"));
}
