//! SQL functions the ingest pipeline brings, registered in every session (so they work in a
//! source's `AS SELECT` and in ordinary queries alike).
//!
//! - [`mask`]: `mask_email(text)` and `mask(text, keep_last)`, for personal data. Hashing is
//!   DataFusion's own `sha256(text)` (a `bytea`; `encode(sha256(x), 'hex')` for text).

pub mod mask;

use datafusion::prelude::SessionContext;

/// Registers the functions of this room in `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(mask::mask_email());
    ctx.register_udf(mask::mask());
}
