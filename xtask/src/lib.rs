//! This repository's `cargo xtask`: the maintainer commands (`bench`, `template-check`, `demo`)
//! beside every command of a function's author, which come from `lamplight-xtask` as generated
//! workspaces get them. A library only so that the template test in `tests/` can render the
//! variants `template-check` checks.

mod bench;
mod callers;
mod demo;
mod flags;
mod template_check;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

pub use template_check::variants;

/// This repository's template and the checkout it sits in, which the workspaces the maintainer
/// commands generate point their lamplight crates at.
fn template_and_checkout(
    ws: &lamplight_xtask::Workspace,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let template = lamplight_xtask::template_dir(Some(&ws.root))?;
    let checkout = template
        .parent()
        .context("the template has no parent directory")?
        .to_owned();
    Ok((template, checkout))
}

/// Parses the command line and runs the command; an error is printed with its causes.
pub fn main() -> ExitCode {
    lamplight_xtask::set_template_author();
    let result = match flags::Cli::parse().command {
        flags::Command::Author(command) => lamplight_xtask::run(*command),
        flags::Command::Maintainer(command) => run(command),
    };
    lamplight_xtask::report(result)
}

fn run(command: flags::Maintainer) -> Result<()> {
    let sh = xshell::Shell::new().context("cannot start a shell")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            flags::Maintainer::Bench(f) => bench::run(&sh, f).await,
            flags::Maintainer::Demo => demo::run(&sh).await,
            flags::Maintainer::TemplateCheck(f) => template_check::run(&sh, &f.only).await,
        }
    })
}
