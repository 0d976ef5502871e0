//! Time travel in queries: `FROM t VERSION AS OF 3` and `FROM t TIMESTAMP AS OF '2026-12-01
//! 10:00:00'`, Delta/Databricks' spelling, reading the table's Delta tier as of that commit
//! (`oxbow_storage::table` says what a version and its time are; the hot tier is not read).
//!
//! sqlparser's PostgreSQL dialect has no table versions (and DataFusion would ignore one), so
//! the clause is carried through parsing inside the name: the text rewrite
//! (`crate::sql::rewrite::text`) turns `t VERSION AS OF 3` into `t."@version 3"`. Before
//! planning, [`resolve`] loads each such version as an `oxbow_storage::VersionedTable`,
//! registers it for the statement among the session's temporary tables under `t@<version>`,
//! and points the name there, aliased as the table was named so that `t.col` still resolves.
//! The registrations end with the statement ([`Versions`]); its plan keeps the providers.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::common::TableReference;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Statement, TableAlias, TableFactor, Visit, VisitMut,
    Visitor, VisitorMut,
};
use oxbow_storage::{OxbowTable, VersionedTable};

use crate::pg_compat::DATABASE_NAME;
use crate::sql::names::object_name;
use crate::sql::temp_tables::{TEMP_SCHEMA, TempTables};

/// How the text rewrite marks a version in the last part of a name.
pub const VERSION_MARK: &str = "@version ";
pub const TIMESTAMP_MARK: &str = "@timestamp ";

/// The versions a statement registered; dropping it removes them again.
pub struct Versions {
    temp: Arc<TempTables>,
    names: Vec<String>,
}

impl Drop for Versions {
    fn drop(&mut self) {
        for name in &self.names {
            self.temp.remove(name);
        }
    }
}

/// A marked name: the table's name and which of its versions.
#[derive(Debug, Clone, PartialEq)]
enum Wanted {
    Version(u64),
    Timestamp(String),
}

fn marked(name: &ObjectName) -> Option<(ObjectName, Wanted)> {
    let (last, base) = name.0.split_last()?;
    let value = &last.as_ident()?.value;
    let wanted = if let Some(n) = value.strip_prefix(VERSION_MARK) {
        Wanted::Version(n.trim().parse().ok()?)
    } else {
        Wanted::Timestamp(value.strip_prefix(TIMESTAMP_MARK)?.to_string())
    };
    Some((ObjectName(base.to_vec()), wanted))
}

/// Loads and registers every version `statement` reads, and points its names at them.
pub async fn resolve(statement: &mut Statement, ctx: &SessionContext) -> Result<Option<Versions>> {
    let mut found = Vec::new();
    let _ = Visit::visit(&*statement, &mut Collect(&mut found));
    if found.is_empty() {
        return Ok(None);
    }
    let temp = TempTables::of(ctx).ok_or_else(|| {
        DataFusionError::NotImplemented(
            "VERSION AS OF outside a PostgreSQL connection (the HTTP API reads the current version)"
                .into(),
        )
    })?;
    let mut versions = Versions {
        temp: Arc::clone(&temp),
        names: Vec::new(),
    };
    let mut targets = Vec::new();
    for (base, wanted) in found {
        let name = object_name(&base, ctx).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let reference =
            TableReference::full(DATABASE_NAME, name.schema.as_str(), name.name.as_str());
        let provider = ctx.table_provider(reference).await?;
        let Some(table) = provider.downcast_ref::<OxbowTable>() else {
            return Err(DataFusionError::NotImplemented(format!(
                "VERSION AS OF on {name}, which is not an Oxbow table"
            )));
        };
        let table = Arc::clone(table.table());
        let version = match &wanted {
            Wanted::Version(v) => *v,
            Wanted::Timestamp(text) => {
                let at = parse_time(text)?;
                table.version_at(at).await.map_err(external)?
            }
        };
        let registered = format!("{}@{version}", name.name);
        if !temp.contains(&registered) {
            let versioned = VersionedTable::load(&table, version)
                .await
                .map_err(external)?;
            temp.create(&registered, Arc::new(versioned))?;
            versions.names.push(registered.clone());
        }
        targets.push((base, wanted, registered));
    }
    let _ = VisitMut::visit(statement, &mut Point(&targets));
    Ok(Some(versions))
}

fn external(e: oxbow_storage::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// `TIMESTAMP AS OF` takes a timestamp literal: RFC 3339, or `YYYY-MM-DD[ HH:MM:SS[.f]]` in
/// UTC (the session zone of Oxbow's storage).
pub fn parse_time(text: &str) -> Result<i64> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis());
    }
    if let Some(t) = text
        .strip_suffix("+00")
        .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok())
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    Err(DataFusionError::Plan(format!(
        "TIMESTAMP AS OF '{text}': not a timestamp (write it as '2026-12-01 10:00:00' or RFC 3339)"
    )))
}

struct Collect<'a>(&'a mut Vec<(ObjectName, Wanted)>);

impl Visitor for Collect<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, .. } = factor
            && let Some(found) = marked(name)
            && !self.0.contains(&found)
        {
            self.0.push(found);
        }
        ControlFlow::Continue(())
    }
}

struct Point<'a>(&'a [(ObjectName, Wanted, String)]);

impl VisitorMut for Point<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = factor
            && let Some(found) = marked(name)
            && let Some((base, _, registered)) = self
                .0
                .iter()
                .find(|(b, w, _)| (b, w) == (&found.0, &found.1))
        {
            if alias.is_none()
                && let Some(last) = base.0.last().and_then(ObjectNamePart::as_ident)
            {
                *alias = Some(TableAlias {
                    explicit: true,
                    name: last.clone(),
                    columns: Vec::new(),
                    at: None,
                });
            }
            *name = ObjectName(vec![
                ObjectNamePart::Identifier(Ident::new(TEMP_SCHEMA)),
                ObjectNamePart::Identifier(Ident::with_quote('"', registered.clone())),
            ]);
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_name_a_version_or_a_time() {
        let name = |parts: &[&str]| {
            ObjectName(
                parts
                    .iter()
                    .map(|p| ObjectNamePart::Identifier(Ident::new(*p)))
                    .collect(),
            )
        };
        assert_eq!(
            marked(&name(&["s", "t", "@version 3"])),
            Some((name(&["s", "t"]), Wanted::Version(3)))
        );
        assert_eq!(
            marked(&name(&["t", "@timestamp 2026-12-01 10:00:00"])),
            Some((
                name(&["t"]),
                Wanted::Timestamp("2026-12-01 10:00:00".into())
            ))
        );
        assert_eq!(marked(&name(&["s", "t"])), None);
        assert_eq!(marked(&name(&["t", "@version x"])), None);
    }

    #[test]
    fn times_are_read_in_utc() {
        assert_eq!(parse_time("1970-01-01 00:00:01").unwrap(), 1000);
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z").unwrap(), 1500);
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert!(parse_time("yesterday").is_err());
    }
}
