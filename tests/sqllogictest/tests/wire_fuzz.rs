//! A bounded TCP fuzzer: thousands of malformed conversations against the real binary, under
//! trust and under SCRAM. Each starts from a well-formed message sequence and mutates it: the
//! hand-made ones here (SSLRequest, startup, simple and extended queries, COPY, a SCRAM
//! exchange) and the sessions of real clients recorded in `fuzz-seeds/*.bin` (psql,
//! psycopg 3, pgJDBC: `fuzz-seeds/record.py` records them). Mutations: truncated,
//! bytes flipped, length fields set to 0..7, negative or `i32::MAX`, unknown tags, messages
//! repeated or out of order, garbage appended. After every batch the server must still answer
//! a new connection, and its log must hold no panic.
//!
//! `OXBOW_WIRE_FUZZ_CASES` sets the number of cases (default 3,000) and `OXBOW_WIRE_FUZZ_SEED`
//! the seed (printed, so a failure can be replayed); `OXBOW_WIRE_FUZZ_DUMP=<dir>` writes each
//! case's bytes there, to replay them one by one and find the one that broke the server.
//!
//! What it found, now refused before pgwire decodes it (`server/src/wire/framing.rs`) or
//! bounded (`server/src/wire/extended.rs`): an `Execute` asking for 2^31 - 1 rows aborted the
//! server on a 55 GB allocation; a `Parse` announcing more parameter types than it held, and
//! a SASL message hidden inside a startup packet, panicked pgwire's decoders.

use std::time::{Duration, Instant};

use oxbow_sqllogictest::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// xorshift64*: deterministic from the seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn startup(user: &str) -> Vec<u8> {
    let params = format!("user\0{user}\0database\0oxbow\0\0");
    let mut m = ((8 + params.len()) as i32).to_be_bytes().to_vec();
    m.extend_from_slice(&196608i32.to_be_bytes());
    m.extend_from_slice(params.as_bytes());
    m
}

fn ssl_request() -> Vec<u8> {
    let mut m = 8i32.to_be_bytes().to_vec();
    m.extend_from_slice(&80877103i32.to_be_bytes());
    m
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Well-formed conversations, each a list of messages.
fn seeds() -> Vec<Vec<Vec<u8>>> {
    let query = |sql: &str| message(b'Q', &cstr(sql));
    let parse = {
        let mut body = cstr("");
        body.extend(cstr("SELECT $1::bigint"));
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&20i32.to_be_bytes());
        message(b'P', &body)
    };
    let bind = {
        let mut body = cstr("");
        body.extend(cstr(""));
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.push(b'7');
        body.extend_from_slice(&0i16.to_be_bytes());
        message(b'B', &body)
    };
    let execute = {
        let mut body = cstr("");
        body.extend_from_slice(&0i32.to_be_bytes());
        message(b'E', &body)
    };
    let sasl_initial = {
        let mut body = cstr("SCRAM-SHA-256");
        let first = b"n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";
        body.extend_from_slice(&(first.len() as i32).to_be_bytes());
        body.extend_from_slice(first);
        message(b'p', &body)
    };
    vec![
        vec![ssl_request(), startup("fuzz"), query("SELECT 1")],
        vec![
            startup("fuzz"),
            query("CREATE TABLE IF NOT EXISTS f (id bigint, t text)"),
        ],
        vec![
            startup("fuzz"),
            parse.clone(),
            bind.clone(),
            message(b'D', b"P\0"),
            execute.clone(),
            message(b'S', b""),
        ],
        vec![
            startup("fuzz"),
            query("COPY f FROM STDIN"),
            message(b'd', b"1\tone\n2\ttwo\n"),
            message(b'c', b""),
        ],
        vec![
            startup("oxbow"),
            sasl_initial,
            message(b'p', b"c=biws,r=x,p=AAAA"),
        ],
        vec![startup("fuzz"), message(b'X', b"")],
    ]
}

/// The recorded sessions of real clients (`fuzz-seeds/*.bin`), each split into its messages.
fn recorded_seeds() -> Vec<Vec<Vec<u8>>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-seeds");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| split_messages(&std::fs::read(p).unwrap()))
        .filter(|m| !m.is_empty())
        .collect()
}

/// A client's bytes as messages: untyped ones (SSLRequest, startup) until the startup
/// packet, typed ones after it. A trailing partial message is dropped.
fn split_messages(bytes: &[u8]) -> Vec<Vec<u8>> {
    let be = |b: &[u8]| i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (mut at, mut typed, mut messages) = (0, false, Vec::new());
    while at < bytes.len() {
        let size = if typed {
            if at + 5 > bytes.len() {
                break;
            }
            1 + be(&bytes[at + 1..]) as usize
        } else {
            if at + 8 > bytes.len() {
                break;
            }
            typed = be(&bytes[at + 4..]) == 196_608;
            be(&bytes[at..]) as usize
        };
        if size < 4 || at + size > bytes.len() {
            break;
        }
        messages.push(bytes[at..at + size].to_vec());
        at += size;
    }
    messages
}

/// What one mutated conversation sends.
struct Mutated {
    bytes: Vec<u8>,
    /// Messages it holds (each mutated, duplicated or inserted message counts once; a
    /// truncated one still counts).
    messages: usize,
    /// Mutations applied to it (1 to 3): the malformed or misplaced messages among them.
    mutations: usize,
}

/// One mutation of a conversation.
fn mutate(rng: &mut Rng, seed: &[Vec<u8>]) -> Mutated {
    let mut messages: Vec<Vec<u8>> = seed.to_vec();
    let mutations = 1 + rng.below(3);
    for _ in 0..mutations {
        let i = rng.below(messages.len());
        let m = &mut messages[i];
        match rng.below(9) {
            0 => {
                let keep = rng.below(m.len());
                m.truncate(keep);
            }
            1 if !m.is_empty() => {
                let at = rng.below(m.len());
                m[at] ^= 1 << rng.below(8);
            }
            2 | 3 if m.len() >= 5 => {
                // The length field: of a typed message at 1, of a startup message at 0.
                let at = if m[0].is_ascii_alphabetic() { 1 } else { 0 };
                let length: i32 = match rng.below(4) {
                    0 => rng.below(8) as i32,
                    1 => -(1 + rng.below(1 << 20) as i32),
                    2 => i32::MAX,
                    _ => rng.below(1 << 24) as i32,
                };
                m[at..at + 4].copy_from_slice(&length.to_be_bytes());
            }
            4 if !m.is_empty() => m[0] = rng.next() as u8,
            5 => {
                let copy = m.clone();
                messages.insert(i, copy);
            }
            6 => {
                let j = rng.below(messages.len());
                messages.swap(i, j);
            }
            7 => m.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
            _ => messages.insert(i, ssl_request()),
        }
    }
    Mutated {
        bytes: messages.concat(),
        messages: messages.len(),
        mutations,
    }
}

/// Sends `bytes` and reads what comes back until the server closes or goes quiet.
async fn converse(port: u16, bytes: &[u8]) {
    let Ok(mut socket) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    let _ = socket.write_all(bytes).await;
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_millis(200);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline.into(), socket.read(&mut buffer)).await {
        if n == 0 {
            break;
        }
    }
}

/// `password`: the superuser's, for a server that asks for one. Returns the number of
/// messages sent and of mutations among them.
async fn fuzz(
    server: &TestServer,
    password: Option<&str>,
    cases: usize,
    seed: u64,
) -> (usize, usize) {
    let mut rng = Rng(seed);
    let mut seeds = seeds();
    seeds.extend(recorded_seeds());
    let (mut sent, mut mutations) = (0, 0);
    for batch in 0..cases.div_ceil(100) {
        let conversations: Vec<Vec<u8>> = (0..100.min(cases - batch * 100))
            .map(|_| {
                let seed = &seeds[rng.below(seeds.len())];
                let mutated = mutate(&mut rng, seed);
                sent += mutated.messages;
                mutations += mutated.mutations;
                mutated.bytes
            })
            .collect();
        if let Ok(dir) = std::env::var("OXBOW_WIRE_FUZZ_DUMP") {
            for (i, c) in conversations.iter().enumerate() {
                std::fs::write(format!("{dir}/{batch}-{i}.bin"), c).ok();
            }
        }
        futures::future::join_all(conversations.iter().map(|c| converse(server.port(), c))).await;
        // Still answering, still no panic.
        let client = match password {
            Some(password) => server.login("oxbow", password).await.unwrap_or_else(|e| {
                panic!("after batch {batch} (seed {seed}): {e}\n{}", server.log())
            }),
            None => server.connect().await,
        };
        client
            .simple_query("SELECT 1")
            .await
            .unwrap_or_else(|e| panic!("after batch {batch} (seed {seed}): {e}\n{}", server.log()));
        assert!(
            !server.log().contains("panicked"),
            "a panic after batch {batch} (seed {seed}):\n{}",
            server.log()
        );
    }
    (sent, mutations)
}

fn settings() -> (usize, u64) {
    let cases = std::env::var("OXBOW_WIRE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed = std::env::var("OXBOW_WIRE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    (cases, seed)
}

#[test]
fn the_recorded_sessions_of_real_clients_are_seeds() {
    let recorded = recorded_seeds();
    let files =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-seeds"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "bin"))
            })
            .count();
    assert_eq!(
        recorded.len(),
        files,
        "every recording splits into messages"
    );
    for client in ["psql", "psycopg", "jdbc"] {
        assert!(
            std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-seeds"))
                .unwrap()
                .any(|e| e.unwrap().file_name().to_string_lossy().starts_with(client)),
            "no recorded {client} session"
        );
    }
    // Each is a whole conversation: a startup packet, then queries of some kind.
    for messages in &recorded {
        assert!(
            messages
                .iter()
                .any(|m| m.len() >= 8 && m[4..8] == 196_608i32.to_be_bytes()),
            "a recording without a startup packet"
        );
        assert!(
            messages.iter().any(|m| m[0] == b'Q' || m[0] == b'P'),
            "a recording without a query"
        );
    }
}

#[tokio::test]
async fn malformed_conversations_never_take_the_server_down() {
    let (cases, seed) = settings();
    println!(
        "wire fuzz: {cases} cases per server, seed {seed} (rerun with OXBOW_WIRE_FUZZ_SEED={seed})"
    );
    let started = Instant::now();
    let trust =
        TestServer::start_with(vec!["--max-message-bytes".into(), "1048576".into()], vec![]);
    let (mut sent, mut mutations) = fuzz(&trust, None, cases, seed).await;
    let scram = TestServer::start_with(Vec::new(), vec![("OXBOW_PASSWORD".into(), "pw".into())]);
    let (more_sent, more_mutations) =
        fuzz(&scram, Some("pw"), cases, seed ^ 0x9e37_79b9_7f4a_7c15).await;
    sent += more_sent;
    mutations += more_mutations;
    scram.login("oxbow", "pw").await.unwrap();
    // The line tests/soak/fuzz.sh records: reached only when both servers answered after
    // every batch and neither logged a panic.
    println!(
        "wire fuzz: {} conversations, {sent} messages ({mutations} of them malformed or misplaced), 0 panics, both servers answering, seed {seed}, {:.1} s",
        2 * cases,
        started.elapsed().as_secs_f64()
    );
}
