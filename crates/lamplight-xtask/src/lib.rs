//! The `cargo xtask` commands of lamplight workspaces. A workspace's `xtask` binary is one line,
//! `lamplight_xtask::main()`, so every generated project gets new commands by upgrading this
//! crate.
//!
//! | command | what it does |
//! |---|---|
//! | `demo` | generate, build, run locally, invoke and trace a function, in one command |
//! | `local` | runs functions under the local Lambda service (Lambda API, X-Ray sink) |
//! | `invoke --local` | invokes one, printing the response, the log tail and the trace |
//! | `bench local`, `bench telemetry` | measure the local service and telemetry's cost |
//! | `build`, `package` | checked Lambda bootstraps; deterministic zips with their SHA-256 |
//! | `deploy` | create or update functions idempotently (`--dry-run` prints the plan) |
//! | `invoke`, `get`, `list`, `delete`, `logs`, `traces` | the deployed functions |
//! | `new` | a function workspace from the template, or another function in one |
//! | `template-check` | every template variant rendered, built, linted and tested; HTTP ones called through lambda-httpx |

pub mod bench;
pub mod callers;
pub mod demo;
pub mod flags;
pub mod http;
pub mod local;
pub mod payload;
pub mod ship;
pub mod template;
pub mod workspace;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

/// Parses the command line and runs the command; errors are printed with their causes.
pub fn main() -> ExitCode {
    author_for_templates();
    let cli = flags::Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// cargo-generate fills the template's `authors` from `CARGO_NAME`, `GIT_AUTHOR_NAME`, ... or
/// `USER`, and fails when none is set (CI machines, containers). Without its `git` feature it
/// cannot read `git config user.name` itself, so do it here.
#[allow(unsafe_code)]
fn author_for_templates() {
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
    // SAFETY: called first thing in `main`, before the async runtime or any other thread exists,
    // so nothing reads the environment concurrently.
    unsafe { std::env::set_var("CARGO_NAME", name) };
}

fn run(cli: flags::Cli) -> Result<()> {
    let sh = xshell::Shell::new().context("cannot start a shell")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            flags::Command::Local(flags) => local::serve(&sh, flags).await,
            flags::Command::Invoke(flags) if flags.local => {
                let shown = local::invoke(&sh, &flags).await?;
                shown.print();
                Ok(())
            }
            flags::Command::Invoke(flags) => ship::invoke_remote(&sh, &flags).await,
            flags::Command::Build(flags) => ship::build(&sh, &flags),
            flags::Command::Package(flags) => ship::package_cmd(&sh, &flags),
            flags::Command::Deploy(flags) => ship::deploy_cmd(&sh, &flags).await,
            flags::Command::Get(flags) => ship::get(&flags).await,
            flags::Command::List(flags) => ship::list(&flags).await,
            flags::Command::Delete(flags) => ship::delete(&flags).await,
            flags::Command::Logs(flags) => ship::logs_cmd(&flags).await,
            flags::Command::Traces(flags) => ship::traces_cmd(&flags).await,
            flags::Command::Bench(flags) => bench::run(&sh, flags).await,
            flags::Command::New(flags) => template::new(&sh, &flags),
            flags::Command::Demo => demo::run(&sh).await,
            flags::Command::TemplateCheck(flags) => template::check(&sh, &flags.only).await,
        }
    })
}
