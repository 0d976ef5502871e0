//! The simulated disk's own promises: what a power loss, a crash and a fault keep.

use std::path::PathBuf;

use super::*;
use crate::fs::DurableFs;

fn path(p: &str) -> PathBuf {
    PathBuf::from(p)
}

#[test]
fn a_power_loss_keeps_synced_bytes_and_synced_names_only() {
    let disk = SimulatedDisk::with_dir(&path("/d"));
    let fs = disk.process();
    let mut f = fs.create(&path("/d/a")).unwrap();
    f.append(b"synced").unwrap();
    f.sync_data().unwrap();
    fs.sync_dir(&path("/d")).unwrap();
    f.append(b" lost").unwrap();
    let mut g = fs.create(&path("/d/b")).unwrap();
    g.append(b"synced but its name is not").unwrap();
    g.sync_data().unwrap();
    disk.power_loss(PowerLoss::Clean, 1);
    assert!(f.append(b"x").is_err(), "the old process is gone");
    let fs = disk.process();
    assert_eq!(fs.read(&path("/d/a")).unwrap(), b"synced");
    assert_eq!(fs.list_dir(&path("/d")).unwrap(), vec!["a".to_string()]);
}

#[test]
fn a_crash_keeps_the_page_cache_and_a_later_power_loss_does_not() {
    let disk = SimulatedDisk::with_dir(&path("/d"));
    let fs = disk.process();
    let mut f = fs.create(&path("/d/a")).unwrap();
    fs.sync_dir(&path("/d")).unwrap();
    f.append(b"cached").unwrap();
    disk.crash();
    let fs = disk.process();
    assert_eq!(fs.read(&path("/d/a")).unwrap(), b"cached");
    disk.power_loss(PowerLoss::Clean, 1);
    assert_eq!(disk.process().read(&path("/d/a")).unwrap(), b"");
}

#[test]
fn a_torn_or_sector_power_loss_keeps_only_bytes_that_were_written() {
    for seed in 0..200 {
        for mode in [PowerLoss::TornPrefix, PowerLoss::Sectors] {
            let disk = SimulatedDisk::with_dir(&path("/d"));
            let fs = disk.process();
            let mut f = fs.create(&path("/d/a")).unwrap();
            fs.sync_dir(&path("/d")).unwrap();
            f.append(&[1; 700]).unwrap();
            f.sync_data().unwrap();
            f.append(&[2; 1500]).unwrap();
            disk.power_loss(mode, seed);
            let data = disk.process().read(&path("/d/a")).unwrap();
            assert!(data.len() >= 700 && data.len() <= 2200, "{mode:?} {seed}");
            assert!(data[..700].iter().all(|b| *b == 1), "synced bytes stay");
            assert!(data[700..].iter().all(|b| *b == 2 || *b == 0));
        }
    }
}

#[test]
fn the_nth_operation_fails_and_a_failed_sync_loses_unsynced_bytes() {
    let disk = SimulatedDisk::with_dir(&path("/d"));
    let fs = disk.process();
    let mut f = fs.create(&path("/d/a")).unwrap();
    f.append(b"12").unwrap();
    f.sync_data().unwrap();
    disk.set_fault(Some(Fault {
        op: disk.ops() + 2,
        kind: FaultKind::Eio,
        persistent: false,
    }));
    f.append(b"34").unwrap();
    assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(5));
    assert!(disk.fault_fired());
    assert_eq!(fs.read(&path("/d/a")).unwrap(), b"12");
    assert_eq!(disk.op(disk.ops() - 1).unwrap().0, Op::SyncData);
}

#[test]
fn a_rename_is_durable_after_its_directory_is_synced() {
    let disk = SimulatedDisk::with_dir(&path("/d"));
    let fs = disk.process();
    let mut f = fs.create(&path("/d/tmp")).unwrap();
    f.append(b"v1").unwrap();
    f.sync_data().unwrap();
    fs.rename(&path("/d/tmp"), &path("/d/v")).unwrap();
    fs.sync_dir(&path("/d")).unwrap();
    disk.power_loss(PowerLoss::Clean, 0);
    let fs = disk.process();
    assert_eq!(fs.list_dir(&path("/d")).unwrap(), vec!["v".to_string()]);
    assert_eq!(fs.read(&path("/d/v")).unwrap(), b"v1");
}
