//! WAL retention: after flushes, the WAL segments whose records are all in Delta are deleted.
//!
//! The low-water mark is the lowest sequence number still only in the hot tier of any table
//! (or, with nothing hot, the next one after the last applied record). One slowly flushed
//! table therefore keeps every segment from its oldest hot row on (review D11). A table that
//! could not be opened pins the WAL from its first record on, until it is dropped.

use crate::Result;
use crate::registry::TableRegistry;
use crate::wal::WalWriter;

/// Deletes the WAL segments whose records are all in Delta. Returns how many it deleted.
pub fn truncate_wal(wal: &WalWriter, registry: &TableRegistry) -> Result<usize> {
    let applied = wal.applied_seq();
    let low_water = [registry.lowest_hot_seq(), registry.lowest_pinned_seq()]
        .into_iter()
        .flatten()
        .fold(applied + 1, u64::min);
    wal.delete_segments_below(low_water)
}
