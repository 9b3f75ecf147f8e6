//! `cargo xtask list`: the functions of the account and region.

use anyhow::Result;
use lamplight_deploy::aws::Aws;
use lamplight_deploy::ops;

use crate::flags;

pub(crate) async fn run(f: &flags::AwsFlags) -> Result<()> {
    let aws = Aws::connect(&f.connection()).await?;
    let all = ops::list(&aws).await?;
    println!(
        "{:<40} {:<16} {:<7} {:>6} {:>4}  modified",
        "function", "runtime", "arch", "MB", "s"
    );
    for s in all {
        println!(
            "{:<40} {:<16} {:<7} {:>6} {:>4}  {}",
            s.name, s.runtime, s.architecture, s.memory, s.timeout, s.last_modified
        );
    }
    Ok(())
}
