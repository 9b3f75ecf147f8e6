//! The trace page: one HTML file (inline CSS and JS, nothing loaded from elsewhere) that lists
//! invocations or traces and draws a trace as a waterfall, with a segment's annotations,
//! metadata, `aws`/`http` fields and error cause on click.
//!
//! The same page serves two ways: [`live`], as the local service serves it at `/lamplight/`,
//! polls that service's `/lamplight/invocations` and shows each invocation's logs beside its
//! trace; [`embedded`] carries traces in the page itself (`cargo xtask traces --html`).

use serde_json::{Value, json};

use crate::trace::Trace;

const PAGE: &str = include_str!("page.html");
/// Where the page's data goes: the content of its `application/json` script element.
const SLOT: &str = "\"__LAMPLIGHT_DATA__\"";

/// The page as the local service serves it: it reads everything from the service it came from.
pub fn live() -> String {
    fill(&json!({"mode": "live"}))
}

/// A self-contained page of `traces`, with `generated` (a time or note) in its header.
pub fn embedded(traces: &[Trace], generated: &str) -> String {
    fill(&json!({"mode": "embedded", "generated": generated, "traces": traces}))
}

fn fill(data: &Value) -> String {
    PAGE.replacen(SLOT, &script_safe(&data.to_string()), 1)
}

/// JSON safe inside a `<script>` element: `<`, `>` and `&` occur only in JSON strings, where their
/// `\u` escapes mean the same, and without them no `</script>` or `<!--` can end the element.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_value;

    fn data_of(page: &str) -> Value {
        let start = page.find("id=\"lamplight-data\">").expect("data element")
            + "id=\"lamplight-data\">".len();
        let end = start + page[start..].find("</script>").expect("end of data");
        serde_json::from_str(&page[start..end]).expect("the data is JSON")
    }

    #[test]
    fn the_live_page_has_its_mode_and_loads_nothing_from_elsewhere() {
        let page = live();
        assert_eq!(data_of(&page), json!({"mode": "live"}));
        assert!(!page.contains("__LAMPLIGHT_DATA__"));
        for foreign in ["https://", "src=", "<link", "@import", "url("] {
            assert!(!page.contains(foreign), "{foreign}");
        }
        // The one `http://` is SVG's namespace name, which is never fetched.
        assert_eq!(page.matches("http://").count(), 1);
        assert!(page.contains("\"http://www.w3.org/2000/svg\""));
    }

    #[test]
    fn embedded_traces_cannot_end_their_script_element() {
        let id = "1-581cf771-a006649127e371903a2de979";
        let mut trace = Trace::new(id.parse().expect("id"));
        for s in parse_value(
            &json!({"name": "</script><script>alert(1)</script>", "id": "0000000000000001",
            "trace_id": id, "start_time": 100.0, "end_time": 100.01,
            "annotations": {"note": "<!-- & -->"}}),
        )
        .expect("valid")
        {
            trace.add(s);
        }
        let page = embedded(&[trace.clone()], "now");
        assert_eq!(page.matches("</script>").count(), 2, "only the page's own");
        assert!(!page.contains("<!-- &"));
        let data = data_of(&page);
        assert_eq!(data["mode"], "embedded");
        let back: Trace = serde_json::from_value(data["traces"][0].clone()).expect("a trace");
        assert_eq!(back, trace);
    }
}
