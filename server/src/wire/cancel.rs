//! Stopping a running statement: a `CancelRequest` from another connection, or the session's
//! `statement_timeout`. Both must hold while a query computes and while its rows stream out,
//! not only while it is planned (datafusion-postgres' and pgwire's own checks end when the
//! handler returns a lazy row stream).
//!
//! - [`RunningStatement`]: one per connection, holding a fresh [`CancellationToken`] while a
//!   statement runs (from the `Query` or `Execute` message until its last row is sent).
//! - [`CancelRegistry`]: pgwire's `CancelHandler`, finding a connection by its
//!   `(pid, secret key)` and cancelling its current token; a cancel for an idle connection
//!   does nothing, as in PostgreSQL.
//! - [`StatementStop`]: what a query checks: the token and the deadline. [`StatementStop::run`]
//!   races planning and execution against them; [`StatementStop::guard`] ends a row stream
//!   with 57014 when either fires, and drops the DataFusion stream, which stops its work at
//!   the next yield point.
//!
//! - [`StopCause`]: why a token fired: a user's cancel (57014), or the server's memory budget
//!   (53200, `crate::wire::memory_watchdog`), so that the query reports the right one.
//!
//! A suspended portal (an `Execute` with a row limit, as JDBC's fetch size sends) keeps its
//! guarded stream across `Execute`s; each later `Execute` brings its own token and deadline
//! to it ([`GuardedRows`] follows the connection's current statement).
//!
//! Only queries are cut short this way. A write is never dropped half-way (its WAL append and
//! hot-tier apply must happen together or not at all), so INSERT, COPY and DDL run to the end.
//!
//! pgwire's `ConnectionHandle::start_query` is not used: it would replace pgwire's own sender
//! and make pgwire report a spurious cancel.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{FutureExt, Stream, StreamExt};
use pgwire::api::ClientInfo;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::results::QueryResponse;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::SecretKey;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tracing::{debug, info};

use crate::wire::sqlstate::code;

/// Where datafusion-postgres keeps a session's `statement_timeout` (milliseconds).
const STATEMENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

/// The statement a connection is running, if any.
#[derive(Debug, Default)]
pub struct RunningStatement {
    current: Mutex<Option<Running>>,
    /// Counts the messages (`Query`, `Execute`) that began, so that a row stream kept across
    /// them (a suspended portal) knows when a new one began.
    began: std::sync::atomic::AtomicU64,
    /// The connection's query memory, which tells the memory watchdog how much its running
    /// query holds.
    memory: OnceLock<Arc<crate::sql::memory::StatementMemory>>,
}

/// One message's run: its number, its cancel token and when it began.
#[derive(Debug, Clone)]
struct Running {
    number: u64,
    token: CancellationToken,
    began: Instant,
    /// Set just before the token is cancelled.
    cause: Arc<OnceLock<StopCause>>,
}

/// Why a statement's token was cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopCause {
    /// A `CancelRequest`: 57014.
    User,
    /// The server passed its memory budget and this query held the most: 53200, with this
    /// message.
    OutOfMemory(String),
}

/// What the memory watchdog sees of a running statement.
#[derive(Debug, Clone)]
pub struct RunningQuery {
    pub statement: Arc<RunningStatement>,
    /// Bytes its operators hold in the memory pool.
    pub reserved: usize,
    pub began: Instant,
}

impl RunningStatement {
    /// A statement starts: later cancels stop it, earlier ones are forgotten.
    pub fn begin(&self) {
        let number = self
            .began
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        *self.current.lock().expect("running statement lock") = Some(Running {
            number,
            token: CancellationToken::new(),
            began: Instant::now(),
            cause: Arc::new(OnceLock::new()),
        });
    }

    /// Ties the connection's query memory to it (once, when the connection is made).
    pub fn attach_memory(&self, memory: Arc<crate::sql::memory::StatementMemory>) {
        let _ = self.memory.set(memory);
    }

    /// The statement has answered; a cancel arriving now finds nothing to stop.
    pub fn end(&self) {
        *self.current.lock().expect("running statement lock") = None;
    }

    fn current(&self) -> Option<Running> {
        self.current.lock().expect("running statement lock").clone()
    }

    fn cancel(&self) -> bool {
        self.cancel_because(StopCause::User)
    }

    /// Stops the running statement, if any, for `cause`; whether one was running.
    pub fn cancel_because(&self, cause: StopCause) -> bool {
        match self.current.lock().expect("running statement lock").take() {
            Some(running) => {
                let _ = running.cause.set(cause);
                running.token.cancel();
                true
            }
            None => false,
        }
    }
}

type CancelKey = (i32, Bytes);

/// Logged-in connections by `(pid, secret key)`, for `CancelRequest`.
#[derive(Debug, Default)]
pub struct CancelRegistry {
    connections: RwLock<HashMap<CancelKey, Weak<RunningStatement>>>,
}

/// Removes its connection from the registry when the connection ends (it lives in the
/// connection's session extensions).
pub struct Registration {
    key: CancelKey,
    registry: Arc<CancelRegistry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry
            .connections
            .write()
            .expect("cancel registry lock")
            .remove(&self.key);
    }
}

impl CancelRegistry {
    /// Every connection's running statement, with the memory it holds.
    pub fn running_queries(&self) -> Vec<RunningQuery> {
        let connections: Vec<Arc<RunningStatement>> = self
            .connections
            .read()
            .expect("cancel registry lock")
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        connections
            .into_iter()
            .filter_map(|statement| {
                let now = statement.current()?;
                let reserved = statement.memory.get().map_or(0, |m| m.reserved());
                Some(RunningQuery {
                    statement,
                    reserved,
                    began: now.began,
                })
            })
            .collect()
    }

    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        secret: &SecretKey,
        running: &Arc<RunningStatement>,
    ) -> Registration {
        let key = (pid, secret.to_bytes());
        self.connections
            .write()
            .expect("cancel registry lock")
            .insert(key.clone(), Arc::downgrade(running));
        Registration {
            key,
            registry: Arc::clone(self),
        }
    }
}

#[async_trait]
impl CancelHandler for CancelRegistry {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let key = (request.pid, request.secret_key.to_bytes());
        let running = self
            .connections
            .read()
            .expect("cancel registry lock")
            .get(&key)
            .and_then(Weak::upgrade);
        match running {
            Some(running) => {
                let canceled = running.cancel();
                info!(pid = request.pid, canceled, "cancel request");
            }
            // A wrong key is not an answer the sender gets to see (none is sent).
            None => debug!(pid = request.pid, "cancel request for no known connection"),
        }
    }
}

fn canceled_by_user() -> PgWireError {
    query_canceled("canceling statement due to user request")
}

/// The error of a statement whose token fired, by the cause set before it fired.
fn stopped_error(cause: Option<&Arc<OnceLock<StopCause>>>) -> PgWireError {
    match cause.and_then(|c| c.get()) {
        Some(StopCause::OutOfMemory(message)) => PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".into(),
            code::OUT_OF_MEMORY.into(),
            message.clone(),
        ))),
        _ => canceled_by_user(),
    }
}

fn timed_out() -> PgWireError {
    query_canceled("canceling statement due to statement timeout")
}

fn query_canceled(message: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code::QUERY_CANCELED.into(),
        message.into(),
    )))
}

/// What stops one query: its connection's cancel token and its `statement_timeout` deadline.
#[derive(Debug, Clone)]
pub struct StatementStop {
    token: Option<CancellationToken>,
    cause: Option<Arc<OnceLock<StopCause>>>,
    deadline: Option<Instant>,
    /// The connection's statements, and the number of the one this stop began in: a row
    /// stream that outlives its `Execute` (a suspended portal) takes the cancel token and the
    /// deadline of each later `Execute` that fetches from it.
    running: Option<(Arc<RunningStatement>, u64)>,
    timeout: Option<std::time::Duration>,
}

impl StatementStop {
    /// The stop of the statement `client` is running, its deadline counted from now.
    pub fn of(client: &(impl ClientInfo + ?Sized)) -> Self {
        let running = client
            .session_extensions()
            .get::<Arc<RunningStatement>>()
            .and_then(|running| running.current().map(|now| (running, now)));
        let token = running.as_ref().map(|(_, now)| now.token.clone());
        let cause = running.as_ref().map(|(_, now)| Arc::clone(&now.cause));
        let timeout = client
            .metadata()
            .get(STATEMENT_TIMEOUT_KEY)
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis);
        let deadline = timeout.map(|t| Instant::now() + t);
        Self {
            token,
            cause,
            deadline,
            running: running.map(|(running, now)| (Arc::clone(&*running), now.number)),
            timeout,
        }
    }

    /// Runs `work` unless the statement is canceled or times out first (`work` is dropped).
    pub async fn run<T>(&self, work: impl Future<Output = PgWireResult<T>>) -> PgWireResult<T> {
        let canceled = async {
            match &self.token {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let expired = async {
            match self.deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = canceled => Err(stopped_error(self.cause.as_ref())),
            () = expired => Err(timed_out()),
            result = work => result,
        }
    }

    /// `response` with its rows ending in a 57014 error as soon as the statement is canceled
    /// or times out, even while the next row is still being computed.
    pub fn guard(&self, response: QueryResponse) -> QueryResponse {
        if self.token.is_none() && self.deadline.is_none() && self.running.is_none() {
            return response;
        }
        let QueryResponse {
            command_tag,
            row_schema,
            data_rows,
            ..
        } = response;
        let guarded = GuardedRows {
            rows: Some(data_rows),
            canceled: self.token.clone().map(|t| Box::pin(t.cancelled_owned())),
            cause: self.cause.clone(),
            expired: self.deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
            running: self.running.clone(),
            timeout: self.timeout,
        };
        let mut response = QueryResponse::new(row_schema, guarded);
        response.command_tag = command_tag;
        response
    }
}

type Rows = Pin<Box<dyn Stream<Item = PgWireResult<DataRow>> + Send>>;

/// A row stream that stops with an error when its statement is canceled or times out.
struct GuardedRows {
    /// `None` once stopped: the DataFusion stream has been dropped.
    rows: Option<Rows>,
    canceled: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    cause: Option<Arc<OnceLock<StopCause>>>,
    expired: Option<Pin<Box<Sleep>>>,
    /// The connection's statements and the number of the one `canceled` and `expired` are of.
    running: Option<(Arc<RunningStatement>, u64)>,
    timeout: Option<std::time::Duration>,
}

impl GuardedRows {
    /// When a later `Execute` fetches from this stream (a suspended portal), its own cancel
    /// token and deadline replace those of the `Execute` that began it: a cancel then reaches
    /// it, and the time the portal sat idle between fetches does not count.
    fn follow_current_statement(&mut self) {
        let Some((running, number)) = &mut self.running else {
            return;
        };
        let Some(now) = running.current() else {
            return;
        };
        if now.number == *number {
            return;
        }
        *number = now.number;
        self.canceled = Some(Box::pin(now.token.cancelled_owned()));
        self.cause = Some(Arc::clone(&now.cause));
        self.expired = self
            .timeout
            .map(|t| Box::pin(tokio::time::sleep_until(now.began + t)));
    }
}

impl Stream for GuardedRows {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.rows.is_none() {
            return Poll::Ready(None);
        }
        self.follow_current_statement();
        // Polling both registers their wakers, so a stream stuck computing its next row still
        // wakes this task when the deadline passes or a cancel arrives.
        let stop = if self
            .canceled
            .as_mut()
            .is_some_and(|c| c.poll_unpin(cx).is_ready())
        {
            Some(stopped_error(self.cause.as_ref()))
        } else if self
            .expired
            .as_mut()
            .is_some_and(|e| e.poll_unpin(cx).is_ready())
        {
            Some(timed_out())
        } else {
            None
        };
        if let Some(error) = stop {
            self.rows = None;
            return Poll::Ready(Some(Err(error)));
        }
        let rows = self.rows.as_mut().expect("checked above");
        rows.poll_next_unpin(cx)
    }
}
