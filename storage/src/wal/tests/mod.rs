//! Tests of the WAL beyond one record: replay's rules on hand-made files, and the writer and
//! replay together on a simulated disk that loses power or fails chosen operations.
//!
//! - `replay_rules.rs`: transactions, torn tails, corruption and empty segments.
//! - `ledger.rs`: the workload and its ledger (what was acknowledged, refused or left open),
//!   and the model of the lake that flushes take rows into.
//! - `power_loss.rs`: hundreds of power losses at random operations, each followed by replay.
//! - `io_errors.rs`: every operation of a fixed workload failed in turn.

mod io_errors;
mod ledger;
mod power_loss;
mod replay_rules;
