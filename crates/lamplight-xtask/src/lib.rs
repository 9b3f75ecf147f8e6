//! The `cargo xtask` commands of a lamplight function's author. A generated workspace's `xtask`
//! binary is one line, `lamplight_xtask::main()`, so every project gets new commands by upgrading
//! this crate.
//!
//! | command | what it does |
//! |---|---|
//! | `new` | a function workspace from the template, or another function in one |
//! | `local` | runs functions under the local Lambda service (Lambda API, X-Ray sink) |
//! | `invoke` | invokes one, locally (`--local`) or on AWS, printing the response, the log tail and the trace |
//! | `build`, `package` | checked Lambda bootstraps; deterministic zips with their SHA-256 |
//! | `deploy` | create or update functions idempotently (`--dry-run` prints the plan) |
//! | `get`, `list`, `delete`, `logs`, `traces` | the deployed functions |
//!
//! Another command line (this repository's own `xtask`) embeds them: it flattens [`Command`]
//! into its `Subcommand` enum, hands it to [`run`], and uses the template, workspace and local
//! service helpers re-exported here.

mod build;
mod delete;
mod deploy;
mod flags;
mod get;
mod http;
mod invoke;
mod list;
mod local;
mod logs;
mod new;
mod package;
mod payload;
mod service;
mod traces;
mod watch;
mod workspace;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

pub use flags::{Command, FunctionSettings};
pub use http::{Client, Reply};
pub use invoke::{Shown, invoke_in_process};
pub use new::{Choices, EVENT_SOURCES, render, template_dir};
pub use workspace::{FunctionPackage, Workspace, function_config};

/// A generated workspace's whole `xtask`: parses the command line, runs the command, prints an
/// error with its causes.
pub fn main() -> ExitCode {
    set_template_author();
    let cli = flags::Cli::parse();
    report(run(cli.command))
}

/// Runs a `cargo xtask` command line given as words (without the program name), as a
/// generated workspace's `xtask` would: for tests and other programs that run a command
/// in-process. Arguments that do not parse are an error with clap's message.
pub fn run_args(args: impl IntoIterator<Item = String>) -> Result<()> {
    let cli = flags::Cli::try_parse_from(std::iter::once("xtask".to_owned()).chain(args))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    run(cli.command)
}

/// Runs one command to its end, on an async runtime of its own.
pub fn run(command: Command) -> Result<()> {
    let sh = xshell::Shell::new().context("cannot start a shell")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            Command::Local(f) => local::run(&sh, f).await,
            Command::Watch(mut f) => {
                f.watch = true;
                local::run(&sh, f).await
            }
            Command::Invoke(f) => invoke::run(&sh, &f).await,
            Command::Build(f) => build::run(&sh, &f),
            Command::Package(f) => package::run(&sh, &f),
            Command::Deploy(f) => deploy::run(&sh, &f).await,
            Command::Get(f) => get::run(&f).await,
            Command::List(f) => list::run(&f).await,
            Command::Delete(f) => delete::run(&f).await,
            Command::Logs(f) => logs::run(&f).await,
            Command::Traces(f) => traces::run(&f).await,
            Command::New(f) => new::run(&sh, &f),
        }
    })
}

/// The exit status of a command's result; an error is printed with each of its causes.
pub fn report(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Makes sure cargo-generate can fill the template's `authors`: it reads `CARGO_NAME`,
/// `GIT_AUTHOR_NAME`, ... or `USER`, fails when none is set (CI machines, containers), and
/// without its `git` feature cannot read `git config user.name` itself, so this does. Call it
/// first thing in `main`, before any other thread exists: it sets an environment variable.
#[allow(unsafe_code)]
pub fn set_template_author() {
    let known = [
        "CARGO_NAME",
        "GIT_AUTHOR_NAME",
        "GIT_COMMITTER_NAME",
        "USER",
        "USERNAME",
        "NAME",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    if known {
        return;
    }
    let name = std::process::Command::new("git")
        .args(["config", "user.name"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "lamplight".to_owned());
    // SAFETY: documented as called first thing in `main`, before the async runtime or any
    // other thread exists, so nothing reads the environment concurrently.
    unsafe { std::env::set_var("CARGO_NAME", name) };
}
