//! [`Redacted`]: a value that does not print.

use std::fmt;

/// A parameter, secret or configuration value whose `Debug` and `Display` print `[redacted]`,
/// so a `?value` in a log line or an `{:?}` in a panic cannot leak it. Read it with
/// [`Redacted::expose`] (or take it with [`Redacted::into_exposed`]) where it is used.
///
/// ```
/// use lamplight_parameters::Redacted;
///
/// let password = Redacted::new("hunter2".to_owned());
/// assert_eq!(format!("{password} {password:?}"), "[redacted] [redacted]");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The value itself, unwrapped.
    pub fn into_exposed(self) -> T {
        self.0
    }

    /// A redacted value computed from this one.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Redacted<U> {
        Redacted(f(self.0))
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}
