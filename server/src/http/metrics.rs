//! `GET /metrics`: Prometheus text format (0.0.4), for any role that may log in.
//!
//! Two kinds of figures:
//! - **State**, computed at each scrape from the very tables SQL users read, so the two always
//!   agree: one series per table from `oxbow.tables` (`oxbow_table_hot_rows`,
//!   `_hot_bytes`, `_hot_batches`, `_flushed_seq`, `_delta_version`, `_delta_files`,
//!   `_available`) and per source from `oxbow.sources` (`oxbow_source_rows_in_total`,
//!   `_rows_rejected_total`, `_rows_deduplicated_total`, `_rows_filtered_total`,
//!   `_bytes_in_total`, `_rows_per_second`, `_lag` when the connector knows it, `_up` with its
//!   state), WAL segments and the process's resident memory. Computed rather than recorded,
//!   so a dropped table or source leaves no stale series.
//! - **Events**, recorded with the `metrics` crate as they happen and rendered by
//!   `metrics-exporter-prometheus`: `oxbow_queries_total{protocol,outcome}`,
//!   `oxbow_query_duration_seconds{protocol}` (a histogram) and
//!   `oxbow_http_requests_total{path,status}`.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::HttpState;
use super::error::ApiError;

/// Query latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's metrics recorder (once; later calls return the same handle).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .and_then(|b| b.install_recorder());
            match built {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "no metrics recorder: /metrics shows state figures only");
                    None
                }
            }
        })
        .clone()
}

/// Records a finished query of `protocol`.
pub fn query_done(protocol: &'static str, elapsed: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("oxbow_queries_total", "protocol" => protocol, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("oxbow_query_duration_seconds", "protocol" => protocol)
        .record(elapsed.as_secs_f64());
}

pub async fn render(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let result = async {
        state.auth.caller(&headers)?;
        let mut out = String::new();
        tables(&state, &mut out).await?;
        sources(&state, &mut out).await?;
        gauge(
            &mut out,
            "oxbow_wal_segments",
            "WAL segment files on disk.",
            &[],
            state.engine.db.wal_segments() as f64,
        );
        if let Some(rss) = resident_bytes() {
            gauge(
                &mut out,
                "oxbow_process_resident_memory_bytes",
                "Resident memory of the oxbow process.",
                &[],
                rss as f64,
            );
        }
        if let Some(handle) = install() {
            out.push_str(&handle.render());
        }
        Ok::<_, ApiError>(out)
    }
    .await;
    match result {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Runs `sql` in the server's template session (system tables need no privilege).
async fn rows(state: &HttpState, sql: &str) -> Result<Vec<RecordBatch>, ApiError> {
    let df = state
        .engine
        .base
        .sql(sql)
        .await
        .map_err(|e| ApiError::from_error(&e))?;
    df.collect().await.map_err(|e| ApiError::from_error(&e))
}

/// The text of column `i` of row `r` ("" for null).
fn text(batch: &RecordBatch, i: usize, r: usize) -> String {
    let column = batch.column(i);
    if column.is_null(r) {
        return String::new();
    }
    array_value_to_string(column, r).unwrap_or_default()
}

fn number(batch: &RecordBatch, i: usize, r: usize) -> Option<f64> {
    let column = batch.column(i);
    if column.is_null(r) {
        return None;
    }
    array_value_to_string(column, r).ok()?.parse().ok()
}

async fn tables(state: &HttpState, out: &mut String) -> Result<(), ApiError> {
    const COLUMNS: &[(&str, &str, &str)] = &[
        (
            "hot_rows",
            "oxbow_table_hot_rows",
            "Rows in the hot tier (not yet in Delta).",
        ),
        (
            "hot_bytes",
            "oxbow_table_hot_bytes",
            "Bytes of the hot tier's batches.",
        ),
        (
            "hot_batches",
            "oxbow_table_hot_batches",
            "Batches in the hot tier.",
        ),
        (
            "flushed_seq",
            "oxbow_table_flushed_seq",
            "The last WAL sequence number flushed to Delta.",
        ),
        (
            "delta_version",
            "oxbow_table_delta_version",
            "The Delta table's version (-1: unavailable).",
        ),
        (
            "delta_files",
            "oxbow_table_delta_files",
            "Data files of the Delta table.",
        ),
    ];
    let batches = rows(
        state,
        "SELECT schema_name, table_name, hot_rows, hot_bytes, hot_batches, flushed_seq, \
         delta_version, delta_files, status FROM oxbow.tables",
    )
    .await?;
    for (c, (_, name, help)) in COLUMNS.iter().enumerate() {
        header(out, name, help, "gauge");
        for batch in &batches {
            for r in 0..batch.num_rows() {
                let labels = [("schema", text(batch, 0, r)), ("table", text(batch, 1, r))];
                if let Some(v) = number(batch, c + 2, r) {
                    sample(out, name, &labels, v);
                }
            }
        }
    }
    header(
        out,
        "oxbow_table_available",
        "1 when the table is open, 0 when its Delta table could not be opened.",
        "gauge",
    );
    for batch in &batches {
        for r in 0..batch.num_rows() {
            let labels = [("schema", text(batch, 0, r)), ("table", text(batch, 1, r))];
            let ok = text(batch, 8, r) == "ok";
            sample(
                out,
                "oxbow_table_available",
                &labels,
                if ok { 1.0 } else { 0.0 },
            );
        }
    }
    Ok(())
}

async fn sources(state: &HttpState, out: &mut String) -> Result<(), ApiError> {
    const COLUMNS: &[(&str, &str, &str, &str)] = &[
        (
            "rows_in",
            "oxbow_source_rows_in_total",
            "Rows the source landed.",
            "counter",
        ),
        (
            "rows_rejected",
            "oxbow_source_rows_rejected_total",
            "Rows sent to the dead letters.",
            "counter",
        ),
        (
            "rows_deduplicated",
            "oxbow_source_rows_deduplicated_total",
            "Rows dropped as duplicates.",
            "counter",
        ),
        (
            "rows_filtered",
            "oxbow_source_rows_filtered_total",
            "Rows dropped by the source's filter.",
            "counter",
        ),
        (
            "bytes_in",
            "oxbow_source_bytes_in_total",
            "Bytes the source read.",
            "counter",
        ),
        (
            "rows_per_second",
            "oxbow_source_rows_per_second",
            "Rows per second over the last minute.",
            "gauge",
        ),
        (
            "lag",
            "oxbow_source_lag",
            "How far the source is behind, where its connector knows (files waiting).",
            "gauge",
        ),
    ];
    let batches = rows(
        state,
        "SELECT schema_name, source_name, connector, target_table, status, rows_in, \
         rows_rejected, rows_deduplicated, rows_filtered, bytes_in, rows_per_second, lag \
         FROM oxbow.sources",
    )
    .await?;
    let labels_of = |batch: &RecordBatch, r: usize| {
        [
            ("schema", text(batch, 0, r)),
            ("source", text(batch, 1, r)),
            ("connector", text(batch, 2, r)),
            ("target", text(batch, 3, r)),
        ]
    };
    for (c, (_, name, help, kind)) in COLUMNS.iter().enumerate() {
        header(out, name, help, kind);
        for batch in &batches {
            for r in 0..batch.num_rows() {
                if let Some(v) = number(batch, c + 5, r) {
                    sample(out, name, &labels_of(batch, r), v);
                }
            }
        }
    }
    header(
        out,
        "oxbow_source_up",
        "1 while the source is running, else 0; state says which.",
        "gauge",
    );
    for batch in &batches {
        for r in 0..batch.num_rows() {
            let state = text(batch, 4, r);
            let mut labels = labels_of(batch, r).to_vec();
            let up = state == "running";
            labels.push(("state", state));
            sample(out, "oxbow_source_up", &labels, if up { 1.0 } else { 0.0 });
        }
    }
    Ok(())
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, labels: &[(&str, String)], value: f64) {
    header(out, name, help, "gauge");
    sample(out, name, labels, value);
}

fn sample(out: &mut String, name: &str, labels: &[(&str, String)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the text format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Resident set size from `/proc/self/statm` (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_escape_their_labels() {
        let mut out = String::new();
        sample(&mut out, "m", &[("table", "a\"b\\c\nd".to_string())], 1.5);
        assert_eq!(out, "m{table=\"a\\\"b\\\\c\\nd\"} 1.5\n");
    }
}
