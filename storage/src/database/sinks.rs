//! What sinks need of the database: the WAL they follow, pins that keep the segments they
//! have not read yet, and the lake snapshot a `start = 'earliest'` sink emits first.
//!
//! A sink's pin is `sink/<sink id>` in the registry's WAL pins, at its position + 1; retention
//! never deletes a segment holding a record at or above the lowest pin. The pins of the sinks
//! in the catalog are set when the database opens, before the flusher starts, so no flush can
//! delete what a sink still needs before the sink itself starts.

use oxbow_catalog::Catalog;

use crate::registry::TableRegistry;
use crate::wal::WalWriter;
use crate::{Database, Result};

/// The registry key of sink `id`'s WAL pin.
pub fn sink_pin_key(id: &str) -> String {
    format!("sink/{id}")
}

/// Pins the WAL for every sink in `catalog` that has a position and has not failed.
pub(super) fn pin_sinks(catalog: &Catalog, registry: &TableRegistry) -> Result<()> {
    for (id, progress) in catalog.all_sink_progress()? {
        if let (Some(position), None) = (progress.position, &progress.failed) {
            registry.set_wal_pin(&sink_pin_key(&id), position + 1);
        }
    }
    Ok(())
}

impl Database {
    /// The WAL writer (its directory, applied sequence number and segments).
    pub fn wal(&self) -> &WalWriter {
        self.appender.wal()
    }

    /// Keeps the WAL records from `position + 1` on for sink `id`.
    pub fn pin_wal_for_sink(&self, id: &str, position: u64) {
        self.registry.set_wal_pin(&sink_pin_key(id), position + 1);
    }

    /// Releases sink `id`'s WAL pin (dropped or failed).
    pub fn unpin_wal_for_sink(&self, id: &str) {
        self.registry.unpin_wal(&sink_pin_key(id));
    }

    /// The lowest sequence number still only in the hot tier of any table: below it, only
    /// pins keep WAL segments.
    pub fn lowest_hot_seq(&self) -> Option<u64> {
        self.registry.lowest_hot_seq()
    }
}
