//! Lambda's names and limits, as the Lambda service enforces them.
//!
//! The deployer checks a function before it calls AWS, and the local service answers as Lambda
//! would; both read the rules from here so they cannot drift apart. Each constant cites the
//! quota it mirrors (AWS Lambda quotas, as of 2026).

use std::ops::RangeInclusive;

/// Memory a function may be given, in MB.
pub const MEMORY_MB: RangeInclusive<u32> = 128..=10_240;

/// A function's timeout, in seconds.
pub const TIMEOUT_SECONDS: RangeInclusive<u32> = 1..=900;

/// The largest synchronous invocation payload, request or response: 6 MB.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;

/// The largest asynchronous (`Event`) invocation payload: 1 MB since October 2025.
pub const MAX_EVENT_PAYLOAD: usize = 1024 * 1024;

/// The largest zip uploaded directly (not through S3): 50 MB.
pub const MAX_DIRECT_UPLOAD: usize = 50 * 1024 * 1024;

/// The largest unzipped code, function and layers together: 250 MB.
pub const MAX_UNZIPPED: u64 = 250 * 1024 * 1024;

/// Whether `name` is a function name Lambda accepts: 1 to 64 ASCII letters, digits, `-` and
/// `_`. Such a name is also safe as one path component, which the local service relies on.
///
/// ```
/// assert!(lamplight_limits::is_function_name("orders-api_v2"));
/// assert!(!lamplight_limits::is_function_name("../etc"));
/// ```
pub fn is_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What [`is_function_name`] wants, for error messages.
pub const FUNCTION_NAME_RULE: &str = "1 to 64 letters, digits, `-` and `_`";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_at_the_edges() {
        assert!(is_function_name("a"));
        assert!(is_function_name(&"a".repeat(64)));
        assert!(!is_function_name(&"a".repeat(65)));
        assert!(!is_function_name(""));
        for bad in ["a b", "a/b", "a.b", "..", "é", "a\0"] {
            assert!(!is_function_name(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn accepted_names_are_one_plain_path_component(name in "\\PC{0,80}") {
            if is_function_name(&name) {
                let path = std::path::Path::new(&name);
                prop_assert_eq!(path.components().count(), 1);
                prop_assert!(matches!(
                    path.components().next(),
                    Some(std::path::Component::Normal(_))
                ));
            }
        }
    }
}
