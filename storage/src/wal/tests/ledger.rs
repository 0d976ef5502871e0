//! What the simulated-disk tests write and what they expect back.
//!
//! A *unit* is one [`WalWriter::append`]: one to three parts (tables `a`, `b`, `c`), whose
//! rows carry ids `unit * ID_STRIDE ..`, so that every id names its unit. The [`Ledger`] keeps
//! each unit's outcome: acknowledged (must be present, once), refused by a live writer (must
//! be absent), or unknown (the process died first: all of it or none). Once a recovery has
//! seen a unit present or absent, it must stay so.
//!
//! Above the WAL, [`Hot`] stands for the hot tier of one process and [`Lake`] for the Delta
//! tier: a flush moves every applied row into the lake and raises its `flushed` mark (a Delta
//! commit is durable when it returns), and WAL segments below the mark are deleted, as
//! `flush::retention` does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};

use crate::Error;
use crate::fs::DurableFs;
use crate::fs::simulated::SplitMix64;
use crate::wal::{WalApply, WalLimits, WalPart, WalWriter, replay};

pub(super) const ID_STRIDE: i64 = 100_000;
pub(super) const WAL_DIR: &str = "/data/wal";

/// Small segments and records, so that a few units roll segments over and split statements.
pub(super) const LIMITS: WalLimits = WalLimits {
    segment_bytes: 6 * 1024,
    record_bytes: 1024,
};

fn ids_batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(ids))])
        .expect("a batch of ids")
}

fn ids_of(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>();
            ids.expect("an id column").values().to_vec()
        })
        .collect()
}

/// The parts of unit `unit`: one to three tables, 1 to 4 rows each, or one time in eight up to
/// 120 (which pass the record limit, so such parts are split over several records).
pub(super) fn unit_parts(unit: i64, rng: &mut SplitMix64) -> (Vec<WalPart>, u64) {
    let mut next = unit * ID_STRIDE;
    let mut parts = Vec::new();
    for table in ["a", "b", "c"].iter().take(1 + rng.below(3) as usize) {
        let most = if rng.below(8) == 0 { 120 } else { 4 };
        let n = 1 + rng.below(most) as i64;
        parts.push(WalPart {
            table_id: table.to_string(),
            offsets: Vec::new(),
            batches: vec![ids_batch(next..next + n)],
        });
        next += n;
    }
    (parts, (next - unit * ID_STRIDE) as u64)
}

/// The hot tier of one simulated process: what the WAL applied, by sequence number.
#[derive(Default)]
pub(super) struct Hot(Mutex<Vec<(u64, Vec<i64>)>>);

impl WalApply for Hot {
    fn apply(&self, _table_id: &str, seq: u64, batches: Vec<RecordBatch>) {
        self.0.lock().unwrap().push((seq, ids_of(&batches)));
    }
}

/// The Delta tier: outlives every process. It keeps its rows per unit, and notes any row a
/// flush brings twice, so that checking it costs nothing per row.
#[derive(Default)]
pub(super) struct Lake {
    flushed: u64,
    ids: HashSet<i64>,
    per_unit: HashMap<i64, u64>,
    twice: Vec<i64>,
}

/// Moves every applied row into the lake; returns the WAL low-water mark (the first sequence
/// number the lake does not hold).
pub(super) fn flush(hot: &Hot, lake: &Mutex<Lake>) -> u64 {
    let mut hot = hot.0.lock().unwrap();
    let mut lake = lake.lock().unwrap();
    for (seq, ids) in hot.drain(..) {
        lake.flushed = lake.flushed.max(seq);
        for id in ids {
            if !lake.ids.insert(id) {
                lake.twice.push(id);
            }
            *lake.per_unit.entry(id / ID_STRIDE).or_default() += 1;
        }
    }
    lake.flushed + 1
}

/// A started process: replay into a fresh hot tier, then a writer, as `Database::open` does.
pub(super) struct Process {
    pub writer: WalWriter,
    pub hot: Arc<Hot>,
    /// The ids replay put back into the hot tier.
    pub replayed: Vec<i64>,
}

pub(super) fn open(fs: Arc<dyn DurableFs>, lake: &Mutex<Lake>) -> crate::Result<Process> {
    let dir = Path::new(WAL_DIR);
    let flushed = lake.lock().unwrap().flushed;
    let hot = Arc::new(Hot::default());
    let replayed = replay(fs.as_ref(), dir, |entry| {
        if entry.seq > flushed {
            hot.apply(&entry.table_id, entry.seq, entry.batches);
        }
        Ok(())
    })?;
    let next_seq = replayed.last_seq.max(flushed) + 1;
    let writer = WalWriter::start(
        fs,
        dir,
        next_seq,
        replayed.segments,
        LIMITS,
        Arc::clone(&hot) as Arc<dyn WalApply>,
    )?;
    let applied = hot.0.lock().unwrap();
    let replayed = applied.iter().flat_map(|(_, ids)| ids.clone()).collect();
    drop(applied);
    Ok(Process {
        writer,
        hot,
        replayed,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Acknowledged,
    /// A live writer said no (a failed write, cut back): it must never appear.
    Refused,
    /// The writer stopped (an abort, a power loss) before answering.
    Unknown,
}

#[derive(Debug)]
struct UnitRecord {
    rows: u64,
    outcome: Outcome,
    /// Whether a recovery found it present.
    seen: Option<bool>,
}

#[derive(Debug, Default)]
pub(super) struct Ledger {
    units: BTreeMap<i64, UnitRecord>,
    pub acknowledged_rows: u64,
    pub checks: u64,
}

impl Ledger {
    pub fn record(&mut self, unit: i64, rows: u64, result: &crate::Result<u64>) -> Outcome {
        let outcome = match result {
            Ok(_) => Outcome::Acknowledged,
            Err(Error::WalWrite { .. }) => Outcome::Refused,
            Err(_) => Outcome::Unknown,
        };
        if outcome == Outcome::Acknowledged {
            self.acknowledged_rows += rows;
        }
        let record = UnitRecord {
            rows,
            outcome,
            seen: None,
        };
        assert!(
            self.units.insert(unit, record).is_none(),
            "unit {unit} twice"
        );
        outcome
    }

    /// Checks what a recovery found (the lake, and the rows replay put back) against every
    /// unit so far.
    pub fn check(&mut self, lake: &Mutex<Lake>, replayed: &[i64]) -> Result<(), String> {
        self.checks += 1;
        let lake = lake.lock().unwrap();
        if let Some(id) = lake.twice.first() {
            return Err(format!("row {id} was flushed twice"));
        }
        let mut per_unit = lake.per_unit.clone();
        let mut seen = HashSet::new();
        for id in replayed {
            if lake.ids.contains(id) || !seen.insert(*id) {
                return Err(format!("row {id} is present twice"));
            }
            *per_unit.entry(id / ID_STRIDE).or_default() += 1;
        }
        if let Some(unit) = per_unit.keys().find(|u| !self.units.contains_key(u)) {
            return Err(format!("rows of unit {unit}, which was never written"));
        }
        for (unit, record) in &mut self.units {
            let found = per_unit.get(unit).copied().unwrap_or(0);
            if found != 0 && found != record.rows {
                return Err(format!(
                    "unit {unit} ({:?}) is half present: {found} of {} rows",
                    record.outcome, record.rows
                ));
            }
            let is_present = found == record.rows;
            let must = match (record.outcome, record.seen) {
                (_, Some(seen)) => Some(seen),
                (Outcome::Acknowledged, None) => Some(true),
                (Outcome::Refused, None) => Some(false),
                (Outcome::Unknown, None) => None,
            };
            if must.is_some_and(|m| m != is_present) {
                return Err(format!(
                    "unit {unit} ({:?}, seen before: {:?}) is {}",
                    record.outcome,
                    record.seen,
                    if is_present { "present" } else { "lost" }
                ));
            }
            record.seen = Some(is_present);
        }
        Ok(())
    }
}
