//! [`TierScan`]: which tiers a session's scans read. Every table is read whole (Delta plus the
//! hot rows above it) unless the session's config carries a `TierScan` extension that names
//! one tier: the HTTP API's Obsrv-shaped endpoint sets it (`dataSourceType: realtime` is the
//! hot tier, `datalake` the Delta tier).
//!
//! Either tier alone is still read at the statement's one snapshot (DESIGN rule 3), so the two
//! answers for the same snapshot add up to the whole table: a row is in exactly one of them.

use std::sync::Arc;

use datafusion::execution::config::SessionConfig;

/// The tiers a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TierScan {
    /// Both tiers: the whole table (the default).
    #[default]
    Both,
    /// Only the hot rows above the Delta snapshot (and the session's held rows).
    HotOnly,
    /// Only the Delta snapshot.
    LakeOnly,
}

impl TierScan {
    /// The tiers the session with `config` reads.
    pub fn of(config: &SessionConfig) -> Self {
        config
            .get_extension::<Self>()
            .map(|t| *t)
            .unwrap_or_default()
    }

    /// `config` with its scans reading `self`.
    pub fn apply(self, config: &mut SessionConfig) {
        config.set_extension(Arc::new(self));
    }

    pub fn reads_hot(self) -> bool {
        self != TierScan::LakeOnly
    }

    pub fn reads_lake(self) -> bool {
        self != TierScan::HotOnly
    }
}
