//! The catalog (redb) on the simulated disk, through [`RedbFile`] and the same
//! [`open_created_whole`] the server uses.
//!
//! - A catalog cut off by a crash or a power loss at any operation of its creation opens again
//!   (redb alone refuses such a file as invalid data: the server could never start again).
//! - Under power losses and crashes at random operations, DDL that returned `Ok` is there after
//!   them, the catalog always opens again, and what a recovery once saw stays. This one is
//!   `#[ignore]`d: redb 2.6.4 panics in about two runs in ten (of 200 power losses and about
//!   100 crashes each) while a live process opens a file a crash or power loss left, in its
//!   allocator (`Attempted to free page N, order 0, which is not allocated`, the assertions
//!   `get_order_free_mut(order).get(page_number)` or `!get_order_allocated(order)...` in
//!   `buddy_allocator.rs`, `!open_dirty_pages...contains(&page_number)` in
//!   `page_manager.rs`), mostly from the commit `Catalog::open` makes right after reopening;
//!   once right after a plain crash that followed earlier power losses.
//!   No acknowledged DDL was lost in any run. A seed does not replay such a run: redb's page
//!   allocation order is not seeded. Run it with
//!   `cargo test --workspace --lib catalog_power_loss -- --ignored --nocapture`;
//!   `OXBOW_CATALOG_POWER_LOSS_CYCLES` sets the number of power losses (default 200),
//!   `OXBOW_CATALOG_POWER_LOSS_SEED` the seed of the workload and the losses.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use oxbow_catalog::{Catalog, ColumnDef, ObjectName, SqlType, TableDef};

use super::simulated::{
    Fault, FaultKind, Op, PowerLoss, SimulatedDisk, SplitMix64, clock_seed, env_u64,
};
use super::{DurableFs, RedbFile, io_error, open_created_whole};

const DEFAULT_CYCLES: u64 = 200;
/// DDL statements a process runs before it ends.
const STATEMENTS: u64 = 6;
/// The power loss comes before one of the next this many operations (a redb commit takes a
/// handful, opening a catalog a few more).
const LOSS_WITHIN_OPS: u64 = 200;

fn def(name: &str) -> TableDef {
    TableDef {
        id: name.to_string(),
        name: ObjectName::new("public", name),
        columns: vec![ColumnDef {
            name: "id".into(),
            sql_type: SqlType::BigInt,
            nullable: false,
        }],
        location: TableDef::location_for_id(name),
        options: Default::default(),
        primary_key: Vec::new(),
    }
}

fn open_catalog(fs: &dyn DurableFs, path: &Path) -> crate::Result<Catalog> {
    open_created_whole(fs, path, |path| {
        let file = RedbFile::open(fs, path).map_err(|s| io_error(path, s))?;
        Ok(Catalog::open_with_backend(file)?)
    })
}

#[test]
fn a_catalog_cut_off_during_its_creation_opens_again() {
    let path = Path::new("/data/catalog.redb");
    let clean = SimulatedDisk::with_dir(Path::new("/data"));
    drop(open_catalog(clean.process().as_ref(), path).expect("a new catalog"));
    let ops = clean.ops();
    let mut cuts = 0;
    let mut cut_points = 0;
    for n in 1..=ops {
        // Only an operation that changes the disk can leave a state of its own behind.
        let reads = [Op::ReadAt, Op::FileLen, Op::Len, Op::Read, Op::ListDir];
        if clean.op(n).is_some_and(|(op, _)| reads.contains(&op)) {
            continue;
        }
        cut_points += 1;
        let events = [
            None,
            Some((PowerLoss::Clean, n)),
            Some((PowerLoss::Sectors, n)),
        ];
        for event in events {
            let disk = SimulatedDisk::with_dir(Path::new("/data"));
            disk.schedule(n, event);
            // redb does not always write the same number of times (its page cache is a hash
            // map), so a late operation may not come.
            if open_catalog(disk.process().as_ref(), path).is_ok() {
                continue;
            }
            cuts += 1;
            let catalog = open_catalog(disk.process().as_ref(), path);
            let catalog = catalog.unwrap_or_else(|e| {
                panic!(
                    "cut at operation {n} of {ops} ({:?}) by {event:?}: {e}",
                    disk.op(n)
                )
            });
            assert_eq!(catalog.schemas().unwrap(), vec!["public".to_string()]);
        }
    }
    assert!(
        cuts > cut_points * 2,
        "most cuts came ({cuts} of {})",
        cut_points * 3
    );
}

#[test]
#[ignore = "redb 2.6.4 panics in its allocator in about two runs in ten; see the module docs"]
fn acknowledged_ddl_survives_power_losses_and_the_catalog_always_opens() {
    let cycles = env_u64("OXBOW_CATALOG_POWER_LOSS_CYCLES").unwrap_or(DEFAULT_CYCLES);
    let seed = env_u64("OXBOW_CATALOG_POWER_LOSS_SEED").unwrap_or_else(clock_seed);
    eprintln!("catalog power loss: seed {seed} (rerun with OXBOW_CATALOG_POWER_LOSS_SEED={seed})");
    let started = Instant::now();
    let mut rng = SplitMix64(seed);
    let disk = SimulatedDisk::with_dir(Path::new("/data"));
    let path = Path::new("/data/catalog.redb");
    // Table name -> whether it must be present (None: a statement about it did not answer).
    let mut must: BTreeMap<String, Option<bool>> = BTreeMap::new();
    let (mut cycle, mut next_table, mut acknowledged, mut lost_while_opening) = (0, 0, 0, 0);
    let mut previous_event = None;
    // redb panicking on the errors of a process that is gone (not a failure of the test).
    let mut panics_after_the_end = 0;
    while disk.power_losses() < cycles {
        cycle += 1;
        let fail = |what: String| -> ! {
            panic!("cycle {cycle} (OXBOW_CATALOG_POWER_LOSS_SEED={seed}): {what}")
        };
        let modes = [PowerLoss::Clean, PowerLoss::TornPrefix, PowerLoss::Sectors];
        let event = (rng.below(3) != 0).then(|| (modes[rng.below(3) as usize], rng.next()));
        let ends = disk.power_losses() + disk.crashes();
        let ended = || disk.power_losses() + disk.crashes() > ends;
        disk.schedule(1 + rng.below(LOSS_WITHIN_OPS), event);
        let previous = std::mem::replace(&mut previous_event, Some(event));
        let fs = disk.process();
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            open_catalog(fs.as_ref(), path)
        }));
        let opened = match opened {
            Ok(opened) => opened,
            Err(_) if ended() => {
                panics_after_the_end += 1;
                continue;
            }
            Err(_) => fail(format!(
                "redb panicked while opening; the power loss or crash had {}come; event {event:?}, previous {previous:?}, acked so far {acknowledged}",
                if ended() { "" } else { "not " }
            )),
        };
        let catalog = match opened {
            Ok(catalog) => catalog,
            Err(_) if ended() => {
                lost_while_opening += 1;
                continue;
            }
            Err(e) => fail(format!(
                "the catalog does not open: {e}; previous {previous:?}, acked so far {acknowledged}, len {:?}",
                disk.process().len(path)
            )),
        };
        let present = match catalog.tables("public") {
            Ok(tables) => tables.into_iter().map(|t| t.name.name).collect::<Vec<_>>(),
            Err(_) if ended() => continue,
            Err(e) => fail(format!("the catalog cannot be read: {e}")),
        };
        if let Some(name) = present.iter().find(|n| !must.contains_key(*n)) {
            fail(format!("table {name} was never created"));
        }
        for (name, state) in must.iter_mut() {
            let is_present = present.contains(name);
            if state.is_some_and(|m| m != is_present) {
                fail(format!(
                    "table {name} must be {}",
                    if is_present { "absent" } else { "present" }
                ));
            }
            *state = Some(is_present);
        }
        for _ in 0..STATEMENTS {
            let existing: Vec<&String> = must
                .iter()
                .filter(|(_, m)| **m == Some(true))
                .map(|(n, _)| n)
                .collect();
            let drop = !existing.is_empty() && rng.below(3) == 0;
            let name = if drop {
                existing[rng.below(existing.len() as u64) as usize].clone()
            } else {
                next_table += 1;
                format!("t{next_table}")
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if drop {
                    let dropped = catalog.drop_table(&ObjectName::new("public", &name));
                    dropped.map(|_| false)
                } else {
                    catalog.create_table(&def(&name)).map(|()| true)
                }
            }));
            let result = match result {
                Ok(result) => result,
                Err(_) if ended() => {
                    panics_after_the_end += 1;
                    must.insert(name, None);
                    break;
                }
                Err(_) => fail(format!("redb panicked in DDL on {name} with no fault")),
            };
            match result {
                Ok(present) => {
                    acknowledged += 1;
                    must.insert(name, Some(present));
                }
                Err(_) if ended() => {
                    must.insert(name, None);
                    break;
                }
                Err(e) => fail(format!("DDL on {name} failed without a power loss: {e}")),
            }
        }
        if !ended() {
            match event {
                Some((mode, seed)) => disk.power_loss(mode, seed),
                None => disk.crash(),
            }
        }
        // The process is gone: whatever redb writes as it closes fails.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(catalog))).is_err() {
            panics_after_the_end += 1;
        }
    }
    eprintln!(
        "catalog power loss: {cycles} power losses and crashes over {cycle} processes \
         ({lost_while_opening} ended while opening), {acknowledged} acknowledged DDL \
         statements, 0 lost, {panics_after_the_end} redb panics in processes already gone, \
         seed {seed}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// What one run of the catalog's DDL workload saw.
#[derive(Default)]
struct DdlRun {
    /// Table name -> present, for each statement that returned `Ok`.
    acknowledged: BTreeMap<String, bool>,
    /// Table name -> present had it worked, for each statement that returned an error (or
    /// panicked): it may have landed all the same (a commit whose last write failed).
    failed: BTreeMap<String, bool>,
    reported: bool,
    /// redb panicked (on the injected error) instead of returning one.
    panicked: bool,
}

/// Opens the catalog, creates four tables and drops the first; every step may fail.
fn ddl_workload(disk: &SimulatedDisk, path: &Path) -> DdlRun {
    let mut run = DdlRun::default();
    let fs = disk.process();
    let guarded = |f: &mut dyn FnMut() -> oxbow_catalog::Result<()>, run: &mut DdlRun| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(Ok(())) => true,
            Ok(Err(_)) => {
                run.reported = true;
                false
            }
            Err(_) => {
                run.panicked = true;
                false
            }
        }
    };
    let mut catalog = None;
    let mut open = || {
        let opened = open_catalog(fs.as_ref(), path)
            .map_err(|e| oxbow_catalog::Error::Store(e.to_string()))?;
        catalog = Some(opened);
        Ok(())
    };
    if !guarded(&mut open, &mut run) {
        return run;
    }
    let catalog = catalog.expect("opened");
    for i in 0..4 {
        let name = format!("t{i}");
        if guarded(&mut || catalog.create_table(&def(&name)), &mut run) {
            run.acknowledged.insert(name, true);
        } else {
            run.failed.insert(name, true);
        }
    }
    let t0 = ObjectName::new("public", "t0");
    if guarded(&mut || catalog.drop_table(&t0).map(|_| ()), &mut run) {
        run.acknowledged.insert("t0".into(), false);
    } else if run.acknowledged.remove("t0").is_some() {
        run.failed.insert("t0".into(), false);
    }
    run
}

/// Each operation of the DDL workload fails in turn (EIO, ENOSPC, and for a write a short
/// write); then the process crashes and a new one opens the catalog: it must open, and hold
/// every acknowledged DDL statement's effect. A statement that failed may have landed all the
/// same (redb's commit returns the error of a write after the one that made it durable): its
/// caller must decide by reading the catalog again, never assume it did not happen.
#[test]
fn every_failed_catalog_operation_loses_no_acknowledged_ddl() {
    let path = Path::new("/data/catalog.redb");
    let clean = SimulatedDisk::with_dir(Path::new("/data"));
    let run = ddl_workload(&clean, path);
    assert!(!run.reported && !run.panicked && run.acknowledged.len() == 4);
    let ops = clean.ops();
    let (mut runs, mut panics, mut landed) = (0, 0, 0);
    for n in 1..=ops {
        let (op, _) = clean.op(n).expect("an operation of the clean run");
        let kinds: &[FaultKind] = match op {
            Op::WriteAt => &[FaultKind::Eio, FaultKind::Enospc, FaultKind::ShortWrite],
            _ => &[FaultKind::Eio],
        };
        for &kind in kinds {
            let disk = SimulatedDisk::with_dir(Path::new("/data"));
            disk.set_fault(Some(Fault {
                op: n,
                kind,
                persistent: false,
            }));
            let run = ddl_workload(&disk, path);
            let what = format!("operation {n} of {ops} ({op:?}) failing with {kind:?}");
            if !disk.fault_fired() {
                continue;
            }
            runs += 1;
            panics += u64::from(run.panicked);
            disk.crash();
            let catalog = std::panic::catch_unwind(|| open_catalog(disk.process().as_ref(), path));
            let catalog = match catalog {
                Ok(Ok(catalog)) => catalog,
                Ok(Err(e)) => panic!("{what}: the catalog does not open again: {e}"),
                Err(_) => panic!("{what}: redb panicked opening the catalog again"),
            };
            let tables = catalog.tables("public").expect("the catalog reads");
            let found = |name: &str| tables.iter().any(|t| t.name.name == name);
            for (name, present) in &run.acknowledged {
                assert_eq!(found(name), *present, "{what}: acknowledged DDL on {name}");
            }
            landed += run.failed.iter().filter(|(n, p)| found(n) == **p).count();
        }
    }
    eprintln!(
        "catalog io errors: {runs} runs over {ops} operations, 0 acknowledged DDL lost; \
         {landed} failed statements landed all the same; redb panicked on the injected error \
         in {panics} runs"
    );
}
