//! Simulated power losses, after SQLite's crash tests: writers append units concurrently (group
//! commit, statements split over records, segment rollover, flushes and segment deletion)
//! while the disk loses power at a random operation, keeping nothing unsynced, a torn prefix of
//! it, or random sectors of it; between power losses, a third of the processes end in a crash
//! instead (`kill -9`: the page cache survives, so the next process recovers from bytes that
//! are not durable yet). Then a new process recovers from what is left, and the ledger
//! checks it: every acknowledged unit present exactly once, every other one whole or absent,
//! and replay reports no corruption (a power loss cannot make any).
//!
//! `OXBOW_POWER_LOSS_CYCLES` sets the number of power losses (default 500);
//! `OXBOW_POWER_LOSS_SEED` replays the workload and the losses of a printed run (thread
//! scheduling stays free, so a replay is likely, not certain, to hit the same interleaving).

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::ledger::{Lake, Ledger, Outcome, flush, open, unit_parts};
use crate::fs::simulated::{PowerLoss, SimulatedDisk, SplitMix64, clock_seed, env_u64};

const DEFAULT_CYCLES: u64 = 500;
const WRITERS: u64 = 3;
/// Each writer appends at most this many units in a cycle.
const UNITS_PER_WRITER: u64 = 12;
/// The power loss comes before one of the next this many operations (a cycle's workload takes
/// about a hundred), so some land in replay and start, most among the appends.
const LOSS_WITHIN_OPS: u64 = 120;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_power_losses_at_any_operation() {
    let cycles = env_u64("OXBOW_POWER_LOSS_CYCLES").unwrap_or(DEFAULT_CYCLES);
    let seed = env_u64("OXBOW_POWER_LOSS_SEED").unwrap_or_else(clock_seed);
    eprintln!("power loss: seed {seed} (rerun with OXBOW_POWER_LOSS_SEED={seed})");
    let started = Instant::now();
    let mut rng = SplitMix64(seed);
    let disk = SimulatedDisk::with_dir(Path::new("/data"));
    let lake = Arc::new(Mutex::new(Lake::default()));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let next_unit = Arc::new(AtomicI64::new(1));
    let deleted = Arc::new(AtomicUsize::new(0));
    let mut by_mode = [0u64; 3];
    let mut lost_while_opening = 0;
    let mut most_segments = 0;
    let fail = |cycle: u64, what: String| -> ! {
        panic!("cycle {cycle} ({cycles} power losses asked; OXBOW_POWER_LOSS_SEED={seed}): {what}")
    };
    let mut crashes = 0;
    let mut cycle = 0;
    let mut previous = None;
    while disk.power_losses() < cycles {
        cycle += 1;
        let modes = [PowerLoss::Clean, PowerLoss::TornPrefix, PowerLoss::Sectors];
        let pick = rng.below(3) as usize;
        // A third of the cycles end in a crash instead (the page cache survives, and the next
        // process recovers from bytes that may not be durable yet).
        let event = if rng.below(3) == 0 {
            crashes += 1;
            None
        } else {
            by_mode[pick] += 1;
            Some((modes[pick], rng.next()))
        };
        let ends = disk.power_losses() + disk.crashes();
        disk.schedule(1 + rng.below(LOSS_WITHIN_OPS), event);
        let process = match open(disk.process(), &lake) {
            Ok(process) => process,
            Err(_) if disk.power_losses() + disk.crashes() > ends => {
                lost_while_opening += 1;
                previous = event;
                continue;
            }
            Err(e) => fail(cycle, format!("recovery failed: {e}")),
        };
        if let Err(e) = ledger.lock().unwrap().check(&lake, &process.replayed) {
            let after = match previous {
                None => "a crash".to_string(),
                Some((mode, _)) => format!("a {mode:?} power loss"),
            };
            fail(cycle, format!("recovery after {after}: {e}"));
        }
        previous = event;
        let writer = Arc::new(process.writer);
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let mut rng = SplitMix64(rng.next());
            let (writer, hot, lake) = (
                Arc::clone(&writer),
                Arc::clone(&process.hot),
                Arc::clone(&lake),
            );
            let (ledger, next_unit, deleted) = (
                Arc::clone(&ledger),
                Arc::clone(&next_unit),
                Arc::clone(&deleted),
            );
            let disk = disk.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..UNITS_PER_WRITER {
                    let unit = next_unit.fetch_add(1, Ordering::Relaxed);
                    let (parts, rows) = unit_parts(unit, &mut rng);
                    let result = writer.append(parts).await;
                    let outcome = ledger.lock().unwrap().record(unit, rows, &result);
                    match outcome {
                        Outcome::Acknowledged => {}
                        Outcome::Unknown => return Ok(()),
                        Outcome::Refused => {
                            return Err(format!("unit {unit} refused without a fault: {result:?}"));
                        }
                    }
                    if rng.below(4) == 0 {
                        let low_water = flush(&hot, &lake);
                        match writer.delete_segments_below(low_water) {
                            Ok(n) => {
                                deleted.fetch_add(n, Ordering::Relaxed);
                            }
                            Err(_) if disk.power_losses() + disk.crashes() > ends => {
                                return Ok(());
                            }
                            Err(e) => return Err(format!("retention failed: {e}")),
                        }
                    }
                }
                Ok(())
            }));
        }
        for task in tasks {
            if let Err(e) = task.await.expect("a writer task") {
                fail(cycle, e);
            }
        }
        most_segments = most_segments.max(writer.segment_count());
        if disk.power_losses() + disk.crashes() == ends {
            match event {
                Some((mode, seed)) => disk.power_loss(mode, seed),
                None => disk.crash(),
            }
        }
        writer.shutdown();
    }
    let process = open(disk.process(), &lake)
        .unwrap_or_else(|e| fail(cycle, format!("the last recovery failed: {e}")));
    let mut ledger = ledger.lock().unwrap();
    if let Err(e) = ledger.check(&lake, &process.replayed) {
        fail(cycle, e);
    }
    process.writer.shutdown();
    assert!(
        lost_while_opening < cycle / 2 && most_segments > 1 && deleted.load(Ordering::Relaxed) > 0,
        "the workload never got past recovery ({lost_while_opening} of {cycle}), never rolled a \
         segment over ({most_segments}) or never deleted one (OXBOW_POWER_LOSS_SEED={seed})"
    );
    eprintln!(
        "power loss: {cycles} power losses ({} clean, {} torn prefix, {} sectors; {lost_while_opening} \
         during recovery) and {crashes} crashes, {} acknowledged rows, 0 lost, 0 duplicated, {} recoveries checked, \
         seed {seed}, {:.1} s",
        by_mode[0],
        by_mode[1],
        by_mode[2],
        ledger.acknowledged_rows,
        ledger.checks,
        started.elapsed().as_secs_f64()
    );
}
