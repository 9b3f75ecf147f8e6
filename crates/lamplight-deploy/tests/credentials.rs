//! Credential failures keep the provider's own error and say what to do: each case runs
//! `Aws::connect` in a child copy of this test binary with a cleared environment, so the host's
//! profiles, keys and instance role cannot leak in.

use std::path::Path;
use std::process::Command;

use lamplight_deploy::aws::{Aws, Connection};

/// Set in the child: which profile to connect with ("" for none).
const CHILD: &str = "LAMPLIGHT_CREDENTIALS_CHILD";

/// In the child, connects and prints the error between markers; in a plain run, does nothing.
#[test]
fn child_connects() {
    let Ok(profile) = std::env::var(CHILD) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let connection = Connection {
        region: Some("us-east-1".into()),
        profile: (!profile.is_empty()).then_some(profile),
        endpoint_url: None,
    };
    match runtime.block_on(Aws::connect(&connection)) {
        Ok(_) => println!("<<connected>>"),
        Err(e) => println!("<<{e}>>"),
    }
}

/// Runs [`child_connects`] with only the AWS files under `home` and `profile`.
fn connect_in_child(home: &Path, config: &str, profile: &str) -> String {
    let config_file = home.join("config");
    let credentials_file = home.join("credentials");
    std::fs::write(&config_file, config).expect("config");
    std::fs::write(&credentials_file, "").expect("credentials");
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_connects",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", &config_file)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials_file)
        // No instance metadata: off EC2 it would only time out.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(CHILD, profile)
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let start = stdout.find("<<").expect("child printed a result");
    let end = stdout.rfind(">>").expect("child printed a result");
    stdout[start + 2..end].to_owned()
}

#[test]
fn an_sso_profile_without_a_login_says_to_run_aws_sso_login() {
    let home = tempfile::tempdir().expect("home");
    let err = connect_in_child(
        home.path(),
        "[profile work]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n",
        "work",
    );
    assert!(
        err.starts_with("could not load AWS credentials (provider error): "),
        "{err}"
    );
    assert!(err.contains("SSO token"), "the provider's own words: {err}");
    assert!(err.contains("run `aws sso login --profile work`"), "{err}");
    assert!(!err.contains("no AWS credentials found"), "{err}");
}

#[test]
fn a_failing_credential_process_shows_its_error() {
    let home = tempfile::tempdir().expect("home");
    let err = connect_in_child(
        home.path(),
        "[profile vault]\ncredential_process = sh -c 'echo vault is sealed >&2; exit 3'\n",
        "vault",
    );
    assert!(
        err.starts_with("could not load AWS credentials (provider error): "),
        "{err}"
    );
    assert!(
        err.contains("vault is sealed"),
        "the process's stderr: {err}"
    );
    assert!(
        err.contains("the `credential_process` of profile `vault` failed"),
        "{err}"
    );
}

#[test]
fn no_credentials_anywhere_says_how_to_set_them() {
    let home = tempfile::tempdir().expect("home");
    let err = connect_in_child(home.path(), "", "");
    assert!(
        err.starts_with("no AWS credentials found: set AWS_PROFILE"),
        "{err}"
    );
    assert!(
        err.contains("the credential chain said: "),
        "what the chain tried is kept: {err}"
    );
}

#[test]
fn a_profile_that_does_not_exist_is_named() {
    let home = tempfile::tempdir().expect("home");
    let err = connect_in_child(
        home.path(),
        "[profile other]\nregion = us-east-1\n",
        "missing",
    );
    assert!(err.contains("missing"), "{err}");
    assert!(!err.starts_with("<<connected"), "{err}");
}
