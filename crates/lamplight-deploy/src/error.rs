//! What can go wrong, each with what to do about it.

use aws_credential_types::provider::error::CredentialsError;

/// Everything that can stop a build, a package, a deploy or a call to a deployed function; each
/// message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// No credentials in the standard chain.
    #[error(
        "no AWS credentials found: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials,
    /// The credential chain looked everywhere and found nothing; what it looked at is kept.
    #[error(
        "no AWS credentials found: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\nthe credential chain said: {detail}"
    )]
    CredentialsNotFound {
        /// What the chain said, with its causes.
        detail: String,
    },
    /// A `trigger` in `[package.metadata.lamplight]` that cannot be deployed as written.
    #[error("[package.metadata.lamplight] trigger of {function}: {message}")]
    InvalidTrigger {
        /// The function whose metadata holds it.
        function: String,
        /// Which key is wrong and what to write instead.
        message: String,
    },
    /// No region configured.
    #[error(
        "no AWS region: pass --region, set AWS_REGION, or set `region` in [package.metadata.lamplight]"
    )]
    NoRegion,
    /// A region that does not exist.
    #[error(
        "`{0}` is not an AWS region (like us-east-1 or eu-west-1): check --region / AWS_REGION"
    )]
    UnknownRegion(String),
    /// The caller may not do something.
    #[error(
        "the AWS credentials in use may not call {action}: {message}\nask for `{action}` on your user or role, or pass an existing role with --role"
    )]
    AccessDenied {
        /// The IAM action refused, like `iam:CreateRole`.
        action: String,
        /// AWS's explanation, as it gave it.
        message: String,
    },
    /// A function name Lambda would refuse.
    #[error("`{0}` is not a valid Lambda function name: use 1 to 64 letters, digits, `-` and `_`")]
    InvalidName(String),
    /// The binary is for another machine.
    #[error(
        "{path} is built for {found}, but the function runs on {expected}: build with `cargo xtask build --arch {expected}`"
    )]
    WrongArchitecture {
        /// The bootstrap checked.
        path: String,
        /// The architecture it was built for.
        found: String,
        /// The function's architecture.
        expected: String,
    },
    /// The binary needs a newer glibc than provided.al2023 has.
    #[error(
        "{path} needs GLIBC_{found}, but provided.al2023 has glibc 2.34: build with cargo-zigbuild (`cargo xtask build` uses it when installed: `pip install cargo-zigbuild ziglang`), or on an older distribution"
    )]
    GlibcTooNew {
        /// The bootstrap checked.
        path: String,
        /// The newest `GLIBC_x.y` it needs, as `x.y`.
        found: String,
    },
    /// Not an ELF executable.
    #[error("{path} is not a Linux executable ({reason})")]
    NotExecutable {
        /// The file given as the bootstrap.
        path: String,
        /// What is wrong: not ELF, not executable, ...
        reason: String,
    },
    /// Over Lambda's direct upload limit.
    #[error(
        "the package is {size} bytes, over Lambda's 50 MB limit for direct uploads: upload it to S3 and point the function at it (`aws lambda update-function-code --s3-bucket B --s3-key K`), or trim it (strip symbols, drop --include files)"
    )]
    PackageTooLarge {
        /// Bytes of the zip.
        size: usize,
    },
    /// A build step failed.
    #[error("{0}")]
    Build(String),
    /// The function's architecture is not this machine's and no cross toolchain is installed.
    #[error(
        "building {bin} for {arch} on this {host} machine needs a cross toolchain:\n  \
         - cargo-zigbuild (recommended; also pins glibc to 2.34): `pip install cargo-zigbuild ziglang` and `rustup target add {target}`\n  \
         - or gcc for {arch}: `apt install {gcc_package}` and `rustup target add {target}`\n\
         or deploy with --arch {host_arch}"
    )]
    NoCrossToolchain {
        /// The binary being built.
        bin: String,
        /// The function's architecture, as Lambda names it.
        arch: &'static str,
        /// Its Rust target triple.
        target: &'static str,
        /// The Debian package of its cross gcc.
        gcc_package: &'static str,
        /// This machine's architecture, as Rust names it (`std::env::consts::ARCH`).
        host: &'static str,
        /// This machine's architecture, as Lambda names it: the build that needs no toolchain.
        host_arch: &'static str,
    },
    /// Reading or writing a file failed.
    // The cause is printed by `Display` and deliberately not returned from `source()`: anyhow
    // chains would print it twice.
    #[error("{path}: {error}")]
    Io {
        /// The file read or written.
        path: String,
        /// Printed after the path, not returned as `source()`: anyhow would print it twice.
        error: std::io::Error,
    },
    /// The package would unzip to more than Lambda accepts.
    #[error(
        "the package unzips to {size} bytes, over Lambda's 250 MB limit for unzipped code (layers included): trim it (strip symbols, drop --include files) or ship it as a container image"
    )]
    PackageUnzippedTooLarge {
        /// The total size of its files.
        size: u64,
    },
    /// A symbolic link in an `--include` directory that cannot be shipped.
    #[error(
        "{link} is a symbolic link to {target}, which is {why}: only links to files or directories inside the included directory are packaged; replace it with the file itself or remove it"
    )]
    UnsafeSymlink {
        /// The link's path.
        link: String,
        /// Its target, as stored in the link.
        target: String,
        /// What is wrong with its target.
        why: String,
    },
    /// The role named for the function exists but Lambda may not assume it.
    #[error(
        "the IAM role {role} exists but its trust policy does not let Lambda (lambda.amazonaws.com) assume it: {trust_policy}\nlamplight does not change roles it cannot vouch for: pass a Lambda execution role with --role <arn>, or delete or rename {role} so that lamplight creates its own"
    )]
    UntrustedRole {
        /// The role's name.
        role: String,
        /// Its trust policy, decoded.
        trust_policy: String,
    },
    /// The credential chain found a source but could not get credentials from it.
    #[error("could not load AWS credentials ({kind}): {detail}\n{advice}")]
    Credentials {
        /// Which kind of failure: not loaded, timed out, invalid configuration, provider error.
        kind: String,
        /// What the provider said, with its causes.
        detail: String,
        /// What to do.
        advice: String,
    },
    /// An AWS call failed.
    #[error("{operation} failed: {message}")]
    Aws {
        /// The SDK operation, like `lambda:CreateFunction`.
        operation: String,
        /// AWS's error code and message, or the SDK's account of why no answer came.
        message: String,
    },
    /// A deploy stopped part way; what was done is listed.
    #[error("{cause}\nalready done before the failure:\n{done}")]
    Partial {
        /// The step's failure; printed in the message, not returned as `source()` (anyhow would
        /// print it twice).
        cause: Box<DeployError>,
        /// The steps carried out before it, one `  - step` line each.
        done: String,
    },
}

/// An error and its causes on one line: `outer: inner: innermost`, each said once.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string().trim().to_owned();
        // Some errors repeat their source in their own message: keep each text once.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// The profile the standard chain reads: `--profile`, else `AWS_PROFILE`, else `default`.
pub fn profile_in_use(profile: Option<&str>) -> String {
    profile
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".to_owned())
}

impl DeployError {
    /// A credential provider's failure, kept and explained: what went wrong, in which profile,
    /// and what to run about it.
    pub fn from_credentials(error: &CredentialsError, profile: &str) -> Self {
        let detail = chain(error);
        let lower = detail.to_ascii_lowercase();
        let kind = match error {
            CredentialsError::CredentialsNotLoaded(_) => {
                return Self::CredentialsNotFound { detail };
            }
            CredentialsError::ProviderTimedOut(_) => "provider timed out",
            CredentialsError::InvalidConfiguration(_) => "invalid configuration",
            CredentialsError::ProviderError(_) => "provider error",
            _ => "unexpected provider error",
        };
        let advice = if matches!(error, CredentialsError::ProviderTimedOut(_)) {
            "the provider did not answer in time: check the network (and any proxy), that the SSO, STS or instance metadata endpoint is reachable, then retry".to_owned()
        } else if lower.contains("external process") || lower.contains("credential_process") {
            // Before SSO: the process's stderr may well mention tokens.
            format!(
                "the `credential_process` of profile `{profile}` failed: run that command yourself to see why and fix it, or pick another profile with --profile or AWS_PROFILE"
            )
        } else if lower.contains("sso") || lower.contains("token") || lower.contains("expired") {
            format!(
                "the SSO session of profile `{profile}` is missing or expired: run `aws sso login --profile {profile}` and retry"
            )
        } else if matches!(error, CredentialsError::InvalidConfiguration(_)) {
            format!(
                "fix profile `{profile}` in the AWS config file (AWS_CONFIG_FILE, else ~/.aws/config), or pick another profile with --profile or AWS_PROFILE"
            )
        } else {
            format!(
                "check profile `{profile}` (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and ~/.aws/credentials), or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        };
        Self::Credentials {
            kind: kind.to_owned(),
            detail,
            advice,
        }
    }

    /// Classifies an SDK error: credentials, access denied, or a plain failure.
    pub fn from_sdk<E, R>(operation: &str, error: aws_sdk_lambda::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let text = aws_smithy_types::error::display::DisplayErrorContext(&error).to_string();
        if let Some(service) = error.as_service_error() {
            let code = service.code().unwrap_or_default();
            let message = service.message().unwrap_or_default().to_owned();
            if code.contains("AccessDenied") || code == "UnauthorizedOperation" {
                return Self::AccessDenied {
                    action: operation.to_owned(),
                    message,
                };
            }
            return Self::Aws {
                operation: operation.to_owned(),
                message: format!("{code}: {message}"),
            };
        }
        // A call that could not sign: say what the credential provider said, not a guess.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = cause {
            if let Some(credentials) = e.downcast_ref::<CredentialsError>() {
                return Self::from_credentials(credentials, &profile_in_use(None));
            }
            cause = e.source();
        }
        if text.contains("no credentials")
            || text.contains("credentials provider")
            || text.contains("NoCredentials")
        {
            return Self::NoCredentials;
        }
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return Self::Aws {
                operation: operation.to_owned(),
                message: format!("{text} (is the region right? check --region and AWS_REGION)"),
            };
        }
        Self::Aws {
            operation: operation.to_owned(),
            message: text,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::time::Duration;

    use super::*;

    #[test]
    fn each_credentials_failure_keeps_its_kind_and_gets_its_advice() {
        let timed_out = DeployError::from_credentials(
            &CredentialsError::provider_timed_out(Duration::from_secs(5)),
            "dev",
        )
        .to_string();
        assert!(
            timed_out.starts_with("could not load AWS credentials (provider timed out): credentials provider timed out after 5 seconds"),
            "{timed_out}"
        );
        assert!(timed_out.contains("did not answer in time"), "{timed_out}");

        let invalid = DeployError::from_credentials(
            &CredentialsError::invalid_configuration("role_arn without source_profile"),
            "dev",
        )
        .to_string();
        assert!(invalid.contains("(invalid configuration)"), "{invalid}");
        assert!(
            invalid.contains("role_arn without source_profile"),
            "{invalid}"
        );
        assert!(invalid.contains("fix profile `dev`"), "{invalid}");

        let expired = DeployError::from_credentials(
            &CredentialsError::provider_error("the SSO token has expired and cannot be refreshed"),
            "prod",
        )
        .to_string();
        assert!(
            expired.contains("(provider error)") && expired.contains("has expired"),
            "{expired}"
        );
        assert!(
            expired.contains("run `aws sso login --profile prod`"),
            "{expired}"
        );

        let other =
            DeployError::from_credentials(&CredentialsError::provider_error("503 from STS"), "ci")
                .to_string();
        assert!(
            other.contains("503 from STS") && other.contains("check profile `ci`"),
            "{other}"
        );

        let none =
            DeployError::from_credentials(&CredentialsError::not_loaded("nothing set"), "ci");
        assert!(
            matches!(&none, DeployError::CredentialsNotFound { detail } if detail.contains("nothing set")),
            "{none}"
        );
    }

    #[test]
    fn a_cause_shown_in_the_message_is_not_also_the_source() {
        let err = DeployError::Io {
            path: "assets/a.txt".into(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(err.to_string(), "assets/a.txt: gone");
        assert!(err.source().is_none(), "anyhow would print `gone` twice");
        let partial = DeployError::Partial {
            cause: Box::new(DeployError::NoRegion),
            done: "  - x".into(),
        };
        assert!(partial.source().is_none());
    }

    /// What `cargo xtask` prints: the error with its causes, the way anyhow's `{:#}` does.
    fn as_the_cli_prints_it(err: DeployError) -> String {
        format!(
            "{:#}",
            anyhow::Error::from(err).context("deploying greeter")
        )
    }

    #[test]
    fn each_cause_is_printed_once_through_anyhow() {
        let credentials = as_the_cli_prints_it(DeployError::from_credentials(
            &CredentialsError::provider_error("503 from STS"),
            "ci",
        ));
        assert_eq!(
            credentials.matches("503 from STS").count(),
            1,
            "{credentials}"
        );
        assert!(
            credentials.starts_with("deploying greeter: could not load AWS credentials"),
            "{credentials}"
        );

        let step = DeployError::Aws {
            operation: "iam:AttachRolePolicy".into(),
            message: "NoSuchEntity: the policy does not exist".into(),
        };
        let partial = as_the_cli_prints_it(DeployError::Partial {
            cause: Box::new(step),
            done: "  - created role greeter-lamplight".into(),
        });
        for part in [
            "iam:AttachRolePolicy failed",
            "the policy does not exist",
            "created role greeter-lamplight",
        ] {
            assert_eq!(partial.matches(part).count(), 1, "{part} in {partial}");
        }

        let io = as_the_cli_prints_it(DeployError::Io {
            path: "assets/a.txt".into(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        });
        assert_eq!(io, "deploying greeter: assets/a.txt: gone");
    }
}
