//! The business logic: plain Rust, with no Lambda in it, tested right here.

use serde::Serialize;

/// What a scheduled run produced.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Report {
    /// The job.
    pub job: String,
    /// When the schedule fired.
    pub scheduled_at: String,
    /// What was done.
    pub message: String,
}

/// Runs the scheduled job.
#[tracing::instrument]
pub fn run_job(job: &str, scheduled_at: &str) -> Report {
    Report {
        job: job.to_owned(),
        scheduled_at: scheduled_at.to_owned(),
        message: format!("{job} ran for the schedule of {scheduled_at}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_reports_its_schedule() {
        assert_eq!(
            run_job("nightly", "2026-01-01T00:00:00Z").scheduled_at,
            "2026-01-01T00:00:00Z"
        );
    }
}
