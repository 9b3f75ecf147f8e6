//! The business logic: plain Rust, tested without Lambda.

use lamplight::Invocation;
use serde::{Deserialize, Serialize};

/// The function's own settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `GREETING`: the word to greet with.
    pub greeting: String,
}

/// The event.
#[derive(Debug, Deserialize)]
pub struct Request {
    /// Who to greet.
    pub name: String,
}

/// The response.
#[derive(Debug, Serialize, PartialEq)]
pub struct Greeting {
    /// The greeting.
    pub message: String,
    /// The invocation's request id, to find its logs.
    pub request_id: String,
    /// Whether this invocation started the execution environment.
    pub cold_start: bool,
}

/// What can go wrong; the type's name becomes the `errorType` Lambda returns.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GreetError {
    /// The name was empty.
    #[error("a name is required")]
    EmptyName,
    /// The name had characters other than letters and spaces.
    #[error("`{0}` is not a name: use letters and spaces")]
    NotAName(String),
}

/// Greets `request.name`.
#[tracing::instrument(skip_all, fields(name = %request.name))]
pub fn greet(config: &Config, request: Request, inv: &Invocation) -> Result<Greeting, GreetError> {
    let name = request.name.trim();
    if name.is_empty() {
        return Err(GreetError::EmptyName);
    }
    if !name.chars().all(|c| c.is_alphabetic() || c == ' ') {
        return Err(GreetError::NotAName(name.to_owned()));
    }
    tracing::info!(
        remaining_ms = inv.remaining_time().as_millis() as u64,
        "greeting"
    );
    Ok(Greeting {
        message: format!("{}, {name}!", config.greeting),
        request_id: inv.request_id().to_owned(),
        cold_start: inv.is_cold_start(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            greeting: "Hello".into(),
        }
    }

    #[test]
    fn greets_by_name() {
        let inv = Invocation::builder()
            .request_id("req-1")
            .cold_start(true)
            .build();
        let greeting = greet(
            &config(),
            Request {
                name: " Ada ".into(),
            },
            &inv,
        )
        .expect("greets");
        assert_eq!(
            greeting,
            Greeting {
                message: "Hello, Ada!".into(),
                request_id: "req-1".into(),
                cold_start: true
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_name() {
        let inv = Invocation::builder().build();
        assert_eq!(
            greet(&config(), Request { name: "".into() }, &inv),
            Err(GreetError::EmptyName)
        );
        assert_eq!(
            greet(
                &config(),
                Request {
                    name: "R2D2".into()
                },
                &inv
            ),
            Err(GreetError::NotAName("R2D2".into()))
        );
    }
}
