//! The function's `bootstrap`: which machine it is for, which glibc it needs, whether it can
//! run; checked before it is shipped.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use object::{Object, ObjectSection};

use crate::error::DeployError;

/// A Lambda architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Graviton (`aarch64-unknown-linux-gnu`).
    Arm64,
    /// x86-64 (`x86_64-unknown-linux-gnu`).
    X86_64,
}

impl Arch {
    /// The name Lambda uses.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "x86_64",
        }
    }

    /// The Rust target triple.
    pub fn target(self) -> &'static str {
        match self {
            Self::Arm64 => "aarch64-unknown-linux-gnu",
            Self::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }

    /// The architecture of this machine.
    pub fn host() -> Option<Self> {
        match std::env::consts::ARCH {
            "aarch64" => Some(Self::Arm64),
            "x86_64" => Some(Self::X86_64),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lambda_name())
    }
}

impl FromStr for Arch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "arm64" | "aarch64" => Ok(Self::Arm64),
            "x86_64" | "x86-64" | "amd64" => Ok(Self::X86_64),
            other => Err(format!(
                "`{other}` is not a Lambda architecture: use arm64 or x86_64"
            )),
        }
    }
}

/// The highest glibc of the `provided.al2023` runtime.
pub const AL2023_GLIBC: (u32, u32) = (2, 34);

/// What a binary is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryInfo {
    /// Its machine.
    pub arch: Arch,
    /// The newest `GLIBC_x.y` it needs, if it links glibc.
    pub max_glibc: Option<(u32, u32)>,
    /// Whether its mode lets it run.
    pub executable: bool,
    /// Its size in bytes.
    pub size: u64,
}

/// Reads what `path` is.
pub fn inspect(path: &Path) -> Result<BinaryInfo, DeployError> {
    let shown = path.display().to_string();
    let data = std::fs::read(path).map_err(|error| DeployError::Io {
        path: shown.clone(),
        error,
    })?;
    let not_exe = |reason: String| DeployError::NotExecutable {
        path: shown.clone(),
        reason,
    };
    let file =
        object::File::parse(&*data).map_err(|e| not_exe(format!("not an object file: {e}")))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(not_exe(format!("{:?}, not ELF", file.format())));
    }
    if !matches!(
        file.kind(),
        object::ObjectKind::Executable | object::ObjectKind::Dynamic
    ) {
        return Err(not_exe(format!(
            "a {:?} object, not an executable",
            file.kind()
        )));
    }
    let arch = match file.architecture() {
        object::Architecture::X86_64 => Arch::X86_64,
        object::Architecture::Aarch64 => Arch::Arm64,
        other => return Err(not_exe(format!("built for {other:?}"))),
    };
    let max_glibc = file
        .section_by_name(".dynstr")
        .and_then(|s| s.data().ok())
        .and_then(max_glibc_in);
    let executable = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    Ok(BinaryInfo {
        arch,
        max_glibc,
        executable,
        size: data.len() as u64,
    })
}

/// The newest `GLIBC_x.y[.z]` named in a string table.
fn max_glibc_in(strings: &[u8]) -> Option<(u32, u32)> {
    strings
        .split(|b| *b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok()?.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .max()
}

/// Checks `path` can run as `arch` on provided.al2023.
pub fn check(path: &Path, arch: Arch) -> Result<BinaryInfo, DeployError> {
    let info = inspect(path)?;
    let shown = path.display().to_string();
    if info.arch != arch {
        return Err(DeployError::WrongArchitecture {
            path: shown,
            found: info.arch.to_string(),
            expected: arch.to_string(),
        });
    }
    if let Some(found) = info.max_glibc
        && found > AL2023_GLIBC
    {
        return Err(DeployError::GlibcTooNew {
            path: shown,
            found: format!("{}.{}", found.0, found.1),
        });
    }
    if !info.executable {
        return Err(DeployError::NotExecutable {
            path: shown,
            reason: "its mode has no execute bit (chmod +x)".into(),
        });
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_are_compared_numerically() {
        assert_eq!(
            max_glibc_in(b"libc.so.6\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.9\0"),
            Some((2, 34))
        );
        assert_eq!(max_glibc_in(b"libc.so.6\0"), None);
    }

    #[test]
    fn this_test_binary_is_inspected_for_this_machine() {
        let me = std::env::current_exe().expect("test binary");
        let info = inspect(&me).expect("an ELF executable");
        assert_eq!(Some(info.arch), Arch::host());
        assert!(info.executable);
        assert!(info.max_glibc.is_some(), "linked against glibc");
        let other = match info.arch {
            Arch::Arm64 => Arch::X86_64,
            Arch::X86_64 => Arch::Arm64,
        };
        let err = check(&me, other)
            .expect_err("wrong architecture")
            .to_string();
        assert!(
            err.contains(&format!(
                "is built for {}, but the function runs on {other}",
                info.arch
            )),
            "{err}"
        );
    }

    #[test]
    fn a_text_file_is_not_an_executable() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("bootstrap");
        std::fs::write(&path, "#!/bin/sh\necho hi\n").expect("write");
        let err = inspect(&path).expect_err("not ELF").to_string();
        assert!(err.contains("is not a Linux executable"), "{err}");
    }
}
