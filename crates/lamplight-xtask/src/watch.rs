//! `cargo xtask watch` (`local --watch`): the local service, and on every save of the
//! workspace's sources a rebuild of its functions, swapped in when it builds. New invocations
//! wait while a rebuild runs and then get the new code; a build that fails leaves the old code
//! answering, with the compiler's errors in this terminal. A changed `--env-file` (or
//! `[package.metadata.lamplight]`) is read again on save too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use lamplight_local::FunctionConfig;
use lamplight_local::serve::Command;
use notify::event::{EventKind, MetadataKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};

use crate::flags;
use crate::service::Control;
use crate::workspace::{Workspace, function_config};

/// Saves closer together than this are one change (an editor writes a file in several steps;
/// "save all" writes several files).
const SETTLE: Duration = Duration::from_millis(60);

/// Copies of built bootstraps, one directory per build: cargo overwrites `target/debug/<fn>`
/// on the next build, which must not change the code a running deployment starts.
pub(crate) struct Snapshots {
    dir: tempfile::TempDir,
    next: u64,
    current: BTreeMap<String, PathBuf>,
}

impl Snapshots {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            dir: tempfile::Builder::new()
                .prefix("lamplight-watch-")
                .tempdir()
                .context("cannot make a directory for the built functions")?,
            next: 0,
            current: BTreeMap::new(),
        })
    }

    /// A copy of `built` that stays as it is; the previous copy of `name` is removed (a running
    /// process keeps its own open file).
    pub(crate) fn take(&mut self, name: &str, built: &Path) -> Result<PathBuf> {
        self.next += 1;
        let dir = self.dir.path().join(format!("{name}-{}", self.next));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let copy = dir.join("bootstrap");
        std::fs::copy(built, &copy)
            .with_context(|| format!("copying {} to {}", built.display(), copy.display()))?;
        if let Some(old) = self.current.insert(name.to_owned(), copy.clone())
            && let Some(old_dir) = old.parent()
        {
            let _ = std::fs::remove_dir_all(old_dir);
        }
        Ok(copy)
    }
}

/// Whether an event is a write: reads (cargo and rustc open the sources and manifests on
/// every build) must not start another build.
fn is_write(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(m)) => {
            matches!(m, MetadataKind::WriteTime | MetadataKind::Any)
        }
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// What a batch of saved paths asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Change {
    /// Sources or manifests changed: build again.
    pub rebuild: bool,
    /// Only the env file changed: register again with the code as it is.
    pub reconfigure: bool,
    /// A manifest or the lockfile changed: read the workspace again (`cargo metadata`), its
    /// functions' settings may have changed.
    pub manifest: bool,
}

/// Sorts saved paths: Rust sources and cargo manifests rebuild, the env file reconfigures;
/// the target directory, hidden directories and everything else are ignored.
pub(crate) fn classify(
    paths: &[PathBuf],
    root: &Path,
    target: &Path,
    env_file: Option<&Path>,
) -> Change {
    let mut change = Change::default();
    // A workspace inside a target directory (template-check's) is watched whole: only its
    // own paths reach here, and none of them is build output.
    let skip_target = !root.starts_with(target);
    for path in paths {
        if env_file.is_some_and(|e| e == path) {
            change.reconfigure = true;
            continue;
        }
        if skip_target && path.starts_with(target) {
            continue;
        }
        let inside = path.strip_prefix(root).unwrap_or(path);
        let hidden = inside.components().any(|c| {
            c.as_os_str()
                .to_str()
                .is_some_and(|s| s.starts_with('.') && s != "." && s != "..")
        });
        if hidden {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let manifest = name == "Cargo.toml" || name == "Cargo.lock";
        let source = manifest || name == "build.rs" || path.extension().is_some_and(|e| e == "rs");
        change.rebuild |= source;
        change.manifest |= manifest;
    }
    if change.rebuild {
        change.reconfigure = false;
    }
    change
}

/// Watches the workspace at `root` until the service stops; `names` are the functions it runs.
pub(crate) async fn run(
    ws: Workspace,
    mut service: Control,
    names: Vec<String>,
    flags: &flags::Local,
    mut snapshots: Snapshots,
) -> Result<()> {
    let (root, target) = (ws.root.clone(), ws.target_dir.clone());
    // Read again only when a manifest changes: most saves are sources.
    let mut ws = Arc::new(ws);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher =
        notify::recommended_watcher(move |result: notify::Result<notify::Event>| match result {
            Ok(event) if is_write(&event.kind) => {
                let _ = tx.send(Ok(event.paths));
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        })
        .context("cannot watch the workspace's files")?;
    watcher
        .watch(&root, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", root.display()))?;
    let env_file = flags
        .settings
        .env_file
        .as_ref()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()));
    if let Some(file) = &env_file
        && !file.starts_with(&root)
    {
        // Outside the workspace: watched on its own.
        watcher
            .watch(file, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", file.display()))?;
    }
    println!(
        "watching {} for changes to {}",
        root.display(),
        names.join(", ")
    );
    // The file that started a rebuild, for the line that says so.
    let source_of = |paths: &[PathBuf]| -> String {
        paths
            .iter()
            .find(|p| classify(std::slice::from_ref(*p), &root, &target, None).rebuild)
            .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
            .unwrap_or_default()
    };
    while let Some(first) = rx.recv().await {
        // One save is several events (an editor writes, renames, sets times; "save all" writes
        // several files): everything that arrives while it settles is one change.
        tokio::time::sleep(SETTLE).await;
        let mut paths = Vec::new();
        let mut next = Some(first);
        while let Some(result) = next {
            match result {
                Ok(p) => paths.extend(p),
                Err(e) => eprintln!("watch: {e}"),
            }
            next = rx.try_recv().ok();
        }
        let change = classify(&paths, &root, &target, env_file.as_deref());
        if !change.rebuild && !change.reconfigure {
            continue;
        }
        let started = Instant::now();
        // New invocations wait for the new code (or, if it does not build, the old).
        service
            .send(&Command::Hold {
                functions: names.clone(),
            })
            .await?;
        let loaded = if change.rebuild {
            let what = source_of(&paths);
            println!("building {} ({what} changed) ...", names.join(", "));
            let current = (!change.manifest).then(|| ws.clone());
            build(&root, current, &names, flags.release).await
        } else {
            Ok((ws.clone(), current_builds(&snapshots)))
        };
        let built = match loaded {
            Ok((loaded, built)) => {
                ws = loaded;
                built
            }
            Err(e) => {
                service.send(&Command::Release).await?;
                let (verb, pronoun) = if names.len() == 1 {
                    ("keeps", "it")
                } else {
                    ("keep", "they")
                };
                eprintln!(
                    "{e:#}\nbuild failed: {} {verb} answering with the code {pronoun} had; save again to retry",
                    names.join(", ")
                );
                continue;
            }
        };
        match configs(&ws, built, flags, &mut snapshots, change.rebuild) {
            Ok(configs) => {
                for function in configs {
                    // The service says `reloaded <fn> in N s` once the new build is in place.
                    let since_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    service
                        .send(&Command::Deploy {
                            function: Box::new(function),
                            since_ms,
                        })
                        .await?;
                }
            }
            Err(e) => eprintln!("{e:#}\nnot reloaded: the old code keeps answering"),
        }
        service.send(&Command::Release).await?;
    }
    Ok(())
}

/// Every function built (cargo's errors go to this terminal) with where its binary is, and the
/// workspace: `current`, or read again when that is `None`.
async fn build(
    root: &Path,
    current: Option<Arc<Workspace>>,
    names: &[String],
    release: bool,
) -> Result<(Arc<Workspace>, Vec<(String, PathBuf)>)> {
    let root = root.to_owned();
    let names = names.to_vec();
    // cargo blocks for seconds: off the runtime's threads, which serve the functions meanwhile.
    tokio::task::spawn_blocking(move || {
        let sh = xshell::Shell::new().context("cannot start a shell")?;
        sh.change_dir(&root);
        let ws = match current {
            Some(ws) => ws,
            None => Arc::new(Workspace::load(&sh)?),
        };
        let built = names
            .iter()
            .map(|name| {
                let package = ws.function(name)?;
                Ok((name.clone(), ws.build_local(&sh, package, release)?))
            })
            .collect::<Result<_>>()?;
        Ok((ws, built))
    })
    .await
    .context("the build task failed")?
}

fn current_builds(snapshots: &Snapshots) -> Vec<(String, PathBuf)> {
    snapshots
        .current
        .iter()
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect()
}

/// Each function's configuration as the workspace and the env file say now.
fn configs(
    ws: &Workspace,
    built: Vec<(String, PathBuf)>,
    flags: &flags::Local,
    snapshots: &mut Snapshots,
    fresh: bool,
) -> Result<Vec<FunctionConfig>> {
    built
        .into_iter()
        .map(|(name, path)| {
            let path = if fresh {
                snapshots.take(&name, &path)?
            } else {
                path
            };
            function_config(&name, path, Some(ws.function(&name)?), &flags.settings)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_paths(paths: &[PathBuf], root: &Path, target: &Path) -> Change {
        classify(paths, root, target, None)
    }

    #[test]
    fn sources_rebuild_the_env_file_reconfigures_the_rest_is_ignored() {
        let root = Path::new("/w");
        let target = Path::new("/w/target");
        let env = Path::new("/w/.env.local");
        let classify = |paths: &[&str]| {
            let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
            classify(&paths, root, target, Some(env))
        };
        let rebuild = Change {
            rebuild: true,
            ..Change::default()
        };
        let manifest = Change {
            rebuild: true,
            manifest: true,
            ..Change::default()
        };
        assert_eq!(classify(&["/w/functions/a/src/worker.rs"]), rebuild);
        assert_eq!(classify(&["/w/functions/a/build.rs"]), rebuild);
        assert_eq!(classify(&["/w/functions/a/Cargo.toml"]), manifest);
        assert_eq!(classify(&["/w/Cargo.lock"]), manifest);
        assert_eq!(
            classify(&["/w/functions/a/src/worker.rs", "/w/Cargo.toml"]),
            manifest
        );
        assert_eq!(
            classify(&["/w/.env.local"]),
            Change {
                reconfigure: true,
                ..Change::default()
            }
        );
        assert_eq!(classify(&["/w/.env.local", "/w/src/lib.rs"]), rebuild);
        // A workspace that lives inside a target directory still sees its own sources.
        let inside = classify_paths(
            &[PathBuf::from("/t/template-check/w/src/lib.rs")],
            Path::new("/t/template-check/w"),
            Path::new("/t"),
        );
        assert_eq!(inside, rebuild);
        for ignored in [
            "/w/target/debug/build/x/out/gen.rs",
            "/w/.git/index",
            "/w/functions/a/.worker.rs.swp",
            "/w/functions/a/src/.#worker.rs",
            "/w/README.md",
            "/w/functions/a/events/order.json",
            "/w/functions/a/tests/snapshots/x.snap",
        ] {
            assert_eq!(classify(&[ignored]), Change::default(), "{ignored}");
        }
    }

    #[test]
    fn a_snapshot_stays_while_cargo_overwrites_the_build_and_the_previous_one_goes() {
        let mut snapshots = Snapshots::new().expect("snapshots");
        let dir = tempfile::tempdir().expect("dir");
        let built = dir.path().join("fn");
        std::fs::write(&built, "one").expect("write");
        let first = snapshots.take("fn", &built).expect("take");
        std::fs::write(&built, "two").expect("overwrite");
        assert_eq!(std::fs::read_to_string(&first).expect("read"), "one");
        let second = snapshots.take("fn", &built).expect("take");
        assert_eq!(std::fs::read_to_string(&second).expect("read"), "two");
        assert!(!first.exists(), "the previous copy is removed");
    }
}
