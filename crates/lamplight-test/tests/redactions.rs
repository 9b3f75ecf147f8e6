//! The redaction table hides what changes between runs and keeps the rest.

#[test]
fn ids_and_times_are_redacted_and_the_rest_is_kept() {
    lamplight_test::assert_response!(
        "redacted",
        serde_json::json!({
            "requestId": "0f8f3d38-8b5b-4c0e-9c9a-3fbd9f4a4d21",
            "traceId": "1-6b022653-5fff4d1e2de95f4dbf97fb70",
            "at": "2026-11-21T22:18:36.123Z",
            "stream": "2026/11/21/[$LATEST]0123456789abcdef0123456789abcdef",
            "kept": "arn:aws:lambda:us-east-1:123456789012:function:f",
        })
    );
}

#[test]
fn the_fixed_invocation_parses_its_trace_header_and_arn() {
    let inv = lamplight_test::invocation();
    assert_eq!(
        inv.trace().map(|t| t.root.to_string()).as_deref(),
        Some("1-00000000-000000000000000000000001")
    );
    assert_eq!(
        inv.function_arn().map(|a| a.function_name.as_str()).ok(),
        Some("test-function")
    );
}
