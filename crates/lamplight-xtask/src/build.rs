//! `cargo xtask build`: Lambda-ready bootstraps, built by lamplight-deploy and checked for
//! architecture and glibc.

use anyhow::Result;
use lamplight_deploy::build;
use xshell::Shell;

use crate::flags;
use crate::workspace::Workspace;

pub(crate) fn run(sh: &Shell, f: &flags::Build) -> Result<()> {
    let ws = Workspace::load(sh)?;
    for function in ws.targets(&f.functions, f.all)? {
        let arch = function.deploy_settings(&f.deploy)?.arch;
        let built = build::build(&ws.build_request(function, arch, f.fast))?;
        let glibc = built
            .info
            .max_glibc
            .map_or("none".into(), |(a, b)| format!("GLIBC_{a}.{b}"));
        println!(
            "{}: {} ({} bytes, {}, needs {glibc}; provided.al2023 has 2.34)",
            built.name,
            built.path.display(),
            built.info.size,
            built.info.arch
        );
    }
    Ok(())
}
