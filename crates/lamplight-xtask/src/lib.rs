//! The `cargo xtask` commands of lamplight workspaces. A workspace's `xtask` binary is one line,
//! `lamplight_xtask::main()`, so every generated project gets new commands by upgrading this
//! crate.
//!
//! | command | what it does |
//! |---|---|
//! | `local` | runs functions under the local Lambda service (Lambda API, X-Ray sink) |
//! | `invoke --local` | invokes one, printing the response, the log tail and the trace |
//! | `bench local` | measures the local service: invoke throughput, latency, cold starts |

pub mod bench;
pub mod flags;
pub mod http;
pub mod local;
pub mod payload;
pub mod workspace;

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;

/// Parses the command line and runs the command; errors are printed with their causes.
pub fn main() -> ExitCode {
    let cli = flags::Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
            flags::Command::Invoke(flags) => {
                if !flags.local {
                    bail!("remote invocation arrives with `cargo xtask deploy`; use --local for the local service");
                }
                let shown = local::invoke(&sh, &flags).await?;
                shown.print();
                Ok(())
            }
            flags::Command::Bench(flags) => bench::run(&sh, flags).await,
        }
    })
}
