//! Oxbow's ingest layer: how outside data becomes Arrow batches on its way to a table, and how
//! rows leave again.
//!
//! # Layout
//! - [`formats`]: bytes to Arrow batches and back (COPY's text, CSV and binary formats today;
//!   JSON, Parquet and Avro next), with the line and field of a bad value in each error.
//! - [`error`]: [`FormatError`], what a format could not read.
//!
//! # What this crate will own (see `../shared/DESIGN.md`, "The flow of a row")
//! - the `Source` and `Sink` traits and their connectors (Kafka, files and object storage,
//!   HTTP push, a data generator, Postgres CDC), each in a module of its own;
//! - the pipeline stages between decoding and the table: validate, deduplicate, transform,
//!   enrich, mask, event time;
//! - source offsets, which travel with their rows into the WAL record and the Delta commit;
//! - dead letters: a row that fails any stage is kept with its reason, never dropped.
//!
//! Dependencies point one way: `server → ingest → storage → catalog`. This crate knows no wire
//! protocol and no SQL text: the server parses statements and hands this crate their options.

pub mod error;
pub mod formats;

pub use error::{FormatError, Result};
