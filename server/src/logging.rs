//! Log lines on stderr, as text or (`--log-format json`) as one JSON object per line:
//! `{"timestamp", "level", "target", "message", "fields": {...}, "spans": [{"name",
//! "fields"}]}`, outermost span first.
//!
//! The JSON lines are written by [`JsonLines`] here rather than by tracing-subscriber's
//! `json` feature: that feature would change tracing-subscriber for deltalake's kernel too
//! (one build of each crate per tree) and rebuild the whole Delta stack for a formatter of
//! fifty lines.

use std::fmt;

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// Used when `RUST_LOG` is not set. deltalake's kernel logs every snapshot and scan at info.
const DEFAULT_LOG_FILTER: &str = "info,buoyant_kernel=warn,delta_kernel=warn,deltalake_core=warn";

/// Installs the process's subscriber; call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.event_format(JsonLines).init(),
    }
}

/// Formats each event as one line of JSON.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
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
        let mut fields = Map::new();
        event.record(&mut JsonFields(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::Null);
        let spans: Vec<Value> = ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
            .map(|span| {
                let extensions = span.extensions();
                let fields = extensions
                    .get::<FormattedFields<N>>()
                    .map(|f| f.fields.clone())
                    .unwrap_or_default();
                json!({ "name": span.name(), "fields": fields })
            })
            .collect();
        let meta = event.metadata();
        let line = json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": meta.level().as_str(),
            "target": meta.target(),
            "message": message,
            "fields": fields,
            "spans": spans,
        });
        writeln!(writer, "{line}")
    }
}

/// An event's fields as JSON values (numbers and booleans stay typed).
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), json!(format!("{value:?}")));
    }
}
