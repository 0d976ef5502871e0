//! [`Database::write`]: rows for several tables, by name, as one WAL transaction. The ingest
//! pipeline writes a batch's good rows, its dead letters and its offsets this way, so that
//! after a crash all three are there or none is.

use std::sync::Arc;

use arrow::array::RecordBatch;
use oxbow_catalog::ObjectName;

use super::Database;
use crate::{Appender, Error, Result, Table};

impl Database {
    /// Writes each table's rows (checked against its constraints and conformed to its
    /// schema, as INSERT's are) as one WAL transaction, and returns once it is durable and
    /// visible. Parts without rows are left out; nothing at all is written for none. Fails
    /// with the first part's error before anything is logged.
    pub async fn write(&self, parts: Vec<(ObjectName, Vec<RecordBatch>)>) -> Result<u64> {
        let mut prepared: Vec<(Arc<Table>, Vec<RecordBatch>)> = Vec::with_capacity(parts.len());
        for (name, batches) in parts {
            let table = self
                .table(&name)
                .ok_or_else(|| match self.unavailable_table(&name) {
                    Some(t) => t.error(),
                    None => Error::from(oxbow_catalog::Error::RelationNotFound(name.to_string())),
                })?;
            if let Some(batches) = Appender::prepare(table.table(), batches)? {
                prepared.push((Arc::clone(table.table()), batches));
            }
        }
        let parts = prepared
            .iter()
            .map(|(table, batches)| (table.as_ref(), batches.clone()))
            .collect();
        self.appender.write_transaction(parts).await
    }

    /// Whether the hot tier is over its memory budget: a push endpoint answers 503 with
    /// `Retry-After` instead of making its client wait.
    pub fn hot_tier_full(&self) -> bool {
        self.appender.over_budget()
    }
}
