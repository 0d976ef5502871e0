//! Helpers of the source tests: HTTP pushes with curl (a real client) and polling counts.

use std::process::Command;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

pub async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// POSTs `body` with curl; returns the status and the JSON answer.
pub fn post(url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, body).unwrap();
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", url])
        // No `Expect: 100-continue` (curl sends it for bodies over 1 MB): a server that refuses
        // the body after its interim 100 left curl reporting 100 instead of the final status.
        .args(["-H", "Expect:"])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()));
    for (k, v) in headers {
        command.arg("-H").arg(format!("{k}: {v}"));
    }
    let out = command.output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (json, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status: u16 = status
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl said {text:?} {:?}", out.stderr));
    (
        status,
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

pub async fn wait_for(client: &Client, sql: &str, want: i64, timeout: Duration) -> i64 {
    let deadline = Instant::now() + timeout;
    loop {
        let n = count(client, sql).await;
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
