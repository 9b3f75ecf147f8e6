//! Shipping a function in one call: build (or take a given bootstrap), package, connect, plan,
//! apply. A caller such as `cargo xtask deploy` only fills a [`Request`] and prints the
//! [`Event`]s it hears; every step and its order live here.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::aws::{Aws, Connection};
use crate::binary::{self, Arch};
use crate::build::{self, BuildRequest, Built};
use crate::deploy::{self, Deployed, Plan};
use crate::error::DeployError;
use crate::package::{self, Package};
use crate::settings::DeploySettings;

/// Where the function's `bootstrap` comes from.
#[derive(Debug, Clone)]
pub enum Code {
    /// Build it with cargo.
    Build(BuildRequest),
    /// This already built binary (checked for the function's architecture).
    Bootstrap(PathBuf),
}

/// What goes into the zip, and where the zip is written.
#[derive(Debug, Clone)]
pub struct Source {
    /// Built or given.
    pub code: Code,
    /// Extra files or directories shipped beside it.
    pub include: Vec<PathBuf>,
    /// Where the zip is written (lamplight uses `target/lambda/<function>/bootstrap.zip`).
    pub zip_path: PathBuf,
}

/// Everything one deploy needs.
#[derive(Debug, Clone)]
pub struct Request {
    /// The function as it should be.
    pub settings: DeploySettings,
    /// What to zip, and where to write the zip.
    pub source: Source,
    /// How to reach AWS; without a region, the settings' region is used.
    pub connection: Connection,
    /// Plan only: change nothing.
    pub dry_run: bool,
}

/// What the pipeline is doing, as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// cargo starts building the function.
    Building {
        /// The binary's name.
        function: &'a str,
        /// The target it is built for.
        arch: Arch,
    },
    /// The bootstrap is built and checked.
    Built(&'a Built),
    /// The zip is written.
    Packaged {
        /// The zip file.
        path: &'a Path,
        /// Its bytes and hashes, and the hidden files left out.
        package: &'a Package,
        /// How long zipping took.
        elapsed: Duration,
    },
    /// What the deploy will do (also the whole result of a dry run).
    Planned(&'a Plan),
    /// A step of the plan starts, or a call is retried.
    Applying(&'a str),
}

/// Hears the pipeline's [`Event`]s; any `FnMut(Event)` does.
pub trait Progress {
    /// Called once per event, in order.
    fn event(&mut self, event: Event<'_>);
}

impl<F: FnMut(Event<'_>)> Progress for F {
    fn event(&mut self, event: Event<'_>) {
        self(event);
    }
}

/// A bootstrap zipped and written.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The build, when the pipeline built the bootstrap.
    pub built: Option<Built>,
    /// Where the zip was written.
    pub path: PathBuf,
    /// Its bytes and hashes, and the hidden files left out.
    pub package: Package,
}

/// What a deploy did: the plan, and unless it was a dry run, the result of applying it.
#[derive(Debug, Clone)]
pub struct Shipped {
    /// The zip shipped (or that would have been, on a dry run).
    pub packaged: Packaged,
    /// What was (or would be) done.
    pub plan: Plan,
    /// `None` for a dry run.
    pub deployed: Option<Deployed>,
}

/// Builds (or checks) the bootstrap for `arch`, zips it with the included files and writes the
/// zip: `cargo xtask package`, and the first half of [`ship`].
pub fn package(
    source: &Source,
    arch: Arch,
    progress: &mut dyn Progress,
) -> Result<Packaged, DeployError> {
    let (bootstrap, built) = match &source.code {
        Code::Bootstrap(path) => {
            binary::check(path, arch)?;
            (path.clone(), None)
        }
        Code::Build(request) => {
            progress.event(Event::Building {
                function: &request.bin,
                arch: request.arch,
            });
            let built = build::build(request)?;
            progress.event(Event::Built(&built));
            (built.path.clone(), Some(built))
        }
    };
    let started = Instant::now();
    let zip = package::package(&bootstrap, &source.include)?;
    let written = source
        .zip_path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&source.zip_path, &zip.bytes));
    written.map_err(|error| DeployError::Io {
        path: source.zip_path.display().to_string(),
        error,
    })?;
    progress.event(Event::Packaged {
        path: &source.zip_path,
        package: &zip,
        elapsed: started.elapsed(),
    });
    Ok(Packaged {
        built,
        path: source.zip_path.clone(),
        package: zip,
    })
}

/// The whole deploy: package, connect with the standard credential chain, plan, and unless
/// `dry_run`, apply. A failure part way names what was already done
/// ([`DeployError::Partial`]).
pub async fn ship(request: &Request, progress: &mut dyn Progress) -> Result<Shipped, DeployError> {
    let packaged = package(&request.source, request.settings.arch, progress)?;
    let mut connection = request.connection.clone();
    if connection.region.is_none() {
        connection.region.clone_from(&request.settings.region);
    }
    let aws = Aws::connect(&connection).await?;
    plan_and_apply(&aws, request, packaged, progress).await
}

/// [`ship`] with clients already made (a custom credential chain, tests); `request.connection`
/// is not used.
pub async fn ship_with(
    aws: &Aws,
    request: &Request,
    progress: &mut dyn Progress,
) -> Result<Shipped, DeployError> {
    let packaged = package(&request.source, request.settings.arch, progress)?;
    plan_and_apply(aws, request, packaged, progress).await
}

async fn plan_and_apply(
    aws: &Aws,
    request: &Request,
    packaged: Packaged,
    progress: &mut dyn Progress,
) -> Result<Shipped, DeployError> {
    let settings = &request.settings;
    let plan = deploy::plan(aws, settings, &packaged.package).await?;
    progress.event(Event::Planned(&plan));
    let deployed = if request.dry_run {
        None
    } else {
        let mut applying = |message: &str| progress.event(Event::Applying(message));
        Some(
            deploy::apply(
                aws,
                settings,
                &packaged.package,
                plan.clone(),
                &mut applying,
            )
            .await?,
        )
    };
    Ok(Shipped {
        packaged,
        plan,
        deployed,
    })
}
