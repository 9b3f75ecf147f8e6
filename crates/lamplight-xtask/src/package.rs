//! `cargo xtask package`: deterministic zips of the functions, with their size and SHA-256.

use anyhow::Result;
use lamplight_deploy::binary::Arch;
use lamplight_deploy::pipeline::{self, Code, Event, Source};
use xshell::Shell;

use crate::flags;
use crate::workspace::{FunctionPackage, Workspace};

pub(crate) fn run(sh: &Shell, f: &flags::Package) -> Result<()> {
    let ws = Workspace::load(sh)?;
    for function in ws.targets(&f.functions, f.all)? {
        let arch = function.deploy_settings(&f.deploy)?.arch;
        let packaged = pipeline::package(&source(&ws, function, arch, f), arch, &mut report)?;
        println!(
            "{}\t{}\t{}",
            packaged.path.display(),
            packaged.package.size(),
            packaged.package.sha256_hex
        );
    }
    Ok(())
}

/// What `package` and `deploy` zip: the built function (or `--bootstrap`) and `--include`s,
/// written to `target/lambda/<function>/bootstrap.zip`.
pub(crate) fn source(
    ws: &Workspace,
    function: &FunctionPackage,
    arch: Arch,
    f: &flags::Package,
) -> Source {
    Source {
        code: match &f.bootstrap {
            Some(path) => Code::Bootstrap(path.clone()),
            None => Code::Build(ws.build_request(function, arch, f.fast)),
        },
        include: f.include.clone(),
        zip_path: ws
            .target_dir
            .join("lambda")
            .join(&function.bin)
            .join("bootstrap.zip"),
    }
}

/// Prints the building and packaging events (to stderr: stdout is the command's result).
pub(crate) fn report(event: Event<'_>) {
    match event {
        Event::Building { function, arch } => eprintln!("building {function} for {arch} ..."),
        Event::Built(_) | Event::Planned(_) | Event::Applying(_) => {}
        Event::Packaged {
            path,
            package,
            elapsed,
        } => {
            eprintln!(
                "packaged {} in {} ms: {} bytes, sha256 {}",
                path.display(),
                elapsed.as_millis(),
                package.size(),
                package.sha256_hex
            );
            if !package.skipped.is_empty() {
                eprintln!(
                    "left out hidden files (name them with --include to ship them): {}",
                    package.skipped.join(", ")
                );
            }
        }
    }
}
