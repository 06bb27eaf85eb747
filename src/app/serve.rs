//! `ipo-top serve`: the one MTCTI3 session of a site, published into NATS JetStream for any
//! number of viewers. The pure parts are in `share` (what to write, the lock's state machine);
//! this task carries them out: the session's events into bucket writes (through a writer task,
//! so a slow or absent NATS never holds up the lock's timing), the lock's creates and renewals,
//! and the link to the PBX opened only while the lock is held. Viewers' functions come in on
//! the desk ([`super::desk`]): checked against this copy of the model, recorded, sent, and
//! their reports passed back.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::kv;
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::audit::{self, AuditLog};
use super::config::SharedSettings;
use super::desk::{self, Desk, ViewerFunctions};
use super::nats;
use crate::model::{AlertConfig, FixedOffset, Tables, WallClock};
use crate::session::{Endpoint, SessionConfig, SessionEvent, SessionHandle, Updates, spawn};
use crate::share::{
    Holder, HolderValue, KvOp, LOCK_KEY, LockAction, PURGE_MARKER_TTL, Publisher, SyncValue,
    coalesce,
};

/// What `serve` serves.
pub struct ServeTarget {
    /// The NATS server and site.
    pub shared: SharedSettings,
    /// The PBX.
    pub endpoint: Endpoint,
    /// The session's settings (the serving side's own scope).
    pub session: SessionConfig,
    /// Where viewers' functions are recorded (`None`: nowhere, and every one is refused);
    /// normally the data directory's audit log.
    pub audit: Option<std::path::PathBuf>,
    /// The serving side's own `[alerts]`: its engines judge the queues for every viewer.
    pub alerts: AlertConfig,
}

enum Writes {
    Ops(Vec<KvOp>),
    /// NATS came back: the memory-stored bucket may be gone with a restarted server.
    Reopen,
}

#[derive(Debug)]
enum LockResult {
    Created(Result<u64, ()>),
    Renewed(Result<u64, bool>),
}

struct Live {
    handle: SessionHandle,
    updates: Updates,
}

/// Runs until `stop` completes; then closes the PBX link and lets the lock go.
pub async fn run(
    t: ServeTarget,
    stop: impl std::future::Future<Output = ()>,
    ready: impl FnOnce(&str),
) -> anyhow::Result<()> {
    let mut t = t;
    // Viewers' My lines are followed like the serving side's own, whatever its scope.
    t.session.other_supervisors = desk::viewer_lines(&t.shared);
    let site = t.shared.site.clone();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let client = nats::connect(&t.shared, "ipo-top serve", events_tx).await?;
    nats::check_server(&client)?;
    let js = nats::jetstream(&client);
    let model = nats::model_store(&js, &site).await?;
    let lock = nats::lock_store(&js, &site).await?;
    let policy = desk::policy(&t.shared, t.session.supervisor_extension.as_deref());
    let mut desk = Desk::open(client.clone(), js.clone(), &site, policy)
        .await
        .context("cannot take functions from viewers")?;
    let mut functions = ViewerFunctions::new(AuditLog::new(
        t.audit.clone(),
        audit::local_user(),
        t.endpoint.authority(),
    ));
    ready(&format!(
        "serving site {site} on NATS at {} (buckets {} and {})",
        t.shared.url,
        crate::share::model_bucket(&site),
        crate::share::lock_bucket(&site)
    ));

    let (writes, writes_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write(js.clone(), site.clone(), model.clone(), writes_rx));
    let (lock_tx, mut lock_rx) = mpsc::unbounded_channel();
    let holder_value = bytes::Bytes::from(
        HolderValue {
            host: hostname(),
            pid: std::process::id(),
        }
        .to_json(),
    );
    let clock = super::clock::wall_clock(Arc::new(FixedOffset::utc()));
    let mut holder = Holder::new(Instant::now().into_std());
    let mut live: Option<Live> = None;
    let mut tables = Tables::new();
    let mut publisher = Publisher::new();
    let new_judge = || super::serve_judge::Judge::new(t.alerts.clone(), t.session.scope.clone());
    let mut judge = new_judge();
    let mut judge_every = tokio::time::interval(super::serve_judge::JUDGE_EVERY);
    judge_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = std::pin::pin!(stop);
    let result = loop {
        while let Some(action) = holder.poll_action() {
            tracing::debug!(?action, "lock");
            match action {
                LockAction::Create => {
                    let (lock, value, tx) = (lock.clone(), holder_value.clone(), lock_tx.clone());
                    tokio::spawn(async move {
                        let r = lock.create(LOCK_KEY, value).await;
                        if let Err(e) = &r {
                            tracing::debug!(error = %e, "lock not claimed");
                        }
                        let _ = tx.send(LockResult::Created(r.map_err(|_| ())));
                    });
                }
                LockAction::Update { revision } => {
                    let (lock, value, tx) = (lock.clone(), holder_value.clone(), lock_tx.clone());
                    tokio::spawn(async move {
                        let r = lock.update(LOCK_KEY, value, revision).await.map_err(|e| {
                            tracing::warn!(error = %e, "lock not renewed");
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision
                        });
                        let _ = tx.send(LockResult::Renewed(r));
                    });
                }
                LockAction::Connect => {
                    tracing::info!(site = %site, "holding the lock: connecting to the PBX");
                    // Keys another serving process left are purged at our first sync unless
                    // our model holds them.
                    if let Ok(Ok(mut keys)) =
                        tokio::time::timeout(nats::REQUEST_TIMEOUT, model.keys()).await
                    {
                        let mut found = Vec::new();
                        while let Ok(Some(Ok(k))) =
                            tokio::time::timeout(nats::REQUEST_TIMEOUT, keys.next()).await
                        {
                            found.push(k);
                        }
                        publisher.adopt(found.iter().map(String::as_str));
                    }
                    tables = Tables::new();
                    judge = new_judge();
                    let (handle, updates) = spawn(t.endpoint.clone(), t.session.clone())
                        .context("cannot set up TLS for the PBX")?;
                    live = Some(Live { handle, updates });
                }
                LockAction::Disconnect => {
                    if let Some(l) = live.take() {
                        tracing::warn!(site = %site, "the lock may be lost: closing the PBX link");
                        l.handle.shutdown();
                    }
                }
                LockAction::Release { revision } => {
                    let _ = tokio::time::timeout(
                        nats::REQUEST_TIMEOUT,
                        lock.delete_expect_revision(LOCK_KEY, Some(revision)),
                    )
                    .await;
                }
            }
        }
        let deadline = holder.poll_timeout().map_or_else(
            || Instant::now() + Duration::from_secs(3600),
            Instant::from_std,
        );
        let next_batch = async {
            match &live {
                Some(l) => l.updates.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => {
                holder.stop();
                while let Some(a) = holder.poll_action() {
                    match a {
                        LockAction::Disconnect => {
                            if let Some(l) = live.take() {
                                l.handle.shutdown();
                                let _ = tokio::time::timeout(Duration::from_secs(3), l.handle.join()).await;
                            }
                        }
                        LockAction::Release { revision } => {
                            let _ = tokio::time::timeout(
                                nats::REQUEST_TIMEOUT,
                                lock.delete_expect_revision(LOCK_KEY, Some(revision)),
                            )
                            .await;
                        }
                        _ => {}
                    }
                }
                break Ok(());
            }
            () = tokio::time::sleep_until(deadline) => holder.handle_timeout(Instant::now().into_std()),
            Some(r) = lock_rx.recv() => {
                let now = Instant::now().into_std();
                tracing::debug!(result = ?r, "lock");
                match r {
                    LockResult::Created(Ok(rev)) => holder.created(now, rev),
                    LockResult::Created(Err(())) => holder.create_failed(now),
                    LockResult::Renewed(Ok(rev)) => holder.renewed(now, rev),
                    LockResult::Renewed(Err(taken)) => holder.renew_failed(now, taken),
                }
            }
            batch = next_batch => {
                let Some(batch) = batch else {
                    break Err(anyhow::anyhow!("the session ended (see the log)"));
                };
                let ops = publish(&batch, &mut tables, &mut publisher, &clock, &t.endpoint);
                judge.observe(&batch);
                let _ = writes.send(Writes::Ops(ops));
                for ev in &batch {
                    if let SessionEvent::Command(r) = ev {
                        functions.report(&desk, r).await;
                    }
                }
            }
            Some(msg) = desk.next() => {
                if let Some(incoming) = desk.take(msg).await {
                    match &live {
                        Some(l) => functions.take(&desk, incoming, &tables, &l.handle).await,
                        None => {
                            let why = "this serving process is not connected to the PBX (it does not hold the site's lock)";
                            desk.answer(incoming.reply.as_ref(), &crate::share::functions::Reply::refused(incoming.ticket, why)).await;
                        }
                    }
                }
            }
            _ = judge_every.tick(), if live.is_some() => {
                let ops = judge.judge(&tables, &mut publisher, &clock);
                if !ops.is_empty() {
                    let _ = writes.send(Writes::Ops(ops));
                }
            }
            Some(e) = events.recv() => {
                tracing::info!(event = %e, "NATS");
                if matches!(e, async_nats::Event::Connected) {
                    // A restarted server has lost both memory-stored buckets: make them again
                    // (the lock's in the background, its requests fail until then) and write
                    // every key again.
                    let (js, site) = (js.clone(), site.clone());
                    tokio::spawn(async move {
                        if let Err(e) = nats::lock_store(&js, &site).await {
                            tracing::warn!(error = %format!("{e:#}"), "lock bucket not reopened");
                        }
                    });
                    let _ = writes.send(Writes::Reopen);
                    let _ = writes.send(Writes::Ops(publisher.again()));
                }
            }
        }
    };
    drop(writes);
    let _ = tokio::time::timeout(Duration::from_secs(3), writer).await;
    result
}

/// The session's batch into the serving side's copy of the model, and the writes it makes.
fn publish(
    batch: &[SessionEvent],
    tables: &mut Tables,
    publisher: &mut Publisher,
    clock: &WallClock,
    endpoint: &Endpoint,
) -> Vec<KvOp> {
    let mut ops = Vec::new();
    let mut lagged = false;
    for ev in batch {
        match ev {
            SessionEvent::Model(ev) => {
                tables.apply(ev);
                ops.extend(publisher.event(ev, tables, clock));
            }
            SessionEvent::Synced(r) => {
                // A full pass: keys left from before (another process, an earlier link) go.
                ops.extend(publisher.full(tables, clock));
                ops.extend(publisher.sync(&SyncValue {
                    users: r.users,
                    queues: r.queues,
                    park_available: r.park_available,
                    subscribed: r.subscribed,
                    failed: r.failed.len(),
                    round_trip_ms: r.round_trip.map(|d| d.as_secs_f64() * 1000.0),
                    scope: r.scope.as_ref().map(super::check::scope_words),
                    pbx: endpoint.authority(),
                }));
            }
            SessionEvent::Lagged { .. } => lagged = true,
            other => tracing::debug!(event = ?other, "not published"),
        }
    }
    if lagged {
        ops.extend(publisher.full(tables, clock));
    }
    ops
}

/// How many bucket writes may await their JetStream acknowledgement at once. Awaiting each
/// before the next made writes queue behind one round trip each at hundreds of keys a second;
/// a window keeps the order (the server stores them as they arrive) without that wait.
const WRITES_IN_FLIGHT: usize = 256;

/// How long the writer lets changes gather after the first before it writes them together:
/// far under the 50 ms a viewer may lag the PBX, and at hundreds of changes a second it turns
/// a wake-up per key at every viewer into one per burst.
const WRITE_GATHER: Duration = Duration::from_millis(10);

/// One write sent, its acknowledgement to come.
type Pending = std::pin::Pin<Box<dyn Future<Output = (String, Result<(), String>)> + Send>>;

/// Carries out the writes in order, up to [`WRITES_IN_FLIGHT`] of them awaiting their
/// acknowledgements; what is already queued is taken together and a key written twice in it
/// is written once ([`coalesce`]). A write that fails is logged; after NATS comes back
/// everything is written again.
async fn write(
    js: async_nats::jetstream::Context,
    site: String,
    mut store: kv::Store,
    mut rx: mpsc::UnboundedReceiver<Writes>,
) {
    let mut acks: FuturesOrdered<Pending> = FuturesOrdered::new();
    let mut open = true;
    while open || !acks.is_empty() {
        tokio::select! {
            w = rx.recv(), if open => {
                let Some(w) = w else {
                    open = false;
                    continue;
                };
                // What comes in the next few milliseconds goes out with it: every watcher
                // (and nats-server) then takes a burst per wake-up rather than a key.
                tokio::time::sleep(WRITE_GATHER).await;
                let mut ops = Vec::new();
                let mut reopen = false;
                let mut next = Some(w);
                while let Some(w) = next.take() {
                    match w {
                        Writes::Ops(o) => ops.extend(o),
                        // Writes queued after a reopen go to the reopened bucket.
                        Writes::Reopen => {
                            reopen = true;
                            break;
                        }
                    }
                    next = rx.try_recv().ok();
                }
                let ops = coalesce(ops);
                tracing::debug!(ops = ops.len(), "bucket writes");
                for op in ops {
                    if acks.len() >= WRITES_IN_FLIGHT
                        && let Some((key, r)) = acks.next().await
                    {
                        failed(&key, r);
                    }
                    acks.push_back(send(&js, &store, op).await);
                }
                if reopen {
                    // What went to the lost server is settled first.
                    while let Some((key, r)) = acks.next().await {
                        failed(&key, r);
                    }
                    match nats::model_store(&js, &site).await {
                        Ok(s) => store = s,
                        Err(e) => tracing::warn!(error = %format!("{e:#}"), "bucket not reopened"),
                    }
                }
            }
            Some((key, r)) = acks.next(), if !acks.is_empty() => failed(&key, r),
        }
    }
}

/// Logs a write that failed.
fn failed(key: &str, r: Result<(), String>) {
    if let Err(e) = r {
        tracing::warn!(key, error = %e, "bucket write failed");
    }
}

/// Publishes one write to the bucket's subject, as `kv::Store::put` and `purge_with_ttl` do
/// (same subject, same headers), without awaiting the acknowledgement: that is handed back.
async fn send(js: &async_nats::jetstream::Context, store: &kv::Store, op: KvOp) -> Pending {
    use async_nats::HeaderMap;
    use async_nats::header::{NATS_MESSAGE_TTL, NATS_ROLLUP};
    // The bucket's own prefix: this context has no JetStream domain, so no API prefix goes
    // in front of it.
    let prefix = store.put_prefix.as_ref().unwrap_or(&store.prefix);
    let subject = format!("{prefix}{}", op.key());
    let sent = match op {
        KvOp::Put { key, value } => (key, js.publish(subject, value.into()).await),
        KvOp::Purge { key } => {
            let mut headers = HeaderMap::new();
            headers.insert("KV-Operation", "PURGE");
            headers.insert(NATS_ROLLUP, "sub");
            headers.insert(
                NATS_MESSAGE_TTL,
                PURGE_MARKER_TTL.as_secs().to_string().as_str(),
            );
            (
                key,
                js.publish_with_headers(subject, headers, bytes::Bytes::new())
                    .await,
            )
        }
    };
    match sent {
        (key, Ok(ack)) => Box::pin(async move {
            let r = ack.await.map(|_| ()).map_err(|e| e.to_string());
            (key, r)
        }),
        (key, Err(e)) => Box::pin(std::future::ready((key, Err(e.to_string())))),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}
