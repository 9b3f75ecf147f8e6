//! Building a function's `bootstrap` for Lambda: `cargo zigbuild` when it is installed (it also
//! pins glibc to provided.al2023's 2.34), else `cargo build` for the Lambda target, which needs a
//! cross linker unless this machine has the function's architecture.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::binary::{self, Arch, BinaryInfo};
use crate::error::DeployError;

/// Which cargo profile to build with (both are defined in a lamplight workspace's Cargo.toml).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// What to deploy: thin LTO, one codegen unit, stripped; small and quick to start.
    #[default]
    Release,
    /// The edit-deploy loop: no LTO, 16 codegen units, incremental; a bigger binary in seconds.
    Fast,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Fast => "fast",
        }
    }
}

/// One binary of a cargo workspace to build for Lambda.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The cargo package that holds the binary.
    pub package: String,
    /// Its binary: the function.
    pub bin: String,
    /// The function's architecture: the target built for.
    pub arch: Arch,
    /// Release to deploy, fast for the edit-deploy loop.
    pub profile: Profile,
    /// The workspace's target directory, where cargo leaves the binary.
    pub target_dir: PathBuf,
}

/// A built and checked bootstrap.
#[derive(Debug, Clone)]
pub struct Built {
    /// The function (the binary's name).
    pub name: String,
    /// Where cargo left it.
    pub path: PathBuf,
    /// Its architecture, glibc and size.
    pub info: BinaryInfo,
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `cargo zigbuild` works here. Probed with `--help`, through cargo, because that is how
/// the build runs it (cargo also finds it in `$CARGO_HOME/bin` off `PATH`) and because
/// cargo-zigbuild 0.24 rejects `cargo zigbuild --version`: only its top-level command
/// (`cargo-zigbuild --version`) has `--version`, so probing with it never found the tool.
pub fn has_zigbuild() -> bool {
    runs("cargo", &["zigbuild", "--help"])
}

fn cross_linker_ready(arch: Arch) -> bool {
    let var = format!(
        "CARGO_TARGET_{}_LINKER",
        arch.target().to_uppercase().replace('-', "_")
    );
    if std::env::var_os(&var).is_some() {
        return true;
    }
    let gcc = match arch {
        Arch::Arm64 => "aarch64-linux-gnu-gcc",
        Arch::X86_64 => "x86_64-linux-gnu-gcc",
    };
    runs(gcc, &["--version"])
}

/// Builds the binary for its architecture with cargo (its output goes to this process's
/// terminal) and checks the result as Lambda would run it ([`binary::check`]).
pub fn build(request: &BuildRequest) -> Result<Built, DeployError> {
    let BuildRequest {
        package,
        bin,
        arch,
        profile,
        target_dir,
    } = request;
    let (arch, profile, target) = (*arch, profile.name(), arch.target());
    let zig = has_zigbuild();
    if !zig && Arch::host() != Some(arch) && !cross_linker_ready(arch) {
        return Err(DeployError::NoCrossToolchain {
            bin: bin.clone(),
            arch: arch.lambda_name(),
            target,
            gcc_package: match arch {
                Arch::Arm64 => "gcc-aarch64-linux-gnu",
                Arch::X86_64 => "gcc-x86-64-linux-gnu",
            },
            host: std::env::consts::ARCH,
            host_arch: Arch::host().map_or("x86_64", Arch::lambda_name),
        });
    }
    let (tool, target_arg) = if zig {
        // The `.2.34` suffix makes zig link against provided.al2023's glibc.
        ("zigbuild", format!("{target}.2.34"))
    } else {
        ("build", target.to_owned())
    };
    let status = Command::new("cargo")
        .args([tool, "--profile", profile, "--target", &target_arg])
        .args(["--package", package, "--bin", bin])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| DeployError::Build(format!("could not run cargo {tool}: {e}")))?;
    if !status.success() {
        return Err(DeployError::Build(format!(
            "cargo {tool} of {bin} failed ({status})"
        )));
    }
    let path = target_dir.join(target).join(profile).join(bin);
    let info = binary::check(&path, arch)?;
    Ok(Built {
        name: bin.clone(),
        path,
        info,
    })
}
