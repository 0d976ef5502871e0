//! Oxbow's ingest layer: how outside data becomes rows of a table, and how rows leave again.
//!
//! # Layout
//! - [`formats`]: bytes to Arrow batches and back: COPY's text, CSV and binary formats, and
//!   the source formats (JSON, CSV, Parquet, Avro) with per-row errors.
//! - [`records`]: rows on their way through the stages, and the ones refused ([`Reject`]).
//! - [`pipeline`]: the stages between a connector and a table (decode, transform, validate,
//!   event time, deduplicate, land with dead letters and offsets in one WAL transaction).
//! - [`sources`]: the [`Source`] trait and the pulling connectors (DATAGEN, FILES, KAFKA).
//! - [`runtime`]: [`SourceManager`], running the catalog's sources, HTTP pushes, and
//!   `oxbow.sources`.
//! - [`sinks`]: [`SinkManager`], `CREATE SINK`'s runtime: rows follow a table's WAL out to
//!   FILES, DELTA or KAFKA, exactly once, and `oxbow.sinks`.
//! - [`functions`]: SQL functions for the pipeline (`mask_email`, `mask`).
//! - [`error`]: [`FormatError`] (what a format could not read), [`IngestError`].
//!
//! Not here yet: the Postgres CDC connector (it will implement [`Source`]).
//!
//! Dependencies point one way: `server → ingest → storage → catalog`. This crate knows no wire
//! protocol and no SQL grammar: the server parses `CREATE SOURCE` into a
//! [`oxbow_catalog::SourceDef`] and hands it here.

pub mod error;
pub mod formats;
pub mod functions;
pub mod pipeline;
pub mod records;
pub mod runtime;
pub mod sinks;
pub mod sources;

pub use error::{FormatError, IngestError, Result};
pub use records::Reject;
pub use runtime::{SourceManager, SourcesConfig};
pub use sinks::{SinkManager, SinksConfig};
pub use sources::Source;
