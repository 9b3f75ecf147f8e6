//! `cargo xtask deploy`: one call to lamplight-deploy's pipeline per function (build, package,
//! connect, plan, apply); this command only shows its progress and result.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use lamplight_deploy::deploy::Deployed;
use lamplight_deploy::pipeline::{self, Event, Progress, Request};
use xshell::Shell;

use crate::flags;
use crate::package;
use crate::workspace::Workspace;

pub(crate) async fn run(sh: &Shell, f: &flags::Deploy) -> Result<()> {
    let ws = Workspace::load(sh)?;
    for function in ws.targets(&f.package.functions, f.package.all)? {
        let settings = function.deploy_settings_with(&f.package.deploy, &f.trigger)?;
        if let Some(lamplight_deploy::trigger::Trigger::FunctionUrl(url)) = &settings.trigger
            && url.auth == lamplight_deploy::trigger::UrlAuth::None
        {
            // Deliberate, but worth a line: anyone who finds the URL can run (and bill) it.
            eprintln!(
                "warning: {} gets a public Function URL (auth = \"NONE\"): anyone can invoke it; use auth = \"AWS_IAM\" unless that is intended",
                settings.name
            );
        }
        let request = Request {
            source: package::source(&ws, function, settings.arch, &f.package),
            connection: f.aws.connection(),
            dry_run: f.dry_run,
            settings,
        };
        let mut printer = Printer::default();
        let shipped = pipeline::ship(&request, &mut printer).await;
        if let Some(spinner) = &printer.spinner {
            spinner.finish_and_clear();
        }
        let shipped = shipped.with_context(|| format!("deploying {}", request.settings.name))?;
        match &shipped.deployed {
            None => println!("(dry run: nothing changed)"),
            Some(done) => print_deployed(&request.settings.name, done, printer.applying_since),
        }
    }
    Ok(())
}

#[derive(Default)]
struct Printer {
    spinner: Option<ProgressBar>,
    applying_since: Option<Instant>,
}

impl Progress for Printer {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Planned(plan) => {
                print!("{plan}");
                self.applying_since = Some(Instant::now());
            }
            Event::Applying(step) => {
                let spinner = self.spinner.get_or_insert_with(|| {
                    let spinner = ProgressBar::new_spinner();
                    spinner.enable_steady_tick(Duration::from_millis(120));
                    spinner
                });
                spinner.set_message(step.to_owned());
            }
            other => package::report(other),
        }
    }
}

fn print_deployed(name: &str, done: &Deployed, since: Option<Instant>) {
    let took = since.map_or(0.0, |s| s.elapsed().as_secs_f64());
    println!("deployed {name} in {took:.1} s");
    println!("  arn       {}", done.arn);
    println!("  version   {} (alias `{}`)", done.version, done.alias);
    println!(
        "  code      {} bytes{}",
        done.code_size,
        if done.code_uploaded {
            ""
        } else {
            ", unchanged: not uploaded"
        }
    );
    for (what, url) in &done.urls {
        println!("  {what:<9} {url}");
    }
    for (what, url) in &done.links {
        println!("  {what:<9} {url}");
    }
}
