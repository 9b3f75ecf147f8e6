//! Properties over random input: role names for any Lambda function name, trust policies that
//! never panic the parser, and packages of random trees (modes, depths, symbolic links) that
//! are deterministic and never reach outside the tree. `PROPTEST_CASES` sets the number of cases.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use lamplight_deploy::DeployError;
use lamplight_deploy::deploy::{decode_trust_policy, role_name, trusts_lambda};
use lamplight_deploy::package::{PackageOptions, package_with};
use proptest::prelude::*;

/// `PROPTEST_CASES` when set, else `cases`: file system cases cost more than string ones.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.failure_persistence = None;
    config
}

fn iam_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn every_function_name_gives_a_stable_valid_role_name(name in "[A-Za-z0-9_-]{1,64}") {
        let role = role_name(&name);
        prop_assert!(iam_role_name(&role), "{role}");
        prop_assert_eq!(&role, &role_name(&name));
        if name.len() <= 54 {
            prop_assert_eq!(role, format!("{name}-lamplight"));
        }
    }

    #[test]
    fn distinct_long_names_with_a_shared_prefix_get_distinct_roles(
        prefix in "[A-Za-z0-9_-]{45,50}",
        tails in prop::collection::hash_set("[A-Za-z0-9_-]{5,14}", 2..40),
    ) {
        let names: Vec<String> = tails.iter().map(|t| format!("{prefix}{t}")).filter(|n| n.len() <= 64).collect();
        let roles: HashSet<String> = names.iter().map(|n| role_name(n)).collect();
        prop_assert_eq!(roles.len(), names.len());
    }

    #[test]
    fn trust_policy_parsing_never_panics(text in ".{0,200}", json in arbitrary_json()) {
        let _ = trusts_lambda(&text);
        let _ = decode_trust_policy(&text);
        let document = json.to_string();
        let encoded: String = document.bytes().map(|b| format!("%{b:02x}")).collect();
        // URL-encoded or not, a document is judged the same.
        prop_assert_eq!(trusts_lambda(&document), trusts_lambda(&encoded));
        prop_assert_eq!(decode_trust_policy(&encoded), document);
    }
}

/// JSON shaped loosely like a policy, so the interesting paths are reached.
fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i32>().prop_map(|n| serde_json::json!(n)),
        prop::sample::select(vec![
            "Allow",
            "Deny",
            "sts:AssumeRole",
            "*",
            "lambda.amazonaws.com",
            "ec2.amazonaws.com",
        ])
        .prop_map(|s| serde_json::json!(s)),
        "[a-z%]{0,6}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "Statement",
                        "Effect",
                        "Principal",
                        "Service",
                        "Action",
                        "Version",
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|fields| {
                serde_json::Value::Object(
                    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                )
            }),
        ]
    })
}

/// One thing in a random tree.
#[derive(Debug, Clone)]
enum Node {
    File {
        contents: Vec<u8>,
        mode: u32,
    },
    Dir,
    /// A link to one of these, relative to the link's directory.
    Link(String),
}

fn node() -> impl Strategy<Value = Node> {
    prop_oneof![
        4 => (
            prop::collection::vec(any::<u8>(), 0..64),
            prop::sample::select(vec![0o644u32, 0o600, 0o640, 0o755, 0o700, 0o744, 0o711, 0o444]),
        )
            .prop_map(|(contents, mode)| Node::File { contents, mode }),
        2 => Just(Node::Dir),
        1 => prop::sample::select(vec![
            "a", "b/c", "..", "../a", "../..", "../../..", "/etc/hostname", "missing", ".", ".env",
            "b", "./b/../a",
        ])
        .prop_map(|t| Node::Link(t.to_owned())),
    ]
}

fn tree() -> impl Strategy<Value = Vec<(Vec<String>, Node)>> {
    let name = prop::sample::select(vec![
        "a",
        "b",
        "c",
        ".env",
        ".git",
        "bin",
        "x.txt",
        "Z-9_",
        "deep",
        "bootstrap",
    ]);
    prop::collection::vec(
        (
            prop::collection::vec(name.prop_map(str::to_owned), 1..5),
            node(),
        ),
        0..24,
    )
}

#[cfg(unix)]
fn build(root: &Path, tree: &[(Vec<String>, Node)]) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut files = Vec::new();
    for (parts, node) in tree {
        let path: PathBuf = parts.iter().fold(root.to_owned(), |p, part| p.join(part));
        // Clashes (a file where a directory is wanted) are skipped: the tree is whatever
        // could be made.
        let Some(parent) = path.parent() else {
            continue;
        };
        if std::fs::create_dir_all(parent).is_err() || path.symlink_metadata().is_ok() {
            continue;
        }
        let made = match node {
            Node::File { contents, mode } => std::fs::write(&path, contents).and_then(|()| {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))
            }),
            Node::Dir => std::fs::create_dir(&path),
            Node::Link(target) => std::os::unix::fs::symlink(target, &path),
        };
        // Its name in the zip: a parent may be a link to another directory.
        if let (Ok(()), Node::File { mode, .. }) = (made, node)
            && let (Ok(real), Ok(root)) =
                (std::fs::canonicalize(&path), std::fs::canonicalize(root))
            && let Ok(relative) = real.strip_prefix(root)
        {
            let name: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push((name.join("/"), *mode));
        }
    }
    files
}

/// Where a link stored at `name` with `target` leads, lexically; `None` when it climbs out.
fn resolve_inside(name: &str, target: &str) -> Option<Vec<String>> {
    if target.starts_with('/') {
        return None;
    }
    let mut at: Vec<String> = name.split('/').map(str::to_owned).collect();
    at.pop();
    for part in Path::new(target).components() {
        match part {
            Component::ParentDir => {
                at.pop()?;
            }
            Component::Normal(p) => at.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(at)
}

#[cfg(unix)]
proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn random_trees_package_deterministically_within_the_tree(tree in tree(), hidden in any::<bool>()) {
        let dir = tempfile::tempdir().expect("dir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, b"\x7fELF").expect("bootstrap");
        let root = dir.path().join("tree");
        std::fs::create_dir(&root).expect("root");
        let files = build(&root, &tree);
        let options = PackageOptions { hidden };
        let first = package_with(&bootstrap, std::slice::from_ref(&root), options);
        let second = package_with(&bootstrap, std::slice::from_ref(&root), options);
        let zip = match (first, second) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(&a.bytes, &b.bytes);
                a
            }
            // Refusals are allowed only for links that leave the tree, dangle, loop or lead
            // to what is left out; and for a name clash with `bootstrap` itself.
            (Err(DeployError::UnsafeSymlink { link, .. }), Err(_)) => {
                prop_assert!(std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()), "{link}");
                return Ok(());
            }
            (Err(DeployError::Build(message)), Err(_)) => {
                prop_assert!(message.contains("`bootstrap`"), "{message}");
                return Ok(());
            }
            (a, b) => {
                return Err(TestCaseError::fail(format!(
                    "unexpected: {:?} / {:?}",
                    a.err(),
                    b.err()
                )));
            }
        };
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.bytes.clone())).expect("valid zip");
        let mut names = HashSet::new();
        let mut links = Vec::new();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).expect("entry");
            let name = entry.name().to_owned();
            prop_assert!(!name.starts_with('/') && !name.split('/').any(|p| p == ".." || p.is_empty()), "{name}");
            if !hidden && name != "bootstrap" {
                prop_assert!(!name.split('/').any(|p| p.starts_with('.')), "hidden {name} shipped");
            }
            let mode = entry.unix_mode().expect("a unix mode");
            if mode & 0o170000 == 0o120000 {
                let mut target = String::new();
                std::io::Read::read_to_string(&mut entry, &mut target).expect("target");
                links.push((name.clone(), target));
            } else {
                let expected = files.iter().find(|(f, _)| *f == name).map(|(_, m)| {
                    if m & 0o111 != 0 { 0o100755 } else { 0o100644 }
                });
                if name == "bootstrap" {
                    prop_assert_eq!(mode, 0o100755);
                } else {
                    prop_assert_eq!(Some(mode), expected, "{}", name);
                }
            }
            names.insert(name);
        }
        for (name, target) in links {
            let lands = resolve_inside(&name, &target);
            prop_assert!(lands.as_ref().is_some_and(|l| !l.is_empty()), "{name} -> {target} leaves the tree");
            let lands = lands.unwrap_or_default().join("/");
            // Directories are not zip entries: the target is checked on disk, inside the tree.
            prop_assert!(
                names.contains(&lands) || root.join(&lands).is_dir(),
                "{name} -> {target} ({lands}) is neither in the zip nor a directory of the tree"
            );
        }
    }
}
