//! `cargo xtask get`: a deployed function's configuration and code.

use anyhow::Result;
use lamplight_deploy::aws::Aws;
use lamplight_deploy::ops;

use crate::flags;

pub(crate) async fn run(f: &flags::Named) -> Result<()> {
    let aws = Aws::connect(&f.aws.connection()).await?;
    let s = ops::get(&aws, &f.function).await?;
    println!(
        "{}\n  {} {} {} MB {} s, tracing {}\n  code {} bytes, sha256 {}, modified {}",
        s.arn,
        s.runtime,
        s.architecture,
        s.memory,
        s.timeout,
        s.tracing,
        s.code_size,
        s.code_sha256,
        s.last_modified
    );
    Ok(())
}
