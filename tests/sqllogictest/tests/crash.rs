//! Durability under `kill -9`: concurrent writers run a mixed workload on two tables while the
//! server is killed at a random moment, again and again on the same data directory. After
//! every restart the tables must hold every acknowledged row exactly once, nothing of a
//! statement that was acknowledged deleted or found absent before, and each unacknowledged
//! statement (or transaction block, across both tables) either whole or not at all
//! ("acknowledged means durable", DESIGN.md).
//!
//! The workload, chosen by a seeded RNG: single- and multi-row INSERTs and COPY (csv) into a
//! table that flushes every 200 ms (`fast`) and one that flushes hourly (`slow`), so the WAL's
//! low-water mark is held back by one table while the other flushes; `BEGIN; INSERT fast;
//! INSERT slow; COMMIT` blocks; DELETEs of the id range of an earlier, durable statement;
//! `FLUSH TABLE` at random. The server runs with 64 KiB WAL segments so they roll over. Some
//! cycles first restart twice without a write (stop or kill, review D1); between some cycles a
//! few random bytes are appended to the newest WAL segment after the kill (a torn tail), which
//! recovery must cut without losing anything acknowledged.
//!
//! Any error from a live server (a rejected statement, a failed FLUSH) fails the test: only
//! the connection dying because of the kill is expected.
//!
//! `OXBOW_CRASH_CYCLES` sets the number of kills (default 20). `OXBOW_CRASH_SEED` replays the
//! kill timings, torn tails, restarts and the writers' choices of a printed run; thread
//! scheduling stays free, so a replay is likely, not certain, to hit the same interleaving.
//!
//! One file of about 800 lines, on purpose for now: the ledger, the workload and the checks
//! share the ledger's types, and a cargo integration test is one file unless it grows a
//! support module. Splitting it into `tests/crash/{ledger,workload,checks}.rs` is the next
//! step if it grows (UPDATE, TRUNCATE and DDL are not in the workload yet).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::SinkExt;
use oxbow_sqllogictest::TestServer;
use tokio_postgres::{Client, SimpleQueryMessage};

const DEFAULT_CYCLES: u64 = 20;
const WRITERS: u64 = 3;
/// Statement `n` owns ids `n * ID_STRIDE ..`; no statement writes more rows than this.
const ID_STRIDE: i64 = 1000;
/// How long the writers run before the kill: from before the first commit to well past many.
const KILL_AFTER_MS: RangeInclusive<u64> = 50..=1200;
/// A writer whose server is dead must notice within this; longer means a hung client.
const WRITER_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Small WAL segments, so that a run crosses many rollovers.
const SEGMENT_BYTES: u64 = 65536;
/// Each writer may delete up to this many earlier statements per cycle.
const DELETES_PER_WRITER: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Table {
    Fast,
    Slow,
}

const TABLES: [Table; 2] = [Table::Fast, Table::Slow];

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Fast => "fast",
            Table::Slow => "slow",
        }
    }

    fn create(self) -> String {
        let options = match self {
            Table::Fast => "flush_rows = 2000, flush_interval = '200ms'",
            Table::Slow => "flush_interval = '1h'",
        };
        format!(
            "CREATE TABLE {} (id bigint NOT NULL, unit bigint NOT NULL, payload text) WITH ({options})",
            self.name()
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Single,
    Multi,
    Copy,
    /// `BEGIN; INSERT INTO fast ...; INSERT INTO slow ...; COMMIT`.
    Block,
}

/// One unit of atomicity: a statement or a transaction block, numbered across the run. Its
/// rows carry the number in column `unit`, and ids in `number * ID_STRIDE ..`.
#[derive(Clone, Debug)]
struct Unit {
    number: i64,
    kind: Kind,
    parts: Vec<(Table, Range<i64>)>,
}

impl Unit {
    fn new(number: i64, rng: &mut SplitMix64) -> Self {
        let base = number * ID_STRIDE;
        let table = TABLES[rng.below(2) as usize];
        let roll = rng.below(100);
        let (kind, parts) = if roll < 25 {
            (Kind::Single, vec![(table, base..base + 1)])
        } else if roll < 45 {
            let n = rng.in_range(20..=300) as i64;
            (Kind::Copy, vec![(table, base..base + n)])
        } else if roll < 70 {
            let n1 = rng.in_range(1..=40) as i64;
            let n2 = rng.in_range(1..=40) as i64;
            (
                Kind::Block,
                vec![
                    (Table::Fast, base..base + n1),
                    (Table::Slow, base + n1..base + n1 + n2),
                ],
            )
        } else {
            let n = rng.in_range(2..=60) as i64;
            (Kind::Multi, vec![(table, base..base + n)])
        };
        Unit {
            number,
            kind,
            parts,
        }
    }

    fn rows(&self) -> u64 {
        self.parts
            .iter()
            .map(|(_, r)| (r.end - r.start) as u64)
            .sum()
    }

    fn rows_in(&self, table: Table) -> i64 {
        self.parts
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, r)| r.end - r.start)
            .sum()
    }

    fn owns(&self, table: Table, id: i64) -> bool {
        self.parts
            .iter()
            .any(|(t, r)| *t == table && r.contains(&id))
    }

    fn insert_sql(&self, table: Table, ids: Range<i64>) -> String {
        let values: Vec<String> = ids
            .map(|id| format!("({id}, {}, '{}')", self.number, payload(self.number, id)))
            .collect();
        format!(
            "INSERT INTO {} (id, unit, payload) VALUES {}",
            table.name(),
            values.join(", ")
        )
    }

    /// Runs the unit; `Ok` only if the server acknowledged all of it with the right counts.
    async fn run(&self, client: &Client) -> Result<(), tokio_postgres::Error> {
        let (table, ids) = self.parts[0].clone();
        match self.kind {
            Kind::Single | Kind::Multi => {
                let messages = client.simple_query(&self.insert_sql(table, ids)).await?;
                assert_eq!(
                    command_counts(&messages),
                    vec![self.rows()],
                    "INSERT of unit {} acknowledged a wrong row count",
                    self.number
                );
            }
            Kind::Copy => {
                let sink = client
                    .copy_in(&format!(
                        "COPY {} FROM STDIN WITH (FORMAT csv)",
                        table.name()
                    ))
                    .await?;
                futures::pin_mut!(sink);
                let data: String = ids
                    .map(|id| format!("{id},{},{}\n", self.number, payload(self.number, id)))
                    .collect();
                sink.send(bytes::Bytes::from(data)).await?;
                let copied = sink.finish().await?;
                assert_eq!(
                    copied,
                    self.rows(),
                    "COPY of unit {} acknowledged a wrong row count",
                    self.number
                );
            }
            Kind::Block => {
                let (slow, slow_ids) = self.parts[1].clone();
                let sql = format!(
                    "BEGIN; {}; {}; COMMIT",
                    self.insert_sql(table, ids.clone()),
                    self.insert_sql(slow, slow_ids.clone())
                );
                let messages = client.simple_query(&sql).await?;
                // BEGIN and COMMIT complete with 0 rows.
                assert_eq!(
                    command_counts(&messages),
                    vec![
                        0,
                        (ids.end - ids.start) as u64,
                        (slow_ids.end - slow_ids.start) as u64,
                        0
                    ],
                    "block {} acknowledged wrong row counts",
                    self.number
                );
            }
        }
        Ok(())
    }
}

fn command_counts(messages: &[SimpleQueryMessage]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect()
}

/// The payload a row must carry, so that a torn or mixed-up row is caught, not just a missing one.
fn payload(unit: i64, id: i64) -> String {
    format!("unit {unit} row {id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_unacknowledged_ones_are_all_or_nothing() {
    let started = Instant::now();
    let cycles = env_u64("OXBOW_CRASH_CYCLES").unwrap_or(DEFAULT_CYCLES);
    let seed = env_u64("OXBOW_CRASH_SEED").unwrap_or_else(clock_seed);
    eprintln!("crash test: seed {seed} (rerun with OXBOW_CRASH_SEED={seed})");
    let mut rng = SplitMix64(seed);

    let args = vec!["--wal-segment-bytes".to_string(), SEGMENT_BYTES.to_string()];
    let mut server = TestServer::start_with(args, Vec::new());
    {
        let client = server.connect().await;
        for table in TABLES {
            let sql = table.create();
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    let next_unit = Arc::new(AtomicI64::new(0));
    let mut ledger = Ledger::default();
    let mut newest_segment_seen = 0u64;
    for cycle in 1..=cycles {
        // Restarts without a write in between (review D1), on some cycles and always on the third.
        if rng.below(4) == 0 || cycle == 3 {
            for _ in 0..2 {
                if rng.below(2) == 0 {
                    server.restart();
                } else {
                    server.kill9();
                    server.start_again();
                }
            }
            ledger.idle_restarts += 2;
        }

        let mut deletable = ledger.deletable(&mut rng, WRITERS as usize * DELETES_PER_WRITER);
        let outcomes = Arc::new(Mutex::new(Outcomes::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let killing = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        // Connect before the delay starts, so that even the shortest one kills a writing server.
        for writer in 0..WRITERS {
            let take = deletable.len().min(DELETES_PER_WRITER);
            writers.push(tokio::spawn(write_until_killed(
                server.connect().await,
                writer,
                SplitMix64(rng.next()),
                next_unit.clone(),
                deletable.split_off(deletable.len() - take),
                Flags {
                    stop: stop.clone(),
                    killing: killing.clone(),
                },
                outcomes.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_millis(rng.in_range(KILL_AFTER_MS))).await;
        killing.store(true, Ordering::SeqCst);
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        for handle in writers {
            match tokio::time::timeout(WRITER_STOP_TIMEOUT, handle).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => std::panic::resume_unwind(e.into_panic()),
                Err(_) => panic!(
                    "cycle {cycle}: a writer still runs {WRITER_STOP_TIMEOUT:?} after kill -9"
                ),
            }
        }

        let segments = wal_segments(server.data_dir());
        let new_segments = segments
            .iter()
            .filter(|(first, _)| *first > newest_segment_seen)
            .count();
        // One start opens one segment; more new ones in a cycle mean the WAL rolled over.
        if new_segments >= 2 {
            ledger.rollover_cycles += 1;
        }
        newest_segment_seen = segments.last().map_or(newest_segment_seen, |s| s.0);
        let mut torn = None;
        if rng.below(3) == 0 || cycle == 2 {
            if let Some((_, newest)) = segments.last() {
                torn = Some(append_garbage(newest, &mut rng));
                ledger.torn_tails += 1;
            }
        }
        server.start_again();

        let outcomes = std::mem::take(&mut *outcomes.lock().expect("writers are done"));
        if let Some(rejection) = outcomes.rejected.first() {
            panic!(
                "cycle {cycle} of {cycles} (OXBOW_CRASH_SEED={seed}): {} errors from a live \
                 server, first: {rejection}\n--- last lines of the server log ---\n{}",
                outcomes.rejected.len(),
                log_tail(&server, 60)
            );
        }
        ledger.record(outcomes);
        let damage = ledger.check(&server.connect().await).await;
        if !damage.is_none() {
            eprintln!("{}", ledger.summary(cycle, &damage));
            panic!(
                "cycle {cycle} of {cycles} (OXBOW_CRASH_SEED={seed}, torn tail: {torn:?}): \
                 {damage}\n--- last lines of the server log ---\n{}",
                log_tail(&server, 60)
            );
        }
    }

    // Every acknowledged row exactly once, by SQL too: count(*) and count(DISTINCT id).
    let client = server.connect().await;
    for table in TABLES {
        let expected = ledger.expected_rows(table);
        let row = client
            .query_one(
                &format!("SELECT count(*), count(DISTINCT id) FROM {}", table.name()),
                &[],
            )
            .await
            .expect("the final count");
        let (count, distinct): (i64, i64) = (row.get(0), row.get(1));
        assert_eq!(
            (count, distinct),
            (expected, expected),
            "(count(*), count(DISTINCT id)) of {} equals the rows of its durable statements \
             (OXBOW_CRASH_SEED={seed})",
            table.name()
        );
    }
    eprintln!("{}", ledger.summary(cycles, &Damage::default()));
    ledger.assert_exercised(cycles, seed);
    println!(
        "crash: {cycles} kill -9 cycles, {} acknowledged rows, 0 lost, 0 duplicated, seed {seed}, {} s",
        ledger.acknowledged_rows,
        started.elapsed().as_secs()
    );
}

struct Flags {
    /// Set after the kill: the writer stops.
    stop: Arc<AtomicBool>,
    /// Set just before the kill: a connection error seen before it is a live server's failure.
    killing: Arc<AtomicBool>,
}

/// What the writers of one cycle learned.
#[derive(Default)]
struct Outcomes {
    acknowledged: Vec<Unit>,
    /// Cut off by the kill: may or may not have been applied, but never partly.
    indeterminate: Vec<Unit>,
    /// DELETEs acknowledged, by the unit whose rows they deleted.
    deleted: Vec<i64>,
    /// DELETEs cut off by the kill: the unit is now whole or gone.
    delete_indeterminate: Vec<i64>,
    flushes: u64,
    /// Errors while the server was alive (any error a server sent, or a connection that
    /// failed before the kill): each fails the test.
    rejected: Vec<String>,
}

enum Failure {
    /// The kill cut the connection.
    Killed,
    Rejected(String),
}

fn classify(e: tokio_postgres::Error, killing: &AtomicBool, what: &str) -> Failure {
    if let Some(db) = e.as_db_error() {
        return Failure::Rejected(format!("{what}: {}: {}", db.code().code(), db.message()));
    }
    if killing.load(Ordering::SeqCst) {
        Failure::Killed
    } else {
        Failure::Rejected(format!("{what}: failed before the kill: {e}"))
    }
}

/// Writes on its own connection until the connection dies (the kill) or `stop` is set.
async fn write_until_killed(
    client: Client,
    writer: u64,
    mut rng: SplitMix64,
    next_unit: Arc<AtomicI64>,
    mut deletable: Vec<Unit>,
    flags: Flags,
    outcomes: Arc<Mutex<Outcomes>>,
) {
    while !flags.stop.load(Ordering::SeqCst) && !client.is_closed() {
        let roll = rng.below(100);
        if roll < 8 {
            let table = TABLES[rng.below(2) as usize].name();
            let result = client.batch_execute(&format!("FLUSH TABLE {table}")).await;
            let mut outcomes = outcomes.lock().expect("no writer panics holding the lock");
            match result {
                Ok(()) => outcomes.flushes += 1,
                Err(e) => match classify(e, &flags.killing, &format!("FLUSH TABLE {table}")) {
                    Failure::Killed => return,
                    Failure::Rejected(r) => return outcomes.rejected.push(r),
                },
            }
            continue;
        }
        if roll < 14 {
            if let Some(unit) = deletable.pop() {
                let (table, ids) = unit.parts[0].clone();
                let sql = format!(
                    "DELETE FROM {} WHERE id >= {} AND id < {}",
                    table.name(),
                    ids.start,
                    ids.end
                );
                let result = client.simple_query(&sql).await;
                let mut outcomes = outcomes.lock().expect("no writer panics holding the lock");
                match result {
                    Ok(messages) => {
                        assert_eq!(
                            command_counts(&messages),
                            vec![unit.rows()],
                            "{sql} (all rows of durable unit {}) deleted a wrong row count",
                            unit.number
                        );
                        outcomes.deleted.push(unit.number);
                    }
                    Err(e) => {
                        outcomes.delete_indeterminate.push(unit.number);
                        match classify(e, &flags.killing, &sql) {
                            Failure::Killed => return,
                            Failure::Rejected(r) => return outcomes.rejected.push(r),
                        }
                    }
                }
                continue;
            }
        }
        let unit = Unit::new(next_unit.fetch_add(1, Ordering::SeqCst), &mut rng);
        let result = unit.run(&client).await;
        let mut outcomes = outcomes.lock().expect("no writer panics holding the lock");
        match result {
            Ok(()) => outcomes.acknowledged.push(unit),
            Err(e) => {
                let what = format!("writer {writer}, unit {} ({:?})", unit.number, unit.kind);
                outcomes.indeterminate.push(unit);
                match classify(e, &flags.killing, &what) {
                    Failure::Killed => return,
                    Failure::Rejected(r) => return outcomes.rejected.push(r),
                }
            }
        }
    }
}

/// Everything known about the tables across cycles, and the rules a restart must keep.
#[derive(Default)]
struct Ledger {
    /// Every unit sent, by number.
    sent: HashMap<i64, Unit>,
    /// Units that must be present in full from now on: the acknowledged ones, and the
    /// indeterminate ones a restart showed whole (a row once recovered must stay).
    durable: HashSet<i64>,
    /// Units that must be absent: acknowledged deleted, or indeterminate and shown absent by
    /// a restart; a later recovery must not revive them.
    absent: HashSet<i64>,
    /// Units whose statement (or DELETE) the kill cut off, decided by the next check.
    undecided: Vec<i64>,
    acknowledged_rows: u64,
    acknowledged_by_kind: HashMap<&'static str, u64>,
    indeterminate: u64,
    deletes: u64,
    deletes_indeterminate: u64,
    flushes: u64,
    idle_restarts: u64,
    torn_tails: u64,
    rollover_cycles: u64,
}

impl Ledger {
    fn record(&mut self, outcomes: Outcomes) {
        for unit in outcomes.acknowledged {
            self.acknowledged_rows += unit.rows();
            *self
                .acknowledged_by_kind
                .entry(kind_name(unit.kind))
                .or_default() += 1;
            self.durable.insert(unit.number);
            self.sent.insert(unit.number, unit);
        }
        for unit in outcomes.indeterminate {
            self.undecided.push(unit.number);
            self.sent.insert(unit.number, unit);
            self.indeterminate += 1;
        }
        for number in outcomes.deleted {
            self.durable.remove(&number);
            self.absent.insert(number);
            self.deletes += 1;
        }
        for number in outcomes.delete_indeterminate {
            self.durable.remove(&number);
            self.undecided.push(number);
            self.deletes_indeterminate += 1;
        }
        self.flushes += outcomes.flushes;
    }

    /// Up to `n` durable single-table units, at random, for this cycle's DELETEs.
    fn deletable(&self, rng: &mut SplitMix64, n: usize) -> Vec<Unit> {
        let mut candidates: Vec<i64> = self
            .durable
            .iter()
            .copied()
            .filter(|u| self.sent[u].kind != Kind::Block)
            .collect();
        candidates.sort_unstable();
        let mut chosen = Vec::new();
        while chosen.len() < n && !candidates.is_empty() {
            let i = rng.below(candidates.len() as u64) as usize;
            chosen.push(self.sent[&candidates.swap_remove(i)].clone());
        }
        chosen
    }

    fn expected_rows(&self, table: Table) -> i64 {
        self.durable
            .iter()
            .map(|u| self.sent[u].rows_in(table))
            .sum()
    }

    /// Reads both tables over a fresh connection and checks them against the ledger.
    async fn check(&mut self, client: &Client) -> Damage {
        let mut damage = Damage::default();
        let mut present: HashMap<(Table, i64), i64> = HashMap::new();
        for table in TABLES {
            let rows = client
                .query(
                    &format!("SELECT id, unit, payload FROM {}", table.name()),
                    &[],
                )
                .await
                .unwrap_or_else(|e| panic!("the full scan of {}: {e}", table.name()));
            let mut ids: HashMap<i64, i64> = HashMap::new();
            for row in &rows {
                let (id, unit, text): (i64, i64, Option<String>) =
                    (row.get(0), row.get(1), row.get(2));
                match self.sent.get(&unit) {
                    Some(sent) if sent.owns(table, id) => {}
                    _ => {
                        damage.foreign += 1;
                        damage.note(format!(
                            "{} row (id {id}, unit {unit}) was never written",
                            table.name()
                        ));
                    }
                }
                if text.as_deref() != Some(payload(unit, id).as_str()) {
                    damage.foreign += 1;
                    damage.note(format!(
                        "{} row id {id} carries payload {text:?}",
                        table.name()
                    ));
                }
                *ids.entry(id).or_default() += 1;
                *present.entry((table, unit)).or_default() += 1;
            }
            for (id, n) in ids {
                if n > 1 {
                    damage.duplicated += (n - 1) as u64;
                    damage.note(format!("{} id {id} is present {n} times", table.name()));
                }
            }
        }
        let count = |table: Table, unit: i64| present.get(&(table, unit)).copied().unwrap_or(0);

        for number in &self.durable {
            for (table, ids) in &self.sent[number].parts {
                let missing = (ids.end - ids.start - count(*table, *number)).max(0);
                if missing > 0 {
                    damage.lost += missing as u64;
                    damage.note(format!(
                        "unit #{number} ({:?}) lost {missing} of its rows in {}",
                        self.sent[number].kind,
                        table.name()
                    ));
                }
            }
        }
        for number in &self.absent {
            for table in TABLES {
                if count(table, *number) > 0 {
                    damage.revived += 1;
                    damage.note(format!(
                        "unit #{number}, deleted or absent after an earlier crash, is back in {}",
                        table.name()
                    ));
                }
            }
        }
        for number in std::mem::take(&mut self.undecided) {
            let unit = &self.sent[&number];
            let found: Vec<i64> = unit.parts.iter().map(|(t, _)| count(*t, number)).collect();
            let whole = unit
                .parts
                .iter()
                .zip(&found)
                .all(|((_, ids), n)| *n == ids.end - ids.start);
            if found.iter().all(|n| *n == 0) {
                self.absent.insert(number);
            } else if whole {
                self.durable.insert(number);
            } else {
                damage.partial += 1;
                damage.note(format!(
                    "unacknowledged unit #{number} ({:?}) is partly applied: {found:?} of {:?} rows",
                    unit.kind,
                    unit.parts
                        .iter()
                        .map(|(t, ids)| (t.name(), ids.end - ids.start))
                        .collect::<Vec<_>>()
                ));
            }
        }
        damage
    }

    fn summary(&self, cycles: u64, damage: &Damage) -> String {
        let atomicity = if damage.partial == 0 {
            "all-or-nothing held".to_string()
        } else {
            format!("{} partly applied", damage.partial)
        };
        let mut kinds: Vec<_> = self.acknowledged_by_kind.iter().collect();
        kinds.sort();
        format!(
            "crash test: {cycles} kill -9 cycles, {} acknowledged rows ({kinds:?}), {} lost, \
             {} duplicated, {} indeterminate statements ({atomicity}), {} DELETEs acknowledged \
             and {} cut off, {} FLUSHes, {} restarts without writes, {} torn tails, \
             {} cycles with a WAL rollover",
            self.acknowledged_rows,
            damage.lost,
            damage.duplicated,
            self.indeterminate,
            self.deletes,
            self.deletes_indeterminate,
            self.flushes,
            self.idle_restarts,
            self.torn_tails,
            self.rollover_cycles,
        )
    }

    /// A run long enough to cover everything must have: otherwise it proved less than it says.
    fn assert_exercised(&self, cycles: u64, seed: u64) {
        let mut missing = Vec::new();
        for kind in ["single", "multi", "copy", "block"] {
            if self.acknowledged_by_kind.get(kind).copied().unwrap_or(0) == 0 {
                missing.push(format!("an acknowledged {kind} write"));
            }
        }
        if cycles >= 3 {
            for (what, n) in [
                ("an acknowledged DELETE", self.deletes),
                ("an acknowledged FLUSH", self.flushes),
                ("a restart without writes", self.idle_restarts),
                ("a torn tail", self.torn_tails),
            ] {
                if n == 0 {
                    missing.push(what.to_string());
                }
            }
        }
        if cycles >= 10 && self.rollover_cycles == 0 {
            missing.push("a WAL segment rollover".to_string());
        }
        assert!(
            missing.is_empty(),
            "the workload never produced {} (OXBOW_CRASH_SEED={seed})",
            missing.join(", ")
        );
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Single => "single",
        Kind::Multi => "multi",
        Kind::Copy => "copy",
        Kind::Block => "block",
    }
}

/// What one check found wrong, with a few examples for the failure message.
#[derive(Default)]
struct Damage {
    /// Rows of durable units missing from the tables.
    lost: u64,
    /// Rows present more than once, counting each extra copy.
    duplicated: u64,
    /// Unacknowledged units (statements, blocks or DELETEs) present in part.
    partial: u64,
    /// Units deleted, or found absent after one crash, present after a later one.
    revived: u64,
    /// Rows no unit wrote, or with the wrong payload.
    foreign: u64,
    examples: Vec<String>,
}

impl Damage {
    fn note(&mut self, example: String) {
        if self.examples.len() < 10 {
            self.examples.push(example);
        }
    }

    fn is_none(&self) -> bool {
        self.lost + self.duplicated + self.partial + self.revived + self.foreign == 0
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows lost, {} duplicated, {} partial units, {} revived units, {} foreign rows",
            self.lost, self.duplicated, self.partial, self.revived, self.foreign
        )?;
        for example in &self.examples {
            write!(f, "\n  {example}")?;
        }
        Ok(())
    }
}

/// The WAL segments `<first-seq>.wal`, oldest first.
fn wal_segments(data_dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut segments: Vec<(u64, PathBuf)> = std::fs::read_dir(data_dir.join("wal"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let first = name.strip_suffix(".wal")?.parse().ok()?;
                    Some((first, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    segments.sort();
    segments
}

/// Appends 1 to 64 random bytes to `segment`, as a write torn by the crash would leave.
fn append_garbage(segment: &Path, rng: &mut SplitMix64) -> String {
    let n = rng.in_range(1..=64) as usize;
    let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(segment)
        .and_then(|mut f| f.write_all(&bytes))
        .unwrap_or_else(|e| panic!("appending to {}: {e}", segment.display()));
    format!("{n} bytes appended to {}", segment.display())
}

/// SplitMix64: enough randomness for kill timings, and a printed seed replays them. Written
/// out rather than taken from `rand`, whose features a dev-dependency would unify with the
/// copies DataFusion and deltalake use, rebuilding them.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn in_range(&mut self, range: RangeInclusive<u64>) -> u64 {
        range.start() + self.below(range.end() - range.start() + 1)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
    )
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_nanos() as u64
}

fn log_tail(server: &TestServer, lines: usize) -> String {
    let log = server.log();
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
