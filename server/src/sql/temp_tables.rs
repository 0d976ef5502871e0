//! Temporary tables (`CREATE TEMP[ORARY] TABLE t (...)` and `... AS query`): a connection's
//! own tables, in memory only, never in the WAL, the catalog or Delta, and gone when the
//! connection closes, as in PostgreSQL. dbt's incremental models build one per run; psql
//! scripts and PostgreSQL's own regression tests use them everywhere.
//!
//! They live in the schema `pg_temp` of the connection's session, which no other connection
//! sees: [`TempTables::catalogs`] wraps the shared catalog list so that the Oxbow database
//! answers `pg_temp` with this connection's tables. As in PostgreSQL, the temporary schema is
//! searched first: an unqualified name that is a temporary table is qualified with `pg_temp`
//! before planning ([`qualify`]) and when Oxbow's own statements resolve names
//! (`crate::sql::names::object_name`), so a temporary table shadows a table of the same name.
//!
//! They take `SELECT`, `INSERT`, `UPDATE`, `DELETE` (DataFusion's `MemTable`), `TRUNCATE` and
//! `DROP`.
//! Not built: `ON COMMIT` clauses (refused), listing them in `pg_class` and
//! `information_schema`, and rolling back their creation with a transaction block.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemorySchemaProvider, SchemaProvider,
};
use datafusion::datasource::TableProvider;
use datafusion::error::Result as DfResult;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Ident, ObjectNamePart, Statement, visit_relations_mut};

use crate::pg_compat::DATABASE_NAME;
use crate::sql::names::ident;

/// The schema temporary tables are in (PostgreSQL's alias of a session's `pg_temp_N`).
pub const TEMP_SCHEMA: &str = "pg_temp";

/// A connection's temporary tables: an extension of its session config.
#[derive(Debug, Default)]
pub struct TempTables {
    schema: Arc<MemorySchemaProvider>,
}

impl TempTables {
    /// The temporary tables of the session `ctx` (none for sessions without them: HTTP).
    pub fn of(ctx: &SessionContext) -> Option<Arc<TempTables>> {
        ctx.state().config().get_extension::<TempTables>()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.schema.table_exist(name)
    }

    /// Adds `table` as `name`; `false` if a temporary table of that name exists.
    pub fn create(&self, name: &str, table: Arc<dyn TableProvider>) -> DfResult<bool> {
        if self.contains(name) {
            return Ok(false);
        }
        self.schema.register_table(name.to_string(), table)?;
        Ok(true)
    }

    /// Drops the temporary table `name`; `false` if there is none.
    pub fn remove(&self, name: &str) -> bool {
        matches!(self.schema.deregister_table(name), Ok(Some(_)))
    }

    /// Empties the temporary table `name` (`TRUNCATE`): an empty table of the same columns
    /// takes its place.
    pub fn truncate(&self, name: &str) -> DfResult<()> {
        let Some(table) = self.schema.deregister_table(name)? else {
            return Ok(());
        };
        let empty = datafusion::datasource::MemTable::try_new(table.schema(), vec![vec![]])?;
        self.schema
            .register_table(name.to_string(), Arc::new(empty))?;
        Ok(())
    }

    /// Drops every temporary table (`DISCARD ALL | TEMP`).
    pub fn clear(&self) {
        for name in self.schema.table_names() {
            self.remove(&name);
        }
    }

    /// `shared` as this connection sees it: the same catalogs, with this connection's
    /// temporary tables as the schema `pg_temp` of the Oxbow database.
    pub fn catalogs(&self, shared: Arc<dyn CatalogProviderList>) -> Arc<dyn CatalogProviderList> {
        Arc::new(SessionCatalogs {
            shared,
            temp: Arc::clone(&self.schema) as Arc<dyn SchemaProvider>,
        })
    }
}

/// Qualifies with `pg_temp` every one-part relation name in `statement` that names one of the
/// session's temporary tables, so that DataFusion's resolution (which looks in the current
/// schema only) finds it first, as PostgreSQL's search path does.
pub fn qualify(statement: &mut Statement, ctx: &SessionContext) {
    let Some(temp) = TempTables::of(ctx) else {
        return;
    };
    if temp.schema.table_names().is_empty() {
        return;
    }
    let _ = visit_relations_mut(statement, |name| {
        if let [part] = name.0.as_slice()
            && let Some(id) = part.as_ident()
            && temp.contains(&ident(id))
        {
            name.0
                .insert(0, ObjectNamePart::Identifier(Ident::new(TEMP_SCHEMA)));
        }
        ControlFlow::<()>::Continue(())
    });
}

#[derive(Debug)]
struct SessionCatalogs {
    shared: Arc<dyn CatalogProviderList>,
    temp: Arc<dyn SchemaProvider>,
}

impl CatalogProviderList for SessionCatalogs {
    fn register_catalog(
        &self,
        name: String,
        catalog: Arc<dyn CatalogProvider>,
    ) -> Option<Arc<dyn CatalogProvider>> {
        self.shared.register_catalog(name, catalog)
    }

    fn catalog_names(&self) -> Vec<String> {
        self.shared.catalog_names()
    }

    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        let catalog = self.shared.catalog(name)?;
        if name != DATABASE_NAME {
            return Some(catalog);
        }
        Some(Arc::new(WithTempSchema {
            shared: catalog,
            temp: Arc::clone(&self.temp),
        }))
    }
}

/// The Oxbow database with the connection's `pg_temp` beside its schemas.
#[derive(Debug)]
struct WithTempSchema {
    shared: Arc<dyn CatalogProvider>,
    temp: Arc<dyn SchemaProvider>,
}

impl CatalogProvider for WithTempSchema {
    /// The shared schemas only: `pg_temp` is found by name but not listed, as PostgreSQL's
    /// listings (`\dn`, SQLAlchemy's `get_schema_names`) leave temporary schemas out.
    fn schema_names(&self) -> Vec<String> {
        self.shared.schema_names()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == TEMP_SCHEMA {
            return Some(Arc::clone(&self.temp));
        }
        self.shared.schema(name)
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        self.shared.register_schema(name, schema)
    }

    fn deregister_schema(
        &self,
        name: &str,
        cascade: bool,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        self.shared.deregister_schema(name, cascade)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn session_with(names: &[&str]) -> SessionContext {
        let temp = TempTables::default();
        for name in names {
            let table = datafusion::datasource::MemTable::try_new(
                Arc::new(datafusion::arrow::datatypes::Schema::empty()),
                vec![vec![]],
            )
            .unwrap();
            assert!(temp.create(name, Arc::new(table)).unwrap());
        }
        let mut config = datafusion::prelude::SessionConfig::new();
        config.set_extension(Arc::new(temp));
        SessionContext::new_with_config(config)
    }

    fn qualified(sql: &str, ctx: &SessionContext) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        qualify(&mut statement, ctx);
        statement.to_string()
    }

    #[test]
    fn only_bare_names_of_temporary_tables_are_qualified() {
        let ctx = session_with(&["tmp"]);
        assert_eq!(
            qualified(
                "INSERT INTO t SELECT * FROM tmp JOIN public.tmp ON true",
                &ctx
            ),
            "INSERT INTO t SELECT * FROM pg_temp.tmp JOIN public.tmp ON true"
        );
        assert_eq!(
            qualified("SELECT * FROM other", &ctx),
            "SELECT * FROM other"
        );
        let temp = TempTables::of(&ctx).unwrap();
        assert!(temp.remove("tmp"));
        assert!(!temp.remove("tmp"));
        assert_eq!(qualified("SELECT * FROM tmp", &ctx), "SELECT * FROM tmp");
    }
}
