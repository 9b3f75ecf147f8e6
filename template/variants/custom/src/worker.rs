//! The business logic: plain Rust, with no Lambda in it, tested right here.

use serde::{Deserialize, Serialize};

/// The event.
#[derive(Debug, Deserialize)]
pub struct Request {
    /// Who to greet.
    pub name: String,
}

/// The response.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Greeting {
    /// The greeting.
    pub message: String,
}

/// What can go wrong: the type's name is the `errorType` Lambda returns.
#[derive(Debug, thiserror::Error)]
pub enum GreetError {
    /// The name was empty.
    #[error("a name is required")]
    EmptyName,
    /// The name has characters other than letters and spaces.
    #[error("`{0}` is not a name: use letters and spaces")]
    NotAName(String),
}

/// Greets `name` with `greeting`.
#[tracing::instrument(skip(greeting))]
pub fn greet(greeting: &str, name: &str) -> Result<Greeting, GreetError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(GreetError::EmptyName);
    }
    if !name.chars().all(|c| c.is_alphabetic() || c == ' ') {
        return Err(GreetError::NotAName(name.to_owned()));
    }
    Ok(Greeting {
        message: format!("{}, {name}!", greeting.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_name_and_refuses_what_is_not_a_name() {
        assert_eq!(
            greet("Hello", " Ada ").expect("greets").message,
            "Hello, Ada!"
        );
        assert!(matches!(greet("Hello", ""), Err(GreetError::EmptyName)));
        assert!(matches!(greet("Hello", "R2D2"), Err(GreetError::NotAName(n)) if n == "R2D2"));
    }
}
