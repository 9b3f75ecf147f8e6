//! The log subscriber: one line per event, in the shape of Lambda's JSON log format or as plain
//! text, with the invocation's `requestId` and `traceId` on every line.
//!
//! Levels come from `RUST_LOG` when set, else from `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced
//! logging controls), else `INFO`. The format comes from `AWS_LAMBDA_LOG_FORMAT` (`JSON` or
//! `Text`). Fields whose names look secret ([`crate::redact::looks_secret`]) are logged as
//! `[redacted]`; messages and text fields are scrubbed of the secrets they carry
//! ([`crate::redact::scrub`]: URL credentials, `password=…` pairs, bearer tokens, this
//! process's own secret values).

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::redact;

/// The span field that carries the invocation's request id.
pub const REQUEST_ID_FIELD: &str = "requestId";
/// The span field that carries the invocation's X-Ray trace id (the `Root`).
pub const TRACE_ID_FIELD: &str = "traceId";

/// Targets that stay quiet unless `RUST_LOG` names them: chatty at INFO, or (OpenTelemetry's
/// internal logs) able to deadlock a tracing-based exporter that logs while exporting.
pub(crate) const QUIET: &str = "opentelemetry=off,opentelemetry_sdk=off,opentelemetry_aws=off,aws_config=warn,aws_smithy_runtime=warn,hyper=warn,h2=warn,rustls=warn";

/// The shape of each log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `timestamp LEVEL [requestId] message key=value` lines.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `message`, `requestId`, `traceId`, fields.
    Json,
}

/// What the log subscriber is built from.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    /// Line shape.
    pub format: Format,
    /// Directives in `RUST_LOG` syntax; `None` means `info`.
    pub filter: Option<String>,
}

impl LogSettings {
    /// Reads `AWS_LAMBDA_LOG_FORMAT`, `RUST_LOG` and `AWS_LAMBDA_LOG_LEVEL`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self::from_values(
            var("AWS_LAMBDA_LOG_FORMAT").as_deref(),
            var("RUST_LOG").as_deref(),
            var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        )
    }

    /// Builds settings from the three variables' values.
    pub fn from_values(
        log_format: Option<&str>,
        rust_log: Option<&str>,
        lambda_level: Option<&str>,
    ) -> Self {
        let format = match log_format {
            Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Text,
        };
        let filter = rust_log.map(str::to_owned).or_else(|| {
            lambda_level.map(|level| {
                match level.to_ascii_uppercase().as_str() {
                    "TRACE" => "trace",
                    "DEBUG" => "debug",
                    "WARN" => "warn",
                    "ERROR" | "FATAL" => "error",
                    _ => "info",
                }
                .to_owned()
            })
        });
        Self { format, filter }
    }

    fn env_filter(&self) -> Targets {
        targets(self.filter.as_deref().unwrap_or("info"))
    }
}

/// The filter for `directives` in `RUST_LOG` syntax, with [`QUIET`]'s targets added unless the
/// directives name them.
///
/// A [`Targets`] filter (target prefix and level), not `EnvFilter`: `EnvFilter` also matches
/// span names and field values, with regular expressions, and linking its regex engines made
/// up about a sixth of a function's binary. Directives with span or field filters
/// (`target[span{field=value}]=level`) are skipped, as `EnvFilter::parse_lossy` skips
/// directives it cannot parse; the others mean what they mean to `EnvFilter`.
pub(crate) fn targets(directives: &str) -> Targets {
    let mut filter = Targets::new();
    let mut named = Vec::new();
    for directive in directives.split(',').map(str::trim) {
        if directive.is_empty() || directive.contains(['[', '{']) {
            continue;
        }
        match directive.split_once('=') {
            Some((target, level)) => {
                if let Ok(level) = level.trim().parse::<LevelFilter>() {
                    named.push(target.trim());
                    filter = filter.with_target(target.trim(), level);
                }
            }
            // A bare level is the default; a bare target means all of that target's events.
            None => match directive.parse::<LevelFilter>() {
                Ok(level) => filter = filter.with_default(level),
                Err(_) => {
                    named.push(directive);
                    filter = filter.with_target(directive, LevelFilter::TRACE);
                }
            },
        }
    }
    for quiet in QUIET.split(',') {
        if let Some((target, level)) = quiet.split_once('=')
            && !named.contains(&target)
            && let Ok(level) = level.parse::<LevelFilter>()
        {
            filter = filter.with_target(target, level);
        }
    }
    filter
}

/// The layers lamplight's subscriber is made of, for callers that add their own (the tracing
/// layer of [`crate`] sits beside them).
pub fn layer<S>(settings: &LogSettings) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let format = LambdaFormat {
        json: settings.format == Format::Json,
    };
    SpanFields
        .and_then(
            tracing_subscriber::fmt::layer()
                .event_format(format)
                .with_writer(std::io::stdout),
        )
        .with_filter(settings.env_filter())
}

/// Installs the log subscriber as the global default. Returns `false` when one was already set
/// (by an earlier call, or by the application).
pub fn init(settings: &LogSettings) -> bool {
    Registry::default().with(layer(settings)).try_init().is_ok()
}

/// The JSON fields recorded on a span, kept in its extensions.
struct SpanFieldMap(Map<String, Value>);

/// Records every span's fields as JSON so each log line can carry them.
struct SpanFields;

impl<S> Layer<S> for SpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut visitor = JsonVisitor::default();
        attrs.record(&mut visitor);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFieldMap(visitor.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(SpanFieldMap(fields)) = ext.get_mut::<SpanFieldMap>() {
                let mut visitor = JsonVisitor::default();
                values.record(&mut visitor);
                fields.extend(visitor.fields);
            }
        }
    }
}

#[derive(Default)]
struct JsonVisitor {
    message: Option<String>,
    fields: Map<String, Value>,
}

impl JsonVisitor {
    /// Records a text value, scrubbed; the clean case (nearly every line) neither copies nor
    /// allocates beyond the `String` the value already needed.
    fn insert_text(&mut self, field: &Field, text: String) {
        let text = match redact::scrub(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(clean) => clean,
        };
        self.insert(field, Value::String(text));
    }

    fn insert(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else if redact::looks_secret(name) {
            self.fields
                .insert(name.to_owned(), Value::from(redact::REDACTED));
        } else {
            self.fields.insert(name.to_owned(), value);
        }
    }
}

impl Visit for JsonVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert_text(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert_text(field, value.to_owned());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(text, ": {cause}");
            source = cause.source();
        }
        self.insert_text(field, text);
    }
}

/// Formats one event as a Lambda-shaped line.
struct LambdaFormat {
    json: bool,
}

const TRACE_ONLY: &[&str] = &[
    "otel.",
    "faas.",
    "annotation.",
    "metadata.",
    "aws.",
    "rpc.",
    "http.",
    "url.",
    "server.",
];

const RESERVED: &[&str] = &[
    "timestamp",
    "level",
    "message",
    REQUEST_ID_FIELD,
    TRACE_ID_FIELD,
];

impl<S, N> FormatEvent<S, N> for LambdaFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut request_id = None;
        let mut trace_id = None;
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(SpanFieldMap(span_fields)) = span.extensions().get::<SpanFieldMap>() {
                    for (key, value) in span_fields {
                        match key.as_str() {
                            REQUEST_ID_FIELD => request_id = Some(value.clone()),
                            TRACE_ID_FIELD => trace_id = Some(value.clone()),
                            // Span attributes meant for the trace, not the log line.
                            k if TRACE_ONLY.iter().any(|p| k.starts_with(p)) => {}
                            _ => {
                                fields.insert(key.clone(), value.clone());
                            }
                        }
                    }
                }
            }
        }
        let mut visitor = JsonVisitor::default();
        event.record(&mut visitor);
        fields.extend(visitor.fields);
        let message = visitor.message.unwrap_or_default();
        let timestamp = humantime::format_rfc3339_millis(SystemTime::now());
        let level = level_name(event.metadata().level());

        if self.json {
            let mut line = Map::new();
            line.insert("timestamp".into(), Value::from(timestamp.to_string()));
            line.insert("level".into(), Value::from(level));
            line.insert("message".into(), Value::from(message));
            if let Some(id) = request_id {
                line.insert(REQUEST_ID_FIELD.into(), id);
            }
            if let Some(id) = trace_id {
                line.insert(TRACE_ID_FIELD.into(), id);
            }
            for (key, value) in fields {
                let key = if RESERVED.contains(&key.as_str()) {
                    format!("field.{key}")
                } else {
                    key
                };
                line.insert(key, value);
            }
            writeln!(writer, "{}", Value::Object(line))
        } else {
            write!(writer, "{timestamp} {level:<5} ")?;
            if let Some(Value::String(id)) = &request_id {
                write!(writer, "[{id}] ")?;
            }
            write!(writer, "{message}")?;
            for (key, value) in fields {
                match value {
                    Value::String(s) => write!(writer, " {key}={s}")?,
                    other => write!(writer, " {key}={other}")?,
                }
            }
            writeln!(writer)
        }
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn capture(json: bool, f: impl FnOnce()) -> Vec<String> {
        let out = Capture::default();
        let subscriber = Registry::default().with(
            SpanFields.and_then(
                tracing_subscriber::fmt::layer()
                    .event_format(LambdaFormat { json })
                    .with_writer(out.clone()),
            ),
        );
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn json_lines_carry_request_and_trace_ids_and_redact_secrets() {
        let lines = capture(true, || {
            let span = tracing::info_span!(
                "invocation",
                requestId = "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
                traceId = "1-5759e988-bd862e3fe1be46a994272793"
            );
            let _guard = span.enter();
            tracing::info!(
                user = "ada",
                password = "hunter2",
                attempts = 3,
                "signed in"
            );
        });
        assert_eq!(lines.len(), 1);
        let line: Value = serde_json::from_str(&lines[0]).expect("json line");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "signed in");
        assert_eq!(line["requestId"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(line["traceId"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(line["user"], "ada");
        assert_eq!(line["attempts"], 3);
        assert_eq!(line["password"], "[redacted]");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn messages_and_text_fields_are_scrubbed() {
        let lines = capture(true, || {
            let err = std::io::Error::other("login to https://ada:hunter2@api.example failed");
            tracing::error!(
                url = "postgres://app:s3cret@db/app",
                error = &err as &(dyn std::error::Error + 'static),
                "retrying with token=abc123 and {}",
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9"
            );
        });
        let line: Value = serde_json::from_str(&lines[0]).expect("json line");
        assert_eq!(
            line["message"],
            "retrying with token=[redacted] and Authorization: [redacted]"
        );
        assert_eq!(line["url"], "postgres://[redacted]@db/app");
        assert_eq!(
            line["error"],
            "login to https://[redacted]@api.example failed"
        );
        let text = capture(false, || tracing::info!("DB_PASS=hunter2 set")).join("\n");
        assert!(text.contains("DB_PASS=[redacted] set"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn text_lines_show_level_request_id_and_fields() {
        let lines = capture(false, || {
            let span = tracing::info_span!("invocation", requestId = "req-1");
            let _guard = span.enter();
            tracing::warn!(bucket = "b", "slow");
        });
        let line = &lines[0];
        assert!(line.ends_with(" WARN  [req-1] slow bucket=b"), "{line}");
    }

    #[test]
    fn filters_mean_what_env_filter_made_them_mean() {
        let f = targets("info");
        assert!(f.would_enable("my_fn", &Level::INFO));
        assert!(!f.would_enable("my_fn", &Level::DEBUG));
        assert!(!f.would_enable("hyper::client", &Level::INFO));
        assert!(f.would_enable("hyper::client", &Level::WARN));
        assert!(!f.would_enable("opentelemetry_sdk", &Level::ERROR));

        // Naming a quiet target overrides its quiet level; the most specific target wins.
        let f = targets("warn,hyper=debug,my_fn::db=trace, my_fn=error");
        assert!(f.would_enable("hyper::proto", &Level::DEBUG));
        assert!(f.would_enable("my_fn::db::pool", &Level::TRACE));
        assert!(!f.would_enable("my_fn::api", &Level::WARN));
        assert!(f.would_enable("other", &Level::WARN));
        assert!(!f.would_enable("other", &Level::INFO));

        // A bare target means all its events; span and field filters and bad levels are
        // skipped, and what remains still applies. With no default, other targets are off.
        let f = targets("my_fn,other[span{id=1}]=trace,bad=loud,off_by=OFF");
        assert!(f.would_enable("my_fn", &Level::TRACE));
        assert!(!f.would_enable("other", &Level::ERROR));
        assert!(!f.would_enable("bad", &Level::ERROR));
        assert!(!f.would_enable("off_by", &Level::ERROR));
    }

    #[test]
    fn lambda_levels_map_to_filters_and_rust_log_wins() {
        let s = LogSettings::from_values(Some("JSON"), None, Some("DEBUG"));
        assert_eq!(s.format, Format::Json);
        assert_eq!(s.filter.as_deref(), Some("debug"));
        let s = LogSettings::from_values(None, Some("my_fn=trace"), Some("ERROR"));
        assert_eq!(s.format, Format::Text);
        assert_eq!(s.filter.as_deref(), Some("my_fn=trace"));
        let s = LogSettings::from_values(Some("text"), None, Some("FATAL"));
        assert_eq!(s.filter.as_deref(), Some("error"));
    }
}
