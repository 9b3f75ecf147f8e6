//! The deployment package: a zip whose bytes depend only on its contents (fixed timestamps and
//! order, `bootstrap` mode 0755), so the same code always has the same SHA-256 and an unchanged
//! function is never uploaded again.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::error::DeployError;

/// Lambda's limit for a zip uploaded directly.
pub const MAX_DIRECT_UPLOAD: usize = 50 * 1024 * 1024;

/// A built package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The zip.
    pub bytes: Vec<u8>,
    /// SHA-256 in base64, as Lambda reports `CodeSha256`.
    pub sha256_base64: String,
    /// SHA-256 in hex.
    pub sha256_hex: String,
}

impl Package {
    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}

/// Zips `bootstrap` (as `bootstrap`) and every `include` (by file name, or every file under a
/// directory, by its relative path).
pub fn package(bootstrap: &Path, includes: &[PathBuf]) -> Result<Package, DeployError> {
    let io = |path: &Path, source: std::io::Error| DeployError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut entries: Vec<(String, PathBuf, u32)> =
        vec![("bootstrap".into(), bootstrap.to_owned(), 0o755)];
    for include in includes {
        if include.is_dir() {
            let mut files = Vec::new();
            collect(include, include, &mut files).map_err(|e| io(include, e))?;
            entries.extend(files.into_iter().map(|(name, path)| (name, path, 0o644)));
        } else {
            let name = include
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| io(include, std::io::Error::other("no file name")))?;
            entries.push((name.to_owned(), include.clone(), 0o644));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(DeployError::Build(format!(
            "two files would be `{}` in the package: {} and {}",
            pair[0].0,
            pair[0].1.display(),
            pair[1].1.display()
        )));
    }
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, path, mode) in &entries {
        let data = std::fs::read(path).map_err(|e| io(path, e))?;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(6))
            .last_modified_time(DateTime::default())
            .unix_permissions(*mode);
        zip.start_file(name, options)
            .and_then(|()| zip.write_all(&data).map_err(Into::into))
            .map_err(|e| DeployError::Build(format!("zipping {name}: {e}")))?;
    }
    let bytes = zip
        .finish()
        .map_err(|e| DeployError::Build(format!("finishing the zip: {e}")))?
        .into_inner();
    if bytes.len() > MAX_DIRECT_UPLOAD {
        return Err(DeployError::PackageTooLarge { size: bytes.len() });
    }
    let digest = Sha256::digest(&bytes);
    Ok(Package {
        sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
        sha256_hex: digest.iter().map(|b| format!("{b:02x}")).collect(),
        bytes,
    })
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
    }
    Ok(())
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
}
