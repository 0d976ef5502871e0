//! [`TransactionWrites`]: the rows a session's transaction block has written, held back until
//! `COMMIT`.
//!
//! Inside `BEGIN ... COMMIT`, `INSERT` and `COPY` rows are checked (constraints, types) when
//! their statement runs, and kept here instead of being logged; the session's own queries see
//! them (a scan adds them to the hot rows), other sessions do not. `COMMIT` writes the rows
//! of every table as one WAL transaction and returns once they are durable (after a crash,
//! all of them are there or none); `ROLLBACK` (or a lost
//! connection) drops them.
//!
//! `SAVEPOINT`, `ROLLBACK TO` and `RELEASE` work on the held rows the same way.
//!
//! Held rows count against the hot tier's memory budget from the statement that holds them
//! until the block ends, and one block may hold at most a quarter of the hot memory limit
//! ([`HELD_SHARE_OF_HOT_LIMIT`]): past it the statement is refused (54000 at the wire) and
//! the block stays open with what it held before (review D8).
//!
//! What this does not make transactional, and says so: `UPDATE`, `DELETE`, `TRUNCATE` and DDL
//! still commit when they run. So that they see the block's earlier rows, those are written
//! first, and the block is marked: a later `ROLLBACK` cannot undo them and warns.
//!
//! Lives in the session's DataFusion config (one per connection), where both the scans of
//! [`crate::OxbowTable`] and the write path find it.

use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use datafusion::execution::config::SessionConfig;

use super::backpressure::{Reservation, batches_bytes};
use crate::{Appender, Error, Result, Table};

/// The share of the hot memory limit one block may hold: held rows cannot be flushed until
/// `COMMIT`, so a block that held the whole budget would stall every writer. A quarter leaves
/// room for the others.
pub const HELD_SHARE_OF_HOT_LIMIT: usize = 4;

#[derive(Debug, Default)]
pub struct TransactionWrites {
    state: Mutex<Block>,
}

#[derive(Debug, Default)]
struct Block {
    open: bool,
    /// Per table, in the order first written: its prepared batches, one per statement.
    tables: Vec<Pending>,
    /// A statement of the block committed on its own (see the module doc).
    committed_early: bool,
    /// Open savepoints, oldest first: name, and how many batches each table held then.
    savepoints: Vec<Savepoint>,
    /// The held rows' bytes, counted against the hot tier's memory budget until the block
    /// ends (dropping the block, as a lost connection does, releases them).
    reservation: Option<Reservation>,
}

impl Block {
    fn held_bytes(&self) -> usize {
        self.reservation.as_ref().map_or(0, Reservation::bytes)
    }

    fn release(&mut self, bytes: usize) {
        if let Some(reservation) = &mut self.reservation {
            reservation.shrink(bytes);
        }
    }
}

#[derive(Debug)]
struct Savepoint {
    name: String,
    held: Vec<(String, usize)>,
    /// Whether a statement had committed on its own when the savepoint was set.
    committed_early: bool,
}

#[derive(Debug)]
struct Pending {
    table: Arc<Table>,
    appender: Arc<Appender>,
    batches: Vec<RecordBatch>,
}

/// What [`TransactionWrites::end`] found when the block ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ended {
    /// Rows written at `COMMIT` (0 for a rollback).
    pub rows: u64,
    /// Some statement had committed on its own, so a rollback did not undo everything.
    pub committed_early: bool,
}

impl TransactionWrites {
    /// The transaction state of the session whose config this is, if it keeps one.
    pub fn of(config: &SessionConfig) -> Option<Arc<Self>> {
        config.get_extension::<Self>()
    }

    /// `BEGIN`: writes are held from now on.
    pub fn begin(&self) {
        let mut block = self.lock();
        *block = Block {
            open: true,
            ..Block::default()
        };
    }

    pub fn is_open(&self) -> bool {
        self.lock().open
    }

    /// Holds one statement's rows (already prepared by [`Appender::prepare`]) for `table`:
    /// counts them against the memory budget (waiting for room like a write), or refuses them
    /// with [`Error::TransactionTooLarge`] when the block would hold more than its share
    /// ([`HELD_SHARE_OF_HOT_LIMIT`]) of the hot memory limit. Refused rows are not held.
    pub async fn hold(
        &self,
        table: &Arc<Table>,
        appender: &Arc<Appender>,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        let bytes = batches_bytes(&batches);
        let cap = appender.hot_memory_limit() / HELD_SHARE_OF_HOT_LIMIT;
        let held = self.lock().held_bytes();
        if held.saturating_add(bytes) > cap {
            return Err(Error::TransactionTooLarge {
                held,
                statement: bytes,
                cap,
            });
        }
        // Outside the lock: this may wait for the flusher. The session runs one statement at
        // a time, so the block cannot change meanwhile.
        let reservation = appender.reserve_held(bytes).await;
        let mut block = self.lock();
        match &mut block.reservation {
            Some(held) => held.merge(reservation),
            None => block.reservation = Some(reservation),
        }
        match block
            .tables
            .iter_mut()
            .find(|p| p.table.def().id == table.def().id)
        {
            Some(pending) => pending.batches.extend(batches),
            None => block.tables.push(Pending {
                table: Arc::clone(table),
                appender: Arc::clone(appender),
                batches,
            }),
        }
        Ok(())
    }

    /// `SAVEPOINT name`: remembers what the block holds now.
    pub fn savepoint(&self, name: &str) {
        let mut block = self.lock();
        if !block.open {
            return;
        }
        let held = block
            .tables
            .iter()
            .map(|p| (p.table.def().id.clone(), p.batches.len()))
            .collect();
        let committed_early = block.committed_early;
        block.savepoints.push(Savepoint {
            name: name.to_string(),
            held,
            committed_early,
        });
    }

    /// `RELEASE name`: forgets the savepoint and those set after it. False if there is none.
    pub fn release(&self, name: &str) -> bool {
        let mut block = self.lock();
        match block.savepoints.iter().rposition(|s| s.name == name) {
            Some(i) => {
                block.savepoints.truncate(i);
                true
            }
            None => false,
        }
    }

    /// `ROLLBACK TO name`: drops the rows held since the savepoint, which stays set. `None` if
    /// there is no such savepoint; `Some(true)` if a statement committed on its own since.
    pub fn rollback_to(&self, name: &str) -> Option<bool> {
        let mut block = self.lock();
        let i = block.savepoints.iter().rposition(|s| s.name == name)?;
        block.savepoints.truncate(i + 1);
        let savepoint = &block.savepoints[i];
        let held = savepoint.held.clone();
        let committed_since = block.committed_early && !savepoint.committed_early;
        let mut dropped = 0;
        block.tables.retain_mut(|pending| {
            match held.iter().find(|(id, _)| *id == pending.table.def().id) {
                Some((_, count)) => {
                    dropped += batches_bytes(pending.batches.get(*count..).unwrap_or_default());
                    pending.batches.truncate(*count);
                    true
                }
                None => {
                    dropped += batches_bytes(&pending.batches);
                    false
                }
            }
        });
        block.release(dropped);
        Some(committed_since)
    }

    /// The rows held for the table with `table_id`, for this session's scans.
    pub fn held(&self, table_id: &str) -> Vec<RecordBatch> {
        self.lock()
            .tables
            .iter()
            .find(|p| p.table.def().id == table_id)
            .map(|p| p.batches.clone())
            .unwrap_or_default()
    }

    /// Before a statement that commits on its own (`UPDATE`, `DELETE`, DDL): writes the rows
    /// held so far, so that it sees them, and marks the block as no longer undoable.
    pub async fn write_held(&self) -> Result<()> {
        let pending = {
            let mut block = self.lock();
            if !block.open {
                return Ok(());
            }
            block.committed_early = true;
            // What savepoints remembered is written now: nothing is left to roll back to.
            for savepoint in &mut block.savepoints {
                savepoint.held.clear();
            }
            (std::mem::take(&mut block.tables), block.reservation.take())
        };
        write(pending.0, pending.1).await.map(|_| ())
    }

    /// `COMMIT` (`commit`: the rows are written) or `ROLLBACK` (dropped): the block ends.
    pub async fn end(&self, commit: bool) -> Result<Ended> {
        let (pending, committed_early, reservation) = {
            let mut block = self.lock();
            let block = std::mem::take(&mut *block);
            (block.tables, block.committed_early, block.reservation)
        };
        // A rollback drops the reservation with the rows.
        let rows = if commit {
            write(pending, reservation).await?
        } else {
            0
        };
        Ok(Ended {
            rows,
            committed_early,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Block> {
        self.state.lock().expect("transaction state lock")
    }
}

/// Writes every table's held rows as one WAL transaction (the rows were prepared when their
/// statements ran), under the reservation that counted them while held.
async fn write(pending: Vec<Pending>, reservation: Option<Reservation>) -> Result<u64> {
    let Some(appender) = pending.first().map(|p| Arc::clone(&p.appender)) else {
        return Ok(0);
    };
    let parts = pending
        .iter()
        .map(|p| (p.table.as_ref(), p.batches.clone()))
        .collect();
    match reservation {
        Some(reservation) => appender.write_reserved(parts, reservation).await,
        None => appender.write_transaction(parts).await,
    }
}

/// The write path of a statement's rows in a session: held while its transaction block is
/// open, written through the WAL otherwise. Returns the number of rows.
pub async fn append(
    config: &SessionConfig,
    table: &Arc<Table>,
    appender: &Arc<Appender>,
    batches: Vec<RecordBatch>,
) -> Result<u64> {
    if table.is_keyed() {
        // A keyed write decides conflicts against the table as it is, so it cannot wait for
        // COMMIT: like UPDATE and DELETE it writes the block's earlier rows and commits now.
        write_held(config).await?;
        let on_conflict = super::keyed::default_on_conflict(table);
        return appender.write_keyed(table, batches, on_conflict).await;
    }
    match TransactionWrites::of(config) {
        Some(block) if block.is_open() => match Appender::prepare(table, batches)? {
            Some(batches) => {
                let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                block.hold(table, appender, batches).await?;
                Ok(rows)
            }
            None => Ok(0),
        },
        _ => appender.append(table, batches).await,
    }
}

/// Before a statement that commits on its own: see [`TransactionWrites::write_held`].
pub async fn write_held(config: &SessionConfig) -> Result<()> {
    match TransactionWrites::of(config) {
        Some(block) => block.write_held().await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savepoints_of_a_closed_block_are_not_kept() {
        let block = TransactionWrites::default();
        block.savepoint("a");
        assert_eq!(block.rollback_to("a"), None);
        block.begin();
        block.savepoint("a");
        block.savepoint("b");
        assert!(block.release("a"));
        assert!(!block.release("b"));
        assert_eq!(block.rollback_to("a"), None);
    }
}
