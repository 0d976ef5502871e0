//! Runs every `slt/*.slt` file against its own freshly started `oxbow` over pgwire.
//!
//! `cargo test -p oxbow-sqllogictest --test slt -- [FILTER]` runs the files whose name
//! contains FILTER; `SLT_COMPLETE=1` rewrites the expected results in place (review the diff).

use std::path::PathBuf;

use oxbow_sqllogictest::{PgSimple, TestServer};
use sqllogictest::{Runner, default_column_validator, default_normalizer, default_validator};

fn slt_files(filter: Option<&str>) -> Vec<PathBuf> {
    // Cargo sets the variable at run time too; that one is right even when the binary was
    // built from a checkout at another path that shared the target directory.
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let dir = PathBuf::from(manifest_dir).join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("slt directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| filter.is_none_or(|f| p.to_string_lossy().contains(f)))
        .collect();
    files.sort();
    files
}

#[tokio::main]
async fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let complete = std::env::var("SLT_COMPLETE").is_ok();
    let mut failures = Vec::new();
    let files = slt_files(filter.as_deref());
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        // Sinks (sinks.slt) write under the runner's `$__TEST_DIR__`, in the temp dir.
        let server = TestServer::start_with(
            vec![
                "--allow-file-root".into(),
                std::env::temp_dir().display().to_string(),
            ],
            Vec::new(),
        );
        let conn_str = server.conn_str();
        let mut runner = Runner::new(move || {
            let conn_str = conn_str.clone();
            async move {
                let (client, connection) =
                    tokio_postgres::connect(&conn_str, tokio_postgres::NoTls).await?;
                tokio::spawn(async move {
                    connection.await.ok();
                });
                Ok::<_, oxbow_sqllogictest::SltError>(PgSimple { client })
            }
        });
        runner.with_column_validator(|_, _| true);
        let result = if complete {
            runner
                .update_test_file(
                    file,
                    " ",
                    default_validator,
                    default_normalizer,
                    default_column_validator,
                )
                .await
                .map_err(|e| e.to_string())
        } else {
            runner
                .run_file_async(file)
                .await
                .map_err(|e| e.display(true).to_string())
        };
        match result {
            Ok(()) => println!("ok    {name}"),
            Err(e) => {
                println!(
                    "FAIL  {name}\n{e}\n--- server log ---\n{}",
                    tail(&server.log(), 40)
                );
                failures.push(name);
            }
        }
    }
    println!(
        "\n{} slt files, {} failed{}",
        files.len(),
        failures.len(),
        if failures.is_empty() {
            String::new()
        } else {
            format!(": {}", failures.join(", "))
        }
    );
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
