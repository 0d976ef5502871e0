//! `POST /data/v1/sql-query`: Sunbird Obsrv's v1 SQL query endpoint, so that its clients
//! (and dashboards written for it) work against Oxbow.
//!
//! Request: `{"context": {"dataSource": "events", "dataSourceType": "realtime" | "datalake"},
//! "querySql": {"query": "SELECT ..."}}`. Obsrv sends `realtime` queries to Druid and
//! `datalake` queries to Hudi through Trino; in Oxbow both are tiers of the same table, so
//! the mapping is:
//!
//! | `dataSourceType` | reads |
//! | --- | --- |
//! | `realtime` | the hot tier only: rows not yet flushed to Delta |
//! | `datalake` | the Delta tier only: rows already flushed |
//! | absent (or no `context`) | both: the whole table, as `/v1/sql` |
//!
//! Both are read at the statement's one snapshot, so for one snapshot `realtime` plus
//! `datalake` is the whole table. `dataSource`, when given, must name a table or view
//! (42P01 otherwise); the query itself says what it reads. Context keys Oxbow does not use
//! (`granularity`) are accepted and ignored, as Obsrv's own SQL path ignores them.
//!
//! Answer: Obsrv's envelope, `{"id": "api.obsrv.data.sql-query", "ver": "v1", "ts": ...,
//! "params": {"status": "SUCCESS", "msgid": ...}, "responseCode": "OK", "result": [rows]}`,
//! with the rows streamed as `/v1/sql`'s JSON; errors are `/v1/sql`'s.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use oxbow_catalog::{DEFAULT_SCHEMA, ObjectName};
use oxbow_storage::TierScan;
use serde::Deserialize;

use super::HttpState;
use super::error::ApiError;
use super::formats::Format;
use super::query::QueryRequest;

#[derive(Debug, Deserialize)]
struct ObsrvRequest {
    #[serde(default)]
    context: Option<Context>,
    #[serde(rename = "querySql")]
    query_sql: QuerySql,
}

#[derive(Debug, Deserialize)]
struct Context {
    #[serde(rename = "dataSource")]
    data_source: Option<String>,
    #[serde(rename = "dataSourceType")]
    data_source_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QuerySql {
    query: String,
}

/// The tiers a `dataSourceType` reads.
fn tiers(data_source_type: Option<&str>) -> Result<TierScan, ApiError> {
    match data_source_type {
        None => Ok(TierScan::Both),
        Some(t) if t.eq_ignore_ascii_case("realtime") => Ok(TierScan::HotOnly),
        Some(t) if t.eq_ignore_ascii_case("datalake") => Ok(TierScan::LakeOnly),
        Some(other) => Err(ApiError::bad_request(format!(
            "dataSourceType \"{other}\" is neither realtime (the hot tier) nor datalake (the Delta tier)"
        ))),
    }
}

pub async fn sql_query(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(&state, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn run(state: &HttpState, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    let role = state.auth.caller(headers)?;
    let request: ObsrvRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"context\": {{\"dataSource\", \"dataSourceType\"}}, \"querySql\": {{\"query\"}}}}: {e}"
        ))
    })?;
    let context = request.context.as_ref();
    let tiers = tiers(context.and_then(|c| c.data_source_type.as_deref()))?;
    if let Some(source) = context.and_then(|c| c.data_source.as_deref()) {
        let name = match source.split_once('.') {
            Some((schema, name)) => ObjectName::new(schema, name),
            None => ObjectName::new(DEFAULT_SCHEMA, source),
        };
        let catalog = state.engine.db.catalog();
        let known = catalog
            .table(&name)
            .map_err(|e| ApiError::from_error(&e))?
            .is_some()
            || catalog
                .view(&name)
                .map_err(|e| ApiError::from_error(&e))?
                .is_some();
        if !known {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                crate::wire::sqlstate::code::UNDEFINED_TABLE,
                format!("dataSource \"{source}\" is not a table or view"),
            ));
        }
    }
    let started = std::time::Instant::now();
    let result = state
        .engine
        .start(
            &role,
            QueryRequest {
                sql: &request.query_sql.query,
                params: &[],
                tiers,
                timeout: None,
            },
        )
        .await;
    let prefix = serde_json::json!({
        "id": "api.obsrv.data.sql-query",
        "ver": "v1",
        "ts": chrono::Utc::now().to_rfc3339(),
        "params": {"status": "SUCCESS", "msgid": uuid::Uuid::new_v4().to_string()},
        "responseCode": "OK",
    })
    .to_string();
    // The envelope without its closing brace, then `"result": <rows>}`.
    let prefix = format!("{},\"result\":", prefix.trim_end_matches('}'));
    let result = match result {
        Ok(started) => {
            super::sql::stream(started, Format::Json, Bytes::from(prefix), Bytes::from("}")).await
        }
        Err(e) => Err(e),
    };
    super::metrics::query_done("http", started.elapsed(), result.is_ok());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_source_types_map_to_tiers() {
        assert_eq!(tiers(None).unwrap(), TierScan::Both);
        assert_eq!(tiers(Some("realtime")).unwrap(), TierScan::HotOnly);
        assert_eq!(tiers(Some("DATALAKE")).unwrap(), TierScan::LakeOnly);
        assert!(tiers(Some("druid")).is_err());
    }
}
