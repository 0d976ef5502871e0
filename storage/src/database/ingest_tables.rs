//! The tables the ingest pipeline writes besides a source's target: `oxbow.dead_letters` and
//! `oxbow.source_offsets`. They are ordinary Oxbow tables (hot tier, WAL, Delta) that live in
//! the system schema, so a batch's good rows, its dead letters and the offsets that produced
//! them are written as one WAL transaction (DESIGN rule 4) and handed to Delta exactly once
//! like any other rows. Queryable with SQL; `DELETE FROM oxbow.dead_letters` clears them.
//!
//! Created at the first start of a database (and by a newer binary on an older one): the
//! Delta table first, the catalog entry last, as `CREATE TABLE` does.

use oxbow_catalog::types::SqlType;
use oxbow_catalog::{ColumnDef, ObjectName, TableDef, TableOptions};

use super::system_tables::SYSTEM_SCHEMA;
use crate::{LakeRoot, Result, Table};

/// `oxbow.dead_letters`: every input row a source could not land, with why.
pub const DEAD_LETTERS: &str = "dead_letters";
/// `oxbow.source_offsets`: how far each source has got, one row per batch and position key
/// (a file, a partition, an idempotency key). A source resumes from the latest row per key.
pub const SOURCE_OFFSETS: &str = "source_offsets";

fn column(name: &str, sql_type: SqlType, nullable: bool) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        sql_type,
        nullable,
    }
}

fn definitions() -> Vec<(&'static str, Vec<ColumnDef>, &'static str)> {
    vec![
        (
            DEAD_LETTERS,
            vec![
                column("source", SqlType::Text, false),
                column("table_name", SqlType::Text, true),
                column("stage", SqlType::Text, false),
                column("field", SqlType::Text, true),
                column("error", SqlType::Text, false),
                column("payload", SqlType::Text, true),
                column("position", SqlType::Text, true),
                column("received_at", SqlType::TimestampTz, false),
            ],
            "received_at",
        ),
        (
            SOURCE_OFFSETS,
            vec![
                column("source_id", SqlType::Text, false),
                column("source", SqlType::Text, false),
                column("key", SqlType::Text, false),
                column("offset", SqlType::BigInt, false),
                column("detail", SqlType::Text, true),
                column("recorded_at", SqlType::TimestampTz, false),
            ],
            "recorded_at",
        ),
    ]
}

/// Makes sure both tables exist, creating what is missing. Returns their definitions as the
/// catalog holds them.
pub(super) async fn ensure(catalog: &oxbow_catalog::Catalog, lake: &LakeRoot) -> Result<()> {
    for (name, columns, time_column) in definitions() {
        let name = ObjectName::new(SYSTEM_SCHEMA, name);
        if catalog.table(&name)?.is_some() {
            continue;
        }
        let id = super::ddl::uuid_v4();
        let def = TableDef {
            location: TableDef::location_for_id(&id),
            id,
            name,
            columns,
            options: TableOptions {
                time_column: Some(time_column.into()),
                ..TableOptions::default()
            },
            primary_key: Vec::new(),
        };
        Table::create(lake, &def).await?;
        catalog.ensure_system_table(&def)?;
    }
    Ok(())
}
