//! `cargo xtask logs`: a function's CloudWatch logs, filtered, optionally followed.

use std::time::Duration;

use anyhow::{Context, Result};
use lamplight_deploy::aws::Aws;
use lamplight_deploy::logs;

use crate::flags;

pub(crate) async fn run(f: &flags::Logs) -> Result<()> {
    let aws = Aws::connect(&f.named.aws.connection()).await?;
    let since = humantime::parse_duration(&f.since)
        .with_context(|| format!("--since `{}` is not a duration like 10m or 2h", f.since))?;
    let mut last = None;
    loop {
        let lines = logs::read(&aws, &f.named.function, since, f.filter.as_deref(), last).await?;
        for line in &lines {
            let at = humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + Duration::from_millis(line.timestamp.max(0) as u64),
            );
            println!("{at} {}", line.message);
        }
        if let Some(l) = lines.last() {
            last = Some(l.timestamp);
        }
        if !f.follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
