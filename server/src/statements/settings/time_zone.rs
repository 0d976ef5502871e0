//! The session time zone: `SET TIME ZONE 'Europe/Paris'` (and `SET timezone = ...`) changes
//! how `timestamptz` values are written out, as in PostgreSQL, where
//! `2026-01-01 12:00:00+00` reads `2026-01-01 13:00:00+01` in Paris. The instant never changes;
//! stored values stay in UTC.
//!
//! The zone is kept in the connection's metadata under datafusion-postgres' key, so `SHOW
//! TimeZone` reads it, and a query's plan gets a last projection that relabels its timestamptz
//! columns with the zone (an Arrow cast between zones keeps the values; arrow-pg writes the
//! offset of the column's zone). An unknown zone is refused at `SET` with 22023, as PostgreSQL
//! does, so that no query fails later for it.

use std::str::FromStr;

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast};
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::startup::ParameterStatus;

use crate::wire::sqlstate::code;

/// datafusion-postgres' metadata key for the session time zone.
const METADATA_KEY: &str = "timezone";

/// The zone a `SET` statement sets, if it is one (`None` inside: back to the default).
fn zone_set_by(statement: &Statement) -> Option<Option<String>> {
    let text = match statement {
        Statement::Set(Set::SetTimeZone { value, .. }) => super::value_text(value),
        other => super::assigned(other, "timezone")?.unwrap_or_else(|| "default".into()),
    };
    if text.eq_ignore_ascii_case("default") || text.eq_ignore_ascii_case("local") {
        return Some(None);
    }
    Some(Some(text))
}

/// Whether `statement` sets the time zone (answered by [`set`], with no plan of its own).
pub fn set_statement(statement: &Statement) -> bool {
    zone_set_by(statement).is_some()
}

/// Answers a `SET` of the time zone: checks the zone, keeps it for the session and reports it
/// to the client (`ParameterStatus`, which drivers track).
pub async fn set(
    statement: &Statement,
    client: &mut dyn HookClient,
) -> Option<PgWireResult<Response>> {
    let zone = zone_set_by(statement)?;
    Some(apply(zone, client).await)
}

async fn apply(zone: Option<String>, client: &mut dyn HookClient) -> PgWireResult<Response> {
    let reported = match zone {
        Some(zone) => {
            if Tz::from_str(&zone).is_err() {
                return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".into(),
                    code::INVALID_PARAMETER_VALUE.into(),
                    format!("invalid value for parameter \"TimeZone\": \"{zone}\""),
                ))));
            }
            client
                .metadata_mut()
                .insert(METADATA_KEY.into(), zone.clone());
            zone
        }
        None => {
            client.metadata_mut().remove(METADATA_KEY);
            "Etc/UTC".into()
        }
    };
    client
        .send_message(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
            "TimeZone".into(),
            reported,
        )))
        .await?;
    Ok(Response::Execution(Tag::new("SET")))
}

/// The session's zone, if it is not UTC (the zone values are stored and computed in).
pub fn of_session(client: &(impl ClientInfo + ?Sized)) -> Option<String> {
    let zone = client.metadata().get(METADATA_KEY)?;
    let utc = [
        "utc",
        "etc/utc",
        "gmt",
        "etc/gmt",
        "z",
        "+00:00",
        "zulu",
        "universal",
    ];
    (!utc.contains(&zone.to_ascii_lowercase().as_str())).then(|| zone.clone())
}

/// `plan` with its timestamptz result columns in `zone`, or unchanged if it has none.
pub fn relabel(plan: LogicalPlan, zone: &str) -> datafusion::error::Result<LogicalPlan> {
    let schema = plan.schema().clone();
    let zoned = |t: &DataType| matches!(t, DataType::Timestamp(_, Some(_)));
    if !schema.fields().iter().any(|f| zoned(f.data_type())) {
        return Ok(plan);
    }
    let columns: Vec<Expr> = schema
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            match field.data_type() {
                DataType::Timestamp(unit, Some(_)) => {
                    cast(column, DataType::Timestamp(*unit, Some(zone.into())))
                        .alias_qualified(qualifier.cloned(), field.name())
                }
                _ => column,
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn zone(sql: &str) -> Option<Option<String>> {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        zone_set_by(&statement)
    }

    #[test]
    fn every_form_of_set_time_zone_is_read() {
        assert_eq!(
            zone("SET TIME ZONE 'Europe/Paris'"),
            Some(Some("Europe/Paris".into()))
        );
        assert_eq!(zone("SET timezone = 'UTC'"), Some(Some("UTC".into())));
        assert_eq!(
            zone("SET TimeZone TO 'America/New_York'"),
            Some(Some("America/New_York".into()))
        );
        assert_eq!(zone("SET TIME ZONE DEFAULT"), Some(None));
        assert_eq!(zone("SET search_path = public"), None);
    }
}
