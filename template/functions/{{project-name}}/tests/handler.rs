//! The handler's response to every sample event in `events/`, as insta snapshots in
//! `tests/snapshots/`. After a change, `cargo insta review` shows what moved.
{%- case event_source %}
{%- when "http-api" or "rest-api" or "alb" or "function-url" %}

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
{%- else %}

use {{crate_name}}::handler::{self, Config, State};
{%- if use_s3 or event_source == "s3" %}
use {{crate_name}}::worker::MemoryObjects;
{%- endif %}

fn state() -> &'static {% if use_s3 or event_source == "s3" %}State<MemoryObjects>{% else %}State{% endif %} {
{%- case event_source %}
{%- when "custom" %}
{%- if use_s3 %}
    let objects = MemoryObjects::default().with("greetings", "hello.txt", "Hello");
    let config = Config {
        greeting_bucket: "greetings".into(),
        greeting_key: "hello.txt".into(),
    };
    Box::leak(Box::new(State { config, objects }))
{%- else %}
    Box::leak(Box::new(State {
        config: Config {
            greeting: "Hello".into(),
        },
    }))
{%- endif %}
{%- when "s3" %}
    let objects = MemoryObjects::default().with(
        "reports",
        "2026/sales report.csv",
        "day,total\nmon,3\ntue,5\n",
    );
    Box::leak(Box::new(State {
        config: Config { max_lines: 1000 },
        objects,
    }))
{%- when "eventbridge" %}
    Box::leak(Box::new(State {
        config: Config {
            job_name: "nightly-report".into(),
        },
    }))
{%- else %}
    Box::leak(Box::new(State {
        config: Config { max_quantity: 10 },
    }))
{%- endcase %}
}

#[tokio::test]
async fn every_sample_event_gets_its_snapshotted_response() {
    let state = state();
    let names = lamplight_test::event_names();
    assert!(!names.is_empty(), "no sample events in events/");
    for name in names {
        let event = lamplight_test::event_value(&name);
        let response = lamplight_test::respond(
            |event, inv| handler::handle(state, event, inv),
            event,
            lamplight_test::invocation(),
        )
        .await;
        lamplight_test::assert_response!(name.as_str(), response);
    }
}
{%- endcase %}
