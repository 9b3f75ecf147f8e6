//! What can go wrong, each with what to do about it.

/// A deploy-side failure.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// No credentials in the standard chain.
    #[error(
        "no AWS credentials found: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials,
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
        /// The API action.
        action: String,
        /// AWS's message.
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
        /// The binary.
        path: String,
        /// Its machine.
        found: String,
        /// The function's.
        expected: String,
    },
    /// The binary needs a newer glibc than provided.al2023 has.
    #[error(
        "{path} needs GLIBC_{found}, but provided.al2023 has glibc 2.34: build with cargo-zigbuild (`cargo xtask build` uses it when installed: `cargo install cargo-zigbuild` and `pip install ziglang`), or on an older distribution"
    )]
    GlibcTooNew {
        /// The binary.
        path: String,
        /// The newest version it needs.
        found: String,
    },
    /// Not an ELF executable.
    #[error("{path} is not a Linux executable ({reason})")]
    NotExecutable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Over Lambda's direct upload limit.
    #[error(
        "the package is {size} bytes, over Lambda's 50 MB limit for direct uploads: upload it to S3 and deploy with --s3-bucket, or trim it (strip symbols, drop --include files)"
    )]
    PackageTooLarge {
        /// Its size.
        size: usize,
    },
    /// A build step failed.
    #[error("{0}")]
    Build(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An AWS call failed.
    #[error("{operation} failed: {message}")]
    Aws {
        /// The operation.
        operation: String,
        /// What AWS said.
        message: String,
    },
    /// A deploy stopped part way; what was done is listed.
    #[error("{cause}\nalready done before the failure:\n{done}")]
    Partial {
        /// The failure.
        cause: Box<DeployError>,
        /// The steps completed.
        done: String,
    },
}

impl DeployError {
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
