use http::Request;
use proptest::prelude::*;

use super::*;

fn parts(request: Request<()>) -> request::Parts {
    request.into_parts().0
}

fn sample() -> request::Parts {
    parts(
        Request::post("/items/7?tag=a&tag=b&q=x%20y")
            .header("host", "127.0.0.1:9000")
            .header("accept", "text/plain")
            .header("accept", "application/json")
            .header("cookie", "a=1; b=2")
            .header("user-agent", "curl/8")
            .body(())
            .expect("request"),
    )
}

fn source() -> Source {
    Source {
        region: "eu-west-1".into(),
        account: "111122223333".into(),
        ..Source::new("orders")
    }
}

#[test]
fn shapes_come_from_trigger_kinds() {
    assert_eq!(Shape::from_trigger("http-api", false), Some(Shape::HttpApi));
    assert_eq!(
        Shape::from_trigger("function-url", false),
        Some(Shape::FunctionUrl)
    );
    assert_eq!(Shape::from_trigger("rest-api", true), Some(Shape::RestApi));
    assert_eq!(
        Shape::from_trigger("alb", true),
        Some(Shape::Alb {
            multi_value_headers: true
        })
    );
    assert_eq!(Shape::from_trigger("sqs", false), None);
    assert_eq!(Shape::from_trigger("", false), None);
    for kind in ["http-api", "function-url", "rest-api", "alb"] {
        assert_eq!(
            Shape::from_trigger(kind, false).map(Shape::kind),
            Some(kind)
        );
    }
}

#[test]
fn http_api_events_are_payload_2_0() {
    let event = event(Shape::HttpApi, &sample(), b"{\"n\":1}", &source());
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/items/7");
    assert_eq!(event["rawQueryString"], "tag=a&tag=b&q=x%20y");
    assert_eq!(event["queryStringParameters"]["tag"], "a,b");
    assert_eq!(event["queryStringParameters"]["q"], "x y");
    assert_eq!(event["headers"]["accept"], "text/plain,application/json");
    assert!(event["headers"].get("cookie").is_none());
    assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
    let context = &event["requestContext"];
    assert_eq!(context["http"]["method"], "POST");
    assert_eq!(context["http"]["path"], "/items/7");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["http"]["userAgent"], "curl/8");
    assert_eq!(context["domainName"], "127.0.0.1:9000");
    assert_eq!(context["accountId"], "111122223333");
    assert_eq!(context["stage"], "$default");
    assert!(context["timeEpoch"].as_i64().is_some_and(|t| t > 0));
    assert_eq!(event["body"], "{\"n\":1}");
    assert_eq!(event["isBase64Encoded"], false);
}

#[test]
fn function_url_events_name_a_lambda_url_domain() {
    let event = event(Shape::FunctionUrl, &sample(), b"", &source());
    assert_eq!(event["version"], "2.0");
    let context = &event["requestContext"];
    let domain = context["domainName"].as_str().expect("domain");
    let id = context["apiId"].as_str().expect("id");
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(domain, format!("{id}.lambda-url.eu-west-1.on.aws"));
    assert_eq!(context["domainPrefix"], id);
    assert_eq!(context["accountId"], "anonymous");
    assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
    assert!(event["body"].is_null());
    // Stable: the same function has the same URL id on every run.
    let again = super::event(Shape::FunctionUrl, &sample(), b"", &source());
    assert_eq!(again["requestContext"]["apiId"], id);
}

#[test]
fn rest_api_events_are_payload_1_0_with_multi_values() {
    let event = event(Shape::RestApi, &sample(), &[0xff, 0x00, 0x10], &source());
    assert_eq!(event["resource"], "/{proxy+}");
    assert_eq!(event["path"], "/items/7");
    assert_eq!(event["httpMethod"], "POST");
    assert_eq!(event["headers"]["accept"], "application/json");
    assert_eq!(
        event["multiValueHeaders"]["accept"],
        json!(["text/plain", "application/json"])
    );
    assert_eq!(event["queryStringParameters"]["tag"], "b");
    assert_eq!(
        event["multiValueQueryStringParameters"]["tag"],
        json!(["a", "b"])
    );
    assert_eq!(
        event["multiValueQueryStringParameters"]["q"],
        json!(["x y"])
    );
    assert_eq!(event["pathParameters"]["proxy"], "items/7");
    assert_eq!(event["requestContext"]["httpMethod"], "POST");
    assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["body"], "/wAQ");
}

#[test]
fn alb_events_carry_the_target_group_and_raw_query_values() {
    let single = event(
        Shape::Alb {
            multi_value_headers: false,
        },
        &sample(),
        b"",
        &source(),
    );
    let arn = single["requestContext"]["elb"]["targetGroupArn"]
        .as_str()
        .expect("arn");
    assert!(
        arn.starts_with("arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/orders/"),
        "{arn}"
    );
    assert_eq!(single["httpMethod"], "POST");
    assert_eq!(single["path"], "/items/7");
    assert_eq!(single["headers"]["accept"], "application/json");
    assert_eq!(single["headers"]["cookie"], "a=1; b=2");
    // As ALB does: the last value, not decoded.
    assert_eq!(single["queryStringParameters"]["tag"], "b");
    assert_eq!(single["queryStringParameters"]["q"], "x%20y");
    assert!(single.get("multiValueHeaders").is_none());
    assert_eq!(single["body"], "");
    assert_eq!(single["isBase64Encoded"], false);

    let multi = event(
        Shape::Alb {
            multi_value_headers: true,
        },
        &sample(),
        b"hi",
        &source(),
    );
    assert!(multi.get("headers").is_none());
    assert_eq!(
        multi["multiValueHeaders"]["accept"],
        json!(["text/plain", "application/json"])
    );
    assert_eq!(
        multi["multiValueQueryStringParameters"]["tag"],
        json!(["a", "b"])
    );
    assert_eq!(multi["body"], "hi");
}

#[test]
fn proxy_responses_become_http_responses() {
    let payload = json!({
        "statusCode": 201,
        "headers": {"content-type": "image/png", "x-one": "1", "x-many": "lost", "x-n": 5},
        "multiValueHeaders": {"x-many": ["a", "b"]},
        "cookies": ["s=1; Secure", "t=2"],
        "body": "/wAQ",
        "isBase64Encoded": true
    });
    let bytes = serde_json::to_vec(&payload).expect("json");
    let r = response(Shape::HttpApi, &bytes).expect("response");
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-n"], "5");
    let many: Vec<_> = r.headers().get_all("x-many").iter().collect();
    assert_eq!(many, ["a", "b"]);
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["s=1; Secure", "t=2"]);
    assert_eq!(r.body().as_ref(), &[0xff, 0x00, 0x10]);
    // Payload 1.0 has no `cookies`: set-cookie travels in the headers.
    let r = response(Shape::RestApi, &bytes).expect("response");
    assert!(r.headers().get("set-cookie").is_none());
}

#[test]
fn payload_2_0_takes_plain_json_as_a_200_body_and_1_0_does_not() {
    for shape in [Shape::HttpApi, Shape::FunctionUrl] {
        let r = response(shape, br#"{"hello":"world"}"#).expect("response");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.body().as_ref(), br#"{"hello":"world"}"#);
    }
    for shape in [
        Shape::RestApi,
        Shape::Alb {
            multi_value_headers: false,
        },
    ] {
        let e = response(shape, br#"{"hello":"world"}"#).expect_err("needs statusCode");
        assert!(e.to_string().contains("statusCode"), "{e}");
    }
}

#[test]
fn hostile_responses_say_what_is_wrong() {
    let cases: [(&[u8], &str); 7] = [
        (br#"{"statusCode": 1000}"#, "1000 is not an HTTP status"),
        (br#"{"statusCode": -1}"#, "do not parse"),
        (br#"{"statusCode": "200"}"#, "do not parse"),
        (
            br#"{"statusCode": 200, "body": "%%", "isBase64Encoded": true}"#,
            "base64",
        ),
        (
            br#"{"statusCode": 200, "headers": {"bad name": "x"}}"#,
            "not a header name",
        ),
        (
            br#"{"statusCode": 200, "headers": {"x": "a\nb"}}"#,
            "not a header value",
        ),
        (b"\xff\xfe not json", "not JSON"),
    ];
    for (payload, expected) in cases {
        let e = response(Shape::RestApi, payload).expect_err("bad response");
        assert!(e.to_string().contains(expected), "{e} for {payload:?}");
    }
}

#[test]
fn hostile_requests_make_events() {
    let mut request = Request::get("/%FF%FE/..%2F?%zz=%&&=&a");
    for i in 0..200 {
        request = request.header(format!("x-h{i}"), "v".repeat(1000));
    }
    let parts = parts(
        request
            .header(
                "x-bin",
                HeaderValue::from_bytes(&[0xff, 0x80, b'a']).expect("value"),
            )
            .header("cookie", ";;; ;")
            .body(())
            .expect("request"),
    );
    for shape in [
        Shape::HttpApi,
        Shape::FunctionUrl,
        Shape::RestApi,
        Shape::Alb {
            multi_value_headers: false,
        },
        Shape::Alb {
            multi_value_headers: true,
        },
    ] {
        let event = event(shape, &parts, &[0xc3, 0x28], &source());
        assert_eq!(event["isBase64Encoded"], true, "{shape:?}");
        let text = serde_json::to_string(&event).expect("json");
        assert!(text.contains("\u{fffd}"), "lossy header in {shape:?}");
    }
    let v2 = event(Shape::HttpApi, &parts, b"", &source());
    assert!(v2.get("cookies").is_none());
    assert_eq!(v2["rawPath"], "/%FF%FE/..%2F");
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u16..1100).prop_map(Value::from),
        "\\PC{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("statusCode".to_owned()),
                    Just("headers".to_owned()),
                    Just("multiValueHeaders".to_owned()),
                    Just("cookies".to_owned()),
                    Just("body".to_owned()),
                    Just("isBase64Encoded".to_owned()),
                    "\\PC{0,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_payload_is_a_response_or_a_reason(payload in json_value(), cut in any::<prop::sample::Index>()) {
        let bytes = serde_json::to_vec(&payload).expect("json");
        for shape in [Shape::HttpApi, Shape::RestApi, Shape::Alb { multi_value_headers: true }] {
            match response(shape, &bytes) {
                Ok(r) => prop_assert!(r.status().as_u16() >= 100),
                Err(e) => prop_assert!(!e.0.is_empty()),
            }
            let _ = response(shape, &bytes[..cut.index(bytes.len() + 1)]);
        }
    }

    #[test]
    fn any_body_round_trips_through_an_event(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (parts, ()) = Request::put("/b").body(()).expect("request").into_parts();
        for shape in [Shape::HttpApi, Shape::RestApi, Shape::Alb { multi_value_headers: false }] {
            let event = event(shape, &parts, &body, &source());
            let text = event["body"].as_str().unwrap_or_default();
            let sent = if event["isBase64Encoded"] == true {
                BASE64.decode(text).expect("base64")
            } else {
                text.as_bytes().to_vec()
            };
            prop_assert_eq!(&sent, &body);
        }
    }
}
