//! `cargo xtask delete`: deletes a deployed function and what deploy created for it (triggers,
//! a queue or API tagged as its own, its lamplight role; its log group with `--logs`), after the
//! user types its name.

use std::io::Write as _;

use anyhow::{Context, Result, bail};
use lamplight_deploy::aws::Aws;
use lamplight_deploy::ops;

use crate::flags;

pub(crate) async fn run(f: &flags::Delete) -> Result<()> {
    let name = &f.named.function;
    if !f.yes {
        let logs = if f.logs { " and its logs" } else { "" };
        print!(
            "delete the function {name}{logs}, and the triggers, queue, API and role deploy created for it? type its name to confirm: "
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != name {
            bail!("not deleted (the answer was not `{name}`); pass --yes to skip the question");
        }
    }
    let aws = Aws::connect(&f.named.aws.connection()).await?;
    let removed = ops::delete(&aws, name)
        .await
        .with_context(|| format!("deleting {name}"))?;
    for what in removed {
        println!("deleted {what}");
    }
    if f.logs {
        match ops::delete_log_group(&aws, name)
            .await
            .with_context(|| format!("deleting the log group of {name}"))?
        {
            Some(what) => println!("deleted {what}"),
            None => println!("{name} had no log group"),
        }
    } else {
        println!("kept its log group /aws/lambda/{name} (--logs deletes it)");
    }
    Ok(())
}
