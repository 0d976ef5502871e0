//! Running one SQL query for an HTTP request: a session of its own (a copy of the template,
//! as each pgwire connection gets, with its own memory pool and, for the Obsrv endpoint, a
//! [`TierScan`]), the privilege check of the caller's role, planning with the same rewrites
//! and retries as pgwire, `$n` parameters from JSON values, and a record batch stream that
//! ends with 57014 when the request's `statement_timeout` passes (also while computing).
//!
//! Only queries run here (`SELECT`, `WITH`, `VALUES`, `EXPLAIN`, `SHOW`-free): writes, DDL
//! and session statements are refused with 0A000, because a request has no session to hold
//! a transaction or a setting and a write could not be cut short safely.
//!
//! Dropping the stream (the client went away) drops the DataFusion work.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::{Stream, StreamExt};
use oxbow_storage::{Database, TierScan};
use tokio::time::Instant;

use super::error::ApiError;
use crate::error::ServerError;
use crate::sql::memory::QueryMemory;
use crate::statements::SessionRole;
use crate::wire::sqlstate::code;

pub type Batches = Pin<Box<dyn Stream<Item = Result<RecordBatch, ApiError>> + Send>>;

/// What every request's query starts from.
#[derive(Clone)]
pub struct QueryEngine {
    pub db: Arc<Database>,
    pub base: SessionContext,
    pub memory: QueryMemory,
}

/// One query of a request.
pub struct QueryRequest<'a> {
    pub sql: &'a str,
    pub params: &'a [serde_json::Value],
    pub tiers: TierScan,
    pub timeout: Option<Duration>,
}

/// A started query: its columns and its batches.
pub struct Started {
    pub schema: SchemaRef,
    pub batches: Batches,
}

impl QueryEngine {
    /// A fresh session, as a new pgwire connection gets one.
    pub fn session(&self, tiers: TierScan) -> SessionContext {
        let mut state = self.base.state();
        state
            .config_mut()
            .set_extension(Arc::new(oxbow_storage::TransactionWrites::default()));
        tiers.apply(state.config_mut());
        if let Ok((runtime, _)) = self.memory.session_runtime(state.runtime_env()) {
            state = crate::sql::session::with_runtime(state, runtime);
        }
        SessionContext::new_with_state(state)
    }

    /// Parses, checks, plans and starts `request` as `role`. Errors before the first batch
    /// (syntax, privileges, planning, the timeout while planning) come back here.
    pub async fn start(
        &self,
        role: &SessionRole,
        request: QueryRequest<'_>,
    ) -> Result<Started, ApiError> {
        let deadline = request.timeout.map(|t| Instant::now() + t);
        let statement = parse_one(request.sql)?;
        let ctx = self.session(request.tiers);
        crate::statements::privileges::check_role(&self.db, &ctx, role, &statement)
            .map_err(|e| ApiError::from_error(&e))?;
        let planned = async {
            let mut plan = crate::statements::select::plan_statement(&ctx, &statement, &role.name)
                .await
                .map_err(|e| ApiError::from_error(&e))?;
            if !request.params.is_empty() {
                let types = plan
                    .get_parameter_types()
                    .map_err(|e| ApiError::from_error(&e))?;
                let values = request
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let want = types.get(&format!("${}", i + 1)).cloned().flatten();
                        param(v, want.as_ref())
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                plan = plan
                    .with_param_values(ParamValues::from(values))
                    .map_err(|e| ApiError::from_error(&e))?;
            }
            let df = ctx
                .execute_logical_plan(plan)
                .await
                .map_err(|e| ApiError::from_error(&e))?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let stream = df
                .execute_stream()
                .await
                .map_err(|e| ApiError::from_error(&e))?;
            Ok::<_, ApiError>((schema, stream))
        };
        let (schema, stream) = match deadline {
            Some(d) => tokio::time::timeout_at(d, planned)
                .await
                .map_err(|_| timed_out())??,
            None => planned.await?,
        };
        let batches = stream.map(|r| r.map_err(|e| ApiError::from_error(&e)));
        let batches: Batches = match deadline {
            Some(d) => Box::pin(until(batches, d)),
            None => Box::pin(batches),
        };
        Ok(Started { schema, batches })
    }
}

fn timed_out() -> ApiError {
    ApiError::new(
        super::error::status_of(code::QUERY_CANCELED),
        code::QUERY_CANCELED,
        "canceling statement due to statement timeout",
    )
}

/// `batches`, ending with a timeout error once `deadline` passes, even mid-batch.
fn until(
    batches: impl Stream<Item = Result<RecordBatch, ApiError>> + Send + 'static,
    deadline: Instant,
) -> impl Stream<Item = Result<RecordBatch, ApiError>> + Send {
    let sleep = Box::pin(tokio::time::sleep_until(deadline));
    futures::stream::unfold(
        (Box::pin(batches), sleep, false),
        |(mut batches, mut sleep, done)| async move {
            if done {
                return None;
            }
            tokio::select! {
                biased;
                () = &mut sleep => Some((Err(timed_out()), (batches, sleep, true))),
                next = batches.next() => next.map(|item| (item, (batches, sleep, false))),
            }
        },
    )
}

/// The one statement of `sql`; only queries are run over HTTP.
fn parse_one(sql: &str) -> Result<Statement, ApiError> {
    let text = crate::sql::rewrite::text::rewrite(sql);
    let mut statements =
        Parser::parse_sql(&PostgreSqlDialect {}, &text).map_err(|e| ApiError::from_error(&e))?;
    if statements.len() != 1 {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            code::SYNTAX_ERROR,
            format!(
                "one statement per request, not {} (send them one by one)",
                statements.len()
            ),
        ));
    }
    let statement = statements.remove(0);
    match &statement {
        Statement::Query(_) => Ok(statement),
        Statement::Explain {
            statement: inner, ..
        } if matches!(**inner, Statement::Query(_)) => Ok(statement),
        other => Err(ApiError::from_error(&ServerError::Unsupported(format!(
            "over HTTP only queries run (SELECT, WITH, VALUES, EXPLAIN); \"{}\" over HTTP",
            first_words(&other.to_string())
        )))),
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// A JSON parameter as a value of the placeholder's type when the plan knows it.
fn param(
    value: &serde_json::Value,
    want: Option<&datafusion::arrow::datatypes::DataType>,
) -> Result<ScalarValue, ApiError> {
    use serde_json::Value;
    let scalar = match value {
        Value::Null => ScalarValue::Null,
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ScalarValue::Int64(Some(i)),
            None => ScalarValue::Float64(n.as_f64()),
        },
        Value::String(s) => ScalarValue::Utf8(Some(s.clone())),
        other => {
            return Err(ApiError::bad_request(format!(
                "a parameter must be null, a boolean, a number or a string, not {other}"
            )));
        }
    };
    match want {
        Some(t) if &scalar.data_type() != t => scalar.cast_to(t).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                code::INVALID_TEXT_REPRESENTATION,
                format!("parameter {value} is not a valid {t}: {e}"),
            )
        }),
        _ => Ok(scalar),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_query_is_accepted() {
        assert!(parse_one("SELECT 1").is_ok());
        assert!(parse_one("EXPLAIN SELECT 1").is_ok());
        assert_eq!(parse_one("SELECT 1; SELECT 2").unwrap_err().code, "42601");
        assert_eq!(parse_one("DROP TABLE t").unwrap_err().code, "0A000");
        assert_eq!(
            parse_one("INSERT INTO t VALUES (1)").unwrap_err().code,
            "0A000"
        );
        assert_eq!(parse_one("SELEC 1").unwrap_err().code, "42601");
    }

    #[test]
    fn parameters_take_the_placeholder_type() {
        use datafusion::arrow::datatypes::DataType;
        assert_eq!(
            param(&serde_json::json!("7"), Some(&DataType::Int64)).unwrap(),
            ScalarValue::Int64(Some(7))
        );
        assert_eq!(
            param(&serde_json::json!(2), None).unwrap(),
            ScalarValue::Int64(Some(2))
        );
        assert!(param(&serde_json::json!([1]), None).is_err());
    }
}
