//! The handler's response to every sample event in `events/`, as insta snapshots in
//! `tests/snapshots/`. After a change, `cargo insta review` shows what moved.

use {{crate_name}}::handler::{self, Config, State};

fn state() -> &'static State {
    Box::leak(Box::new(State {
        config: Config { max_quantity: 10 },
    }))
}

#[tokio::test]
async fn every_sample_event_gets_its_snapshotted_response() {
    let names = lamplight_test::event_names();
    assert!(!names.is_empty(), "no sample events in events/");
    for name in names {
        let event = lamplight_test::event_value(&name);
        let response = lamplight_http::answer(
            handler::router(state()),
            event,
            &lamplight_test::invocation(),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        lamplight_test::assert_response!(name.as_str(), response);
    }
}
