//! The deployment package: a zip whose bytes depend only on its contents (fixed timestamps and
//! order, `bootstrap` mode 0755, included files 0755 or 0644 by their execute bit), so the same
//! code always has the same SHA-256 and an unchanged function is never uploaded again. Included
//! directories are walked without following links (links inside them are stored as links),
//! without hidden files unless asked, and the result is held to Lambda's size limits.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::error::DeployError;

pub use lamplight_limits::{MAX_DIRECT_UPLOAD, MAX_UNZIPPED};

/// A built package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The zip.
    pub bytes: Vec<u8>,
    /// SHA-256 in base64, as Lambda reports `CodeSha256`.
    pub sha256_base64: String,
    /// SHA-256 in hex.
    pub sha256_hex: String,
    /// Hidden files and directories under included directories that were left out (`dir/.env`,
    /// `dir/.git/`), for the caller to mention; see [`PackageOptions::hidden`].
    pub skipped: Vec<String>,
}

impl Package {
    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}

/// How [`package_with`] treats included directories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackageOptions {
    /// Also ship dot-files and dot-directories found under included directories. Off by
    /// default: `.env`, `.git` and editor files hold secrets and noise, not function code. A
    /// hidden file named directly as an include is always shipped.
    pub hidden: bool,
}

/// What one zip entry holds.
#[derive(Debug)]
enum Content {
    /// A file read from this path, with this mode.
    File(PathBuf, u32),
    /// A symbolic link to this relative target.
    Symlink(String),
}

/// Zips `bootstrap` (as `bootstrap`) and every `include` (by file name, or every file under a
/// directory, by its relative path), leaving out hidden files under directories.
pub fn package(bootstrap: &Path, includes: &[PathBuf]) -> Result<Package, DeployError> {
    package_with(bootstrap, includes, PackageOptions::default())
}

/// [`package`] with options. Included files keep their execute bit (0755, else 0644); symbolic
/// links under an included directory are stored as links, never followed, and only when they
/// point inside that directory; a package over Lambda's limits is refused.
pub fn package_with(
    bootstrap: &Path,
    includes: &[PathBuf],
    options: PackageOptions,
) -> Result<Package, DeployError> {
    let mut entries: Vec<(String, Content)> = vec![(
        "bootstrap".into(),
        Content::File(bootstrap.to_owned(), 0o755),
    )];
    let mut skipped = Vec::new();
    for include in includes {
        if include.is_dir() {
            let root = std::fs::canonicalize(include).map_err(|e| io(include, e))?;
            let mut walk = Walk {
                root: &root,
                shown_root: include,
                hidden: options.hidden,
                entries: &mut entries,
                skipped: &mut skipped,
            };
            walk.dir(include, "")?;
        } else {
            let name = include
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| io(include, std::io::Error::other("no file name")))?;
            let meta = std::fs::metadata(include).map_err(|e| io(include, e))?;
            entries.push((
                name.to_owned(),
                Content::File(include.clone(), mode_of(&meta)),
            ));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(DeployError::Build(format!(
            "two files would be `{}` in the package: {} and {}",
            pair[0].0,
            pair[0].1.describe(),
            pair[1].1.describe()
        )));
    }
    // Refuse before reading and compressing hundreds of megabytes.
    let mut unzipped: u64 = 0;
    for (_, content) in &entries {
        unzipped += match content {
            Content::File(path, _) => std::fs::metadata(path).map_err(|e| io(path, e))?.len(),
            Content::Symlink(target) => target.len() as u64,
        };
    }
    if unzipped > MAX_UNZIPPED {
        return Err(DeployError::PackageUnzippedTooLarge { size: unzipped });
    }
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in &entries {
        let zipping = |e: zip::result::ZipError| DeployError::Build(format!("zipping {name}: {e}"));
        match content {
            Content::File(path, mode) => {
                let data = std::fs::read(path).map_err(|e| io(path, e))?;
                let options = SimpleFileOptions::default()
                    .compression_method(CompressionMethod::Deflated)
                    .compression_level(Some(6))
                    .last_modified_time(DateTime::default())
                    .unix_permissions(*mode);
                zip.start_file(name, options)
                    .and_then(|()| zip.write_all(&data).map_err(Into::into))
                    .map_err(zipping)?;
            }
            Content::Symlink(target) => {
                let options = SimpleFileOptions::default()
                    .last_modified_time(DateTime::default())
                    .unix_permissions(0o777);
                zip.add_symlink(name, target, options).map_err(zipping)?;
            }
        }
    }
    let bytes = zip
        .finish()
        .map_err(|e| DeployError::Build(format!("finishing the zip: {e}")))?
        .into_inner();
    if bytes.len() > MAX_DIRECT_UPLOAD {
        return Err(DeployError::PackageTooLarge { size: bytes.len() });
    }
    if !skipped.is_empty() {
        tracing::info!(
            skipped = %skipped.join(", "),
            "hidden files left out of the package"
        );
    }
    let digest = Sha256::digest(&bytes);
    Ok(Package {
        sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
        sha256_hex: digest.iter().map(|b| format!("{b:02x}")).collect(),
        bytes,
        skipped,
    })
}

impl Content {
    fn describe(&self) -> String {
        match self {
            Self::File(path, _) => path.display().to_string(),
            Self::Symlink(target) => format!("a link to {target}"),
        }
    }
}

fn io(path: &Path, error: std::io::Error) -> DeployError {
    DeployError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// 0755 for a file anyone may execute, else 0644: the zip must not depend on umask or owner.
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o111 != 0 {
            return 0o755;
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    0o644
}

/// One included directory being walked.
struct Walk<'a> {
    /// The directory, canonical: what links must stay inside.
    root: &'a Path,
    /// The directory as given, for messages.
    shown_root: &'a Path,
    hidden: bool,
    entries: &'a mut Vec<(String, Content)>,
    skipped: &'a mut Vec<String>,
}

impl Walk<'_> {
    /// Adds everything under `dir`, whose name in the zip is `prefix` (`""` or `a/b/`).
    fn dir(&mut self, dir: &Path, prefix: &str) -> Result<(), DeployError> {
        let mut children = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let entry = entry.map_err(|e| io(dir, e))?;
            children.push(entry.path());
        }
        children.sort();
        for path in children {
            let Some(file_name) = path.file_name() else {
                continue;
            };
            let file_name = file_name.to_string_lossy();
            let name = format!("{prefix}{file_name}");
            // Not `metadata`: a link must be seen as a link, or a loop recurses forever.
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
            let kind = meta.file_type();
            if file_name.starts_with('.') && !self.hidden {
                let shown = self.shown_root.join(&name).display().to_string();
                self.skipped.push(if kind.is_dir() {
                    format!("{shown}/")
                } else {
                    shown
                });
                continue;
            }
            if kind.is_symlink() {
                let target = self.link_target(&path, prefix)?;
                self.entries.push((name, Content::Symlink(target)));
            } else if kind.is_dir() {
                self.dir(&path, &format!("{name}/"))?;
            } else if kind.is_file() {
                self.entries
                    .push((name, Content::File(path.clone(), mode_of(&meta))));
            }
            // Sockets, fifos and devices are no function code: left out.
        }
        Ok(())
    }

    /// The target of the link at `path` (in zip directory `prefix`), relative to that
    /// directory, when it resolves inside the root; an error naming the link otherwise.
    fn link_target(&self, path: &Path, prefix: &str) -> Result<String, DeployError> {
        let literal = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        let refuse = |why: String| DeployError::UnsafeSymlink {
            link: path.display().to_string(),
            target: literal.clone(),
            why,
        };
        let resolved = std::fs::canonicalize(path)
            .map_err(|e| refuse(format!("not resolvable ({e}): missing or a loop")))?;
        let inside = resolved
            .strip_prefix(self.root)
            .map_err(|_| {
                refuse(format!(
                    "outside {} (it resolves to {})",
                    self.shown_root.display(),
                    resolved.display()
                ))
            })?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        if !self.hidden && inside.iter().any(|part| part.starts_with('.')) {
            return Err(refuse(
                "a hidden file, left out of the package: include hidden files too, or link to a visible one".to_owned(),
            ));
        }
        if inside.is_empty() {
            return Err(refuse(format!(
                "the included directory {} itself",
                self.shown_root.display()
            )));
        }
        // From the link's own directory up to the root, then down to the target: the link keeps
        // working wherever the zip is unpacked (/var/task).
        let depth = prefix.matches('/').count();
        let mut parts: Vec<String> = vec!["..".to_owned(); depth];
        parts.extend(inside);
        Ok(parts.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_files_always_zip_to_the_same_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, vec![1u8; 10_000]).expect("write");
        let assets = dir.path().join("assets");
        std::fs::create_dir_all(assets.join("nested")).expect("dir");
        std::fs::write(assets.join("b.txt"), "b").expect("write");
        std::fs::write(assets.join("nested/a.txt"), "a").expect("write");
        let first = package(&bootstrap, std::slice::from_ref(&assets)).expect("zip");
        // Touch the files: timestamps must not matter.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(assets.join("b.txt"), "b").expect("write");
        let second = package(&bootstrap, &[assets]).expect("zip");
        assert_eq!(first.sha256_hex, second.sha256_hex);
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(first.bytes)).expect("valid zip");
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).expect("entry").name().to_owned())
            .collect();
        assert_eq!(names, ["b.txt", "bootstrap", "nested/a.txt"]);
        assert_eq!(
            archive.by_name("bootstrap").expect("bootstrap").unix_mode(),
            Some(0o100755)
        );
    }

    fn entries(package: &Package) -> Vec<(String, Option<u32>, String)> {
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(package.bytes.clone())).expect("valid zip");
        (0..archive.len())
            .map(|i| {
                let mut entry = archive.by_index(i).expect("entry");
                let mut contents = String::new();
                std::io::Read::read_to_string(&mut entry, &mut contents).expect("read");
                (entry.name().to_owned(), entry.unix_mode(), contents)
            })
            .collect()
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[cfg(unix)]
    #[test]
    fn included_executables_keep_their_execute_bit() {
        let dir = tempfile::tempdir().expect("dir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, "b").expect("write");
        let assets = dir.path().join("assets");
        std::fs::create_dir_all(assets.join("bin")).expect("dir");
        std::fs::write(assets.join("bin/tool"), "#!/bin/sh").expect("write");
        chmod(&assets.join("bin/tool"), 0o700);
        std::fs::write(assets.join("data.txt"), "d").expect("write");
        chmod(&assets.join("data.txt"), 0o600);
        let single = dir.path().join("helper");
        std::fs::write(&single, "#!/bin/sh").expect("write");
        chmod(&single, 0o775);
        let zip = package(&bootstrap, &[assets, single]).expect("zip");
        let modes: Vec<(String, Option<u32>)> =
            entries(&zip).into_iter().map(|(n, m, _)| (n, m)).collect();
        assert_eq!(
            modes,
            [
                ("bin/tool".to_owned(), Some(0o100755)),
                ("bootstrap".to_owned(), Some(0o100755)),
                ("data.txt".to_owned(), Some(0o100644)),
                ("helper".to_owned(), Some(0o100755)),
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_are_stored_as_links_and_loops_or_escapes_are_refused() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().expect("dir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, "b").expect("write");
        let assets = dir.path().join("assets");
        std::fs::create_dir_all(assets.join("nested/deeper")).expect("dir");
        std::fs::write(assets.join("nested/a.txt"), "a").expect("write");
        // A link to a directory inside: kept as a link, not followed (a loop would never end).
        symlink("..", assets.join("nested/deeper/up")).expect("link");
        symlink(assets.join("nested/a.txt"), assets.join("abs-link")).expect("link");
        let zip = package(&bootstrap, std::slice::from_ref(&assets)).expect("zip");
        let links: Vec<(String, Option<u32>, String)> = entries(&zip)
            .into_iter()
            .filter(|(_, mode, _)| mode.is_some_and(|m| m & 0o170000 == 0o120000))
            .collect();
        assert_eq!(
            links,
            [
                (
                    "abs-link".to_owned(),
                    Some(0o120777),
                    "nested/a.txt".to_owned()
                ),
                (
                    "nested/deeper/up".to_owned(),
                    Some(0o120777),
                    "../../nested".to_owned()
                ),
            ]
        );

        // A link back to the included directory itself makes a loop: refused, named.
        symlink("../..", assets.join("nested/deeper/root")).expect("link");
        let err = package(&bootstrap, std::slice::from_ref(&assets))
            .expect_err("loop")
            .to_string();
        assert!(
            err.contains("nested/deeper/root is a symbolic link to ../..")
                && err.contains("itself"),
            "{err}"
        );
        std::fs::remove_file(assets.join("nested/deeper/root")).expect("rm");

        // A link out of the tree: refused, named.
        std::fs::write(dir.path().join("secret"), "s").expect("write");
        symlink("../secret", assets.join("out")).expect("link");
        let err = package(&bootstrap, std::slice::from_ref(&assets))
            .expect_err("escape")
            .to_string();
        assert!(
            err.contains("assets/out is a symbolic link to ../secret") && err.contains("outside"),
            "{err}"
        );
        std::fs::remove_file(assets.join("out")).expect("rm");

        // A link to itself: refused, named, and the walk ends.
        symlink("self", assets.join("self")).expect("link");
        let err = package(&bootstrap, &[assets])
            .expect_err("self loop")
            .to_string();
        assert!(
            err.contains("assets/self is a symbolic link to self"),
            "{err}"
        );
    }

    #[test]
    fn hidden_files_are_left_out_unless_asked_for() {
        let dir = tempfile::tempdir().expect("dir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, "b").expect("write");
        let assets = dir.path().join("assets");
        std::fs::create_dir_all(assets.join(".git")).expect("dir");
        std::fs::write(assets.join(".git/config"), "g").expect("write");
        std::fs::write(assets.join(".env"), "SECRET=1").expect("write");
        std::fs::write(assets.join("page.html"), "p").expect("write");
        let named = dir.path().join(".named");
        std::fs::write(&named, "n").expect("write");
        let zip = package(&bootstrap, &[assets.clone(), named.clone()]).expect("zip");
        let names: Vec<String> = entries(&zip).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(names, [".named", "bootstrap", "page.html"]);
        let shown = |p: &str| assets.join(p).display().to_string();
        assert_eq!(zip.skipped, [shown(".env"), format!("{}/", shown(".git"))]);

        let all =
            package_with(&bootstrap, &[assets], PackageOptions { hidden: true }).expect("zip");
        let names: Vec<String> = entries(&all).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(names, [".env", ".git/config", "bootstrap", "page.html"]);
        assert!(all.skipped.is_empty());
    }

    #[test]
    fn packages_that_unzip_over_250_mb_are_refused_before_zipping() {
        let dir = tempfile::tempdir().expect("dir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, "b").expect("write");
        let big = dir.path().join("model.bin");
        // Sparse: no 251 MB written, and the refusal must come before it is read.
        std::fs::File::create(&big)
            .and_then(|f| f.set_len(MAX_UNZIPPED + 1))
            .expect("sparse file");
        let started = std::time::Instant::now();
        let err = package(&bootstrap, &[big]).expect_err("too large");
        assert!(
            matches!(err, DeployError::PackageUnzippedTooLarge { size } if size == MAX_UNZIPPED + 2),
            "{err}"
        );
        assert!(
            err.to_string().contains("over Lambda's 250 MB limit"),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
