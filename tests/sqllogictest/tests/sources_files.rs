//! FILES sources through the real binary: NDJSON, CSV and Parquet files dropped into a
//! directory while sources run, each read exactly once across a restart and a `kill -9`.

use std::path::Path;
use std::time::Duration;

use oxbow_sqllogictest::TestServer;
use oxbow_sqllogictest::sources::{count, wait_for};

fn write_parquet(path: &Path, ids: std::ops::Range<i64>) {
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("email", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(ids.clone())),
            Arc::new(StringArray::from_iter_values(
                ids.map(|i| format!("p{i}@x.io")),
            )),
        ],
    )
    .unwrap();
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp).unwrap();
    let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// Drops a file in via a `.tmp` name and a rename, as a writer should.
fn drop_file(dir: &Path, name: &str, body: &str) {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

#[tokio::test]
async fn a_file_source_ingests_every_file_once_across_restarts_and_kill9() {
    let root = tempfile::tempdir().unwrap();
    let inbox = root.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let mut server = TestServer::start_with(
        vec![
            "--allow-file-root".into(),
            root.path().display().to_string(),
        ],
        Vec::new(),
    );
    let client = server.connect().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE events (id bigint NOT NULL, email text);
             CREATE SOURCE inbox FROM FILES (path = '{dir}', pattern = '*.ndjson', settle = '200ms', poll_interval = '100ms')
               FORMAT JSON INTO events;
             CREATE SOURCE inbox_csv FROM FILES (path = '{dir}', pattern = '*.csv', settle = '200ms', poll_interval = '100ms')
               FORMAT CSV INTO events;
             CREATE SOURCE inbox_parquet FROM FILES (path = '{dir}', pattern = '*.parquet', settle = '200ms', poll_interval = '100ms')
               FORMAT PARQUET INTO events",
            dir = inbox.display()
        ))
        .await
        .unwrap();
    let ndjson = |ids: std::ops::Range<i64>| {
        ids.map(|i| format!("{{\"id\":{i},\"email\":\"n{i}@x.io\"}}\n"))
            .collect::<String>()
    };
    drop_file(&inbox, "a.ndjson", &ndjson(0..1000));
    drop_file(&inbox, "b.ndjson", &(ndjson(1000..1500) + "{broken\n"));
    // Half-written files are not read: this one stays a .tmp for now.
    std::fs::write(inbox.join("c.ndjson.tmp"), ndjson(1500..1600)).unwrap();
    let csv: String = std::iter::once("id,email\n".to_string())
        .chain((3000..3200).map(|i| format!("{i},c{i}@x.io\n")))
        .collect();
    drop_file(&inbox, "f.csv", &csv);
    let n = wait_for(
        &client,
        "SELECT count(*) FROM events",
        1700,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(n, 1700, "{}", server.log());
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM oxbow.dead_letters WHERE stage = 'decode'"
        )
        .await,
        1
    );
    // A restart reads nothing again.
    drop(client);
    server.restart();
    let client = server.connect().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(count(&client, "SELECT count(*) FROM events").await, 1700);
    std::fs::rename(inbox.join("c.ndjson.tmp"), inbox.join("c.ndjson")).unwrap();
    write_parquet(&inbox.join("d.parquet"), 2000..2300);
    let n = wait_for(
        &client,
        "SELECT count(*) FROM events",
        2100,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(n, 2100, "the renamed file and the Parquet file are read");
    // kill -9 while files keep arriving: afterwards each is in the table exactly once.
    for f in 0..10 {
        drop_file(
            &inbox,
            &format!("e{f}.ndjson"),
            &ndjson(10_000 + f * 1000..10_000 + (f + 1) * 1000),
        );
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    drop(client);
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let n = wait_for(
        &client,
        "SELECT count(*) FROM events",
        12_100,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(n, 12_100);
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM (SELECT id FROM events GROUP BY id HAVING count(*) > 1)"
        )
        .await,
        0,
        "no file was read twice"
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM oxbow.dead_letters").await,
        1
    );
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM events WHERE id BETWEEN 2000 AND 2299 AND email LIKE 'p%'"
        )
        .await,
        300
    );
}
