//! `--config oxbow.toml` against the real binary: a flag wins over `OXBOW_*`, the
//! environment over the file, the file over the default (as `oxbow config show` reports
//! each origin), what `config show` prints is itself a config file, a bad file fails the
//! start with its key, and `serve` really runs with the file's settings (its listen address,
//! connection limit and JSON logs).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use oxbow_sqllogictest::{free_port, oxbow_bin};

/// `oxbow <args>` with only `env` in its environment (none of the caller's OXBOW_*).
fn oxbow(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(oxbow_bin());
    command.args(args).env_clear();
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run oxbow")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "oxbow failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The line of `setting` in `config show`'s text.
fn line<'a>(text: &'a str, setting: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("{setting} = ")))
        .unwrap_or_else(|| panic!("no line for {setting} in:\n{text}"))
}

#[test]
fn a_flag_wins_over_the_environment_which_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oxbow.toml");
    std::fs::write(
        &file,
        "hot_memory_mb = 300\nuser = \"file_user\"\nmax_connections = 7\n\
         allow-file-root = [\"/srv/a\", \"/srv/b\"]\nrequire_tls = false\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let shown = stdout(&oxbow(
        &["config", "show", "--config", path, "--hot-memory-mb", "100"],
        &[("OXBOW_HOT_MEMORY_MB", "200"), ("OXBOW_USER", "env_user")],
    ));
    assert_eq!(
        line(&shown, "hot_memory_mb"),
        "hot_memory_mb = 100  # flag --hot-memory-mb"
    );
    assert_eq!(
        line(&shown, "user"),
        "user = \"env_user\"  # env OXBOW_USER"
    );
    assert_eq!(
        line(&shown, "max_connections"),
        format!("max_connections = 7  # file {path}")
    );
    assert_eq!(
        line(&shown, "allow_file_root"),
        format!("allow_file_root = [\"/srv/a\", \"/srv/b\"]  # file {path}")
    );
    assert_eq!(
        line(&shown, "max_message_bytes"),
        "max_message_bytes = 67108864  # default"
    );
    assert_eq!(
        line(&shown, "pg_listen"),
        "pg_listen = \"127.0.0.1:5432\"  # default"
    );
    // Each setting's documentation comes with it.
    assert!(shown.contains("# flag --hot-memory-mb, env OXBOW_HOT_MEMORY_MB"));

    // The file named by OXBOW_CONFIG instead of the flag; without the env and the flag the
    // file's value shows through.
    let shown = stdout(&oxbow(&["config", "show"], &[("OXBOW_CONFIG", path)]));
    assert_eq!(
        line(&shown, "hot_memory_mb"),
        format!("hot_memory_mb = 300  # file {path}")
    );
    assert_eq!(
        line(&shown, "user"),
        format!("user = \"file_user\"  # file {path}")
    );

    // What config show prints is a config file giving the same values.
    let again = dir.path().join("shown.toml");
    std::fs::write(&again, &shown).unwrap();
    let again_path = again.to_str().unwrap();
    let reread = stdout(&oxbow(&["config", "show", "--config", again_path], &[]));
    for setting in [
        "hot_memory_mb",
        "user",
        "max_connections",
        "allow_file_root",
    ] {
        let want = line(&shown, setting).split("  # ").next().unwrap();
        assert_eq!(
            line(&reread, setting),
            format!("{want}  # file {again_path}")
        );
    }
}

#[test]
fn a_bad_config_file_fails_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("pg_port = 5433\n", "unknown setting \"pg_port\""),
        ("max_connections = \"many\"\n", "max_connections = \"many\""),
        ("password = \"secret\"\n", "use password_file"),
        ("pg_listen = \n", "not valid TOML"),
    ];
    for (text, want) in cases {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let out = oxbow(&["config", "show", "--config", file.to_str().unwrap()], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text} was accepted");
        assert!(stderr.contains(want), "{text}: {stderr}");
        assert!(
            !stderr.contains("secret"),
            "the password was echoed: {stderr}"
        );
    }
    let out = oxbow(&["serve", "--config", "/nonexistent/oxbow.toml"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file"));
}

/// Waits until `port` accepts connections.
fn wait_for_port(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "oxbow did not listen on {port}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_runs_with_the_files_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, http) = (free_port(), free_port());
    let file = dir.path().join("oxbow.toml");
    std::fs::write(
        &file,
        format!(
            "pg_listen = \"127.0.0.1:{pg}\"\nhttp_listen = \"127.0.0.1:{http}\"\n\
             data_dir = \"{}\"\nmax_connections = 1\nlog_format = \"json\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let log_path = dir.path().join("oxbow.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(oxbow_bin())
        .args(["serve", "--config", file.to_str().unwrap()])
        .env_clear()
        // A configured password: else the first start prints the generated one as plain text
        // (on purpose, whatever the log format).
        .env("OXBOW_PASSWORD", "config-test-pw")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_for_port(pg, &log_path);
    wait_for_port(http, &log_path);

    let conn = format!("host=127.0.0.1 port={pg} user=oxbow password=config-test-pw dbname=oxbow");
    let (first, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let one: i32 = first.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    // max_connections = 1 from the file: a second session is refused.
    let second = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await;
    let code = second
        .err()
        .and_then(|e| e.as_db_error().map(|d| d.code().code().to_string()));
    assert_eq!(code.as_deref(), Some("53300"));

    let _ = child.kill();
    let _ = child.wait();
    // log_format = "json" from the file: every line is a JSON object with a level.
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
    }
    assert!(
        lines.iter().any(|l| l.contains("read the config file")),
        "{text}"
    );
}
