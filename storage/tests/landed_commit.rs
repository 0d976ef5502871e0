//! A flush whose Delta commit landed although the flush never learned it (review D4): the
//! next flush must see the landed commit, by reloading the log and reading the table's `txn`,
//! instead of committing the same rows again or conflicting with them forever.

use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use oxbow_catalog::{ColumnDef, ObjectName, SqlType, TableDef, TableOptions};
use oxbow_storage::{LakeRoot, Table};

fn table_def() -> TableDef {
    let id = "7d8a3c1e-0000-4000-8000-000000000001";
    TableDef {
        id: id.into(),
        location: TableDef::location_for_id(id),
        name: ObjectName::new("public", "t"),
        columns: vec![ColumnDef {
            name: "id".into(),
            sql_type: SqlType::BigInt,
            nullable: false,
        }],
        options: TableOptions::default(),
        primary_key: Vec::new(),
    }
}

fn rows(def: &TableDef, ids: &[i64]) -> RecordBatch {
    RecordBatch::try_new(
        Arc::new(def.arrow_schema()),
        vec![Arc::new(Int64Array::from(ids.to_vec()))],
    )
    .unwrap()
}

/// Every id in the Delta tier of `table`, sorted (duplicates kept).
async fn delta_ids(delta: &DeltaTable) -> Vec<i64> {
    let ctx = SessionContext::new();
    ctx.register_table("t", delta.table_provider().await.unwrap())
        .unwrap();
    let batches = ctx
        .sql("SELECT id FROM t ORDER BY id")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    batches
        .iter()
        .flat_map(|b| {
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            (0..ids.len()).map(|i| ids.value(i)).collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn a_flush_after_a_commit_the_handle_missed_counts_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = LakeRoot::local(dir.path()).unwrap();
    let def = table_def();
    let table = Arc::new(Table::create(&root, &def).await.unwrap());
    table.apply(1, vec![rows(&def, &[1, 2])]);
    table.apply(2, vec![rows(&def, &[3])]);

    // The flush of records 1..=2 lands, but its caller never installs it: the commit is made
    // through another handle, exactly as the flush would have made it.
    let mut behind = deltalake::open_table(root.table_url(&def.location).unwrap())
        .await
        .unwrap();
    behind = behind
        .write(vec![rows(&def, &[1, 2, 3])])
        .with_save_mode(SaveMode::Append)
        .with_commit_properties(
            CommitProperties::default().with_application_transaction(Transaction::new(&def.id, 2)),
        )
        .await
        .unwrap();
    assert_eq!(behind.version(), Some(1));

    let flushed = table
        .flush()
        .await
        .expect("the landed commit is recognised");
    assert_eq!(flushed, Some(2));
    assert_eq!(table.flushed_seq(), 2);
    assert_eq!(
        table.hot_stats().rows,
        0,
        "the flushed batches left the hot tier"
    );
    assert_eq!(delta_ids(&table.snapshot().delta).await, vec![1, 2, 3]);

    // The handle is current again: the next flush commits normally.
    table.apply(3, vec![rows(&def, &[4])]);
    assert_eq!(table.flush().await.unwrap(), Some(3));
    assert_eq!(delta_ids(&table.snapshot().delta).await, vec![1, 2, 3, 4]);

    let reopened = Table::open(&root, &def).await.unwrap();
    assert_eq!(reopened.flushed_seq(), 3, "the reopened table's txn");
    assert_eq!(
        delta_ids(&reopened.snapshot().delta).await,
        vec![1, 2, 3, 4]
    );
}

#[tokio::test]
async fn a_flush_whose_commit_landed_but_failed_its_checkpoint_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let root = LakeRoot::local(dir.path()).unwrap();
    let def = table_def();
    let table = Arc::new(Table::create(&root, &def).await.unwrap());
    // deltalake checkpoints after version 99 (the default interval is 100) and then writes
    // `_last_checkpoint`; a directory of that name makes that write fail after the commit.
    let log_dir = dir.path().join(&def.location).join("_delta_log");
    std::fs::create_dir_all(log_dir.join("_last_checkpoint/blocker")).unwrap();
    for seq in 1..=98u64 {
        table.apply(seq, vec![rows(&def, &[seq as i64])]);
        assert_eq!(table.flush().await.unwrap(), Some(seq));
    }
    assert_eq!(table.delta_stats().0, 98);

    table.apply(99, vec![rows(&def, &[99])]);
    let result = table.flush().await;
    assert!(
        log_dir.join(format!("{:020}.json", 99)).exists(),
        "version 99 landed"
    );
    assert_eq!(
        result.expect("a landed commit counts as flushed despite the checkpoint error"),
        Some(99)
    );
    assert_eq!(table.hot_stats().rows, 0);
    table.apply(100, vec![rows(&def, &[100])]);
    assert_eq!(table.flush().await.unwrap(), Some(100));

    let expected: Vec<i64> = (1..=100).collect();
    assert_eq!(
        delta_ids(&table.snapshot().delta).await,
        expected,
        "once each"
    );
    let reopened = Table::open(&root, &def).await.unwrap();
    assert_eq!(reopened.flushed_seq(), 100);
    assert_eq!(delta_ids(&reopened.snapshot().delta).await, expected);
}
