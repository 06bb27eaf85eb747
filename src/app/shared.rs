//! A shared-mode viewer's link: the site's bucket watched into a [`Replica`], its events handed
//! on as the session would hand them (so `events --json`, `check` and the screen take them as
//! they are). "Everything now, then every change"; when NATS goes away what was shown stays,
//! marked stale, and a fresh watch puts it right once NATS is back. Without a serving process
//! (the lock key absent) the connection says so.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::SharedSettings;
use super::nats;
use crate::model::{ConnectionState, FixedOffset, Judged, LineId, ModelEvent, Scope, Tables, Text};
use crate::share::{Entry, EntryOp, LOCK_KEY, Replica, SyncValue, lock_bucket, model_bucket};

/// What a viewer is told.
#[derive(Debug)]
pub enum ViewerUpdate {
    /// Changes to the model, in order.
    Model(Vec<ModelEvent>),
    /// The serving side's judgement of the queues (levels, alerts, trends, pause), after the
    /// model changes that came before it.
    Judged(Vec<Judged>),
    /// The watch has delivered everything the bucket held (after each fresh watch), with the
    /// serving side's last sync report.
    CaughtUp(Option<SyncValue>),
}

/// How often the lock key and the NATS link are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// How long after an unanswered `hello` a viewer asks again while a serving process holds the
/// site (at once when one comes): the screen's "no serving process" clears without a key.
const HELLO_AGAIN: Duration = Duration::from_secs(3);

/// The most watch entries taken into one update of the screen: a burst goes as one, and the
/// lock and function requests still get their turn during a fresh watch of a large site.
const WATCH_BURST: usize = 256;

/// The header's words for a link state that is this viewer's, not the serving side's.
fn stale(reason: String) -> ModelEvent {
    ModelEvent::Connection {
        state: ConnectionState::Reconnecting {
            at: (Instant::now() + LOOK_EVERY).into_std(),
            retry_in_ms: 1000,
            reason: Text::from(reason),
        },
    }
}

/// "no serving process for SITE".
pub fn no_serving_process(site: &str) -> String {
    format!("no serving process for {site}")
}

/// Watches the site until the receiver is dropped.
pub fn spawn(s: SharedSettings) -> mpsc::Receiver<ViewerUpdate> {
    spawn_with_functions(s, None)
}

/// [`spawn`], and sends the screen's functions (taken from the queue, their reports to the
/// sender's) through the serving process, after a `hello` that says whether it may.
pub fn spawn_with_functions(
    s: SharedSettings,
    functions: Option<(super::desk::ViewerSender, super::desk::ViewerQueue)>,
) -> mpsc::Receiver<ViewerUpdate> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        if let Err(e) = watch(&s, &tx, functions).await {
            let _ = tx
                .send(ViewerUpdate::Model(vec![ModelEvent::Connection {
                    state: ConnectionState::Stopped {
                        kind: crate::model::StopKind::Shutdown,
                        reason: Text::from(format!("{e:#}")),
                    },
                }]))
                .await;
        }
    });
    rx
}

async fn watch(
    s: &SharedSettings,
    tx: &mpsc::Sender<ViewerUpdate>,
    functions: Option<(super::desk::ViewerSender, super::desk::ViewerQueue)>,
) -> anyhow::Result<()> {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let client = nats::connect(s, "ipo-top viewer", events_tx).await?;
    // The server's error texts, for hello to see a refused publish.
    let (errors_tx, mut errors) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let async_nats::Event::ServerError(e) = e {
                let _ = errors_tx.send(e.to_string());
            }
        }
    });
    let asker = super::desk::Asker::new(
        client.clone(),
        &s.site,
        &super::desk::viewer_token(s),
        &super::audit::local_user(),
    );
    let mut queue = match functions {
        Some((sender, queue)) => {
            let standing = asker.hello(&mut errors).await;
            if let Some(m) = standing.message(&s.site) {
                tracing::warn!(site = %s.site, "{m}");
            }
            sender.set(standing);
            Some((sender, queue))
        }
        None => None,
    };
    let js = nats::jetstream(&client);
    let clock = super::clock::wall_clock(Arc::new(FixedOffset::utc()));
    let mut replica = Replica::new();
    let site = &s.site;
    let mut hello_due = Instant::now() + HELLO_AGAIN;
    loop {
        if client.connection_state() != async_nats::connection::State::Connected {
            tokio::time::sleep(LOOK_EVERY / 4).await;
            continue;
        }
        let (Ok(model), Ok(lock)) = (
            js.get_key_value(model_bucket(site)).await,
            js.get_key_value(lock_bucket(site)).await,
        ) else {
            send(tx, vec![stale(no_serving_process(site))]).await?;
            tokio::time::sleep(LOOK_EVERY).await;
            continue;
        };
        // The bucket keeps one value per key, so "every message" is "every key's value"; the
        // last-per-subject watch (`watch_all`) delivers nothing with nats-server 2.15 and
        // async-nats 0.52.
        let mut entries = match model.watch_with_history(">").await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the bucket");
                tokio::time::sleep(LOOK_EVERY).await;
                continue;
            }
        };
        replica.rewatch();
        let mut caught_up = false;
        let mut served = true;
        let mut look = tokio::time::interval(LOOK_EVERY);
        let sync_key = crate::share::Key::Sync.name();
        loop {
            tokio::select! {
                e = entries.next() => {
                    let Some(Ok(first)) = e else { break };
                    // What the watch already holds goes with the first: one update and one
                    // wake of the screen for a burst, not one per key.
                    let mut out = Vec::new();
                    let mut report = false;
                    let mut lost = false;
                    let mut next = Some(first);
                    let mut taken = 0;
                    while let Some(e) = next.take() {
                        let op = match e.operation {
                            async_nats::jetstream::kv::Operation::Put => EntryOp::Put(&e.value),
                            _ => EntryOp::Removed,
                        };
                        match replica.apply(Entry { key: &e.key, op }, &clock) {
                            Ok(evs) => out.extend(evs),
                            Err(err) => tracing::warn!(key = %e.key, error = %err, "value skipped"),
                        }
                        // Caught up: at the end of the fresh watch, and again whenever the
                        // serving side reports a new sync.
                        if (e.seen_current && !caught_up) || (caught_up && e.key == sync_key) {
                            caught_up = true;
                            report = true;
                            out.extend(replica.caught_up());
                            break;
                        }
                        taken += 1;
                        if taken < WATCH_BURST {
                            next = match entries.next().now_or_never() {
                                Some(Some(Ok(e))) => Some(e),
                                Some(_) => {
                                    lost = true;
                                    None
                                }
                                None => None,
                            };
                        }
                    }
                    if !served {
                        // The serving side's link state waits until a serving process is back.
                        out.retain(|ev| !matches!(ev, ModelEvent::Connection { .. }));
                    }
                    if !out.is_empty() {
                        send(tx, out).await?;
                    }
                    let judged = replica.take_judged();
                    if !judged.is_empty() {
                        tx.send(ViewerUpdate::Judged(judged))
                            .await
                            .map_err(|_| anyhow::anyhow!("viewer closed"))?;
                    }
                    if report {
                        tx.send(ViewerUpdate::CaughtUp(replica.sync().cloned()))
                            .await
                            .map_err(|_| anyhow::anyhow!("viewer closed"))?;
                    }
                    if lost {
                        break;
                    }
                }
                Some((id, command)) = async {
                    match &mut queue {
                        Some((_, q)) => q.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Some((sender, _)) = &queue {
                        if sender.unanswered() {
                            sender.set(asker.hello(&mut errors).await);
                        }
                        match sender.refusal() {
                            None => {
                                super::desk::send_function(&asker, replica.tables(), id, command, sender.reports()).await;
                            }
                            Some(why) => {
                                let _ = sender.reports().send(crate::model::CommandReport {
                                    id,
                                    command,
                                    status: crate::model::CommandStatus::Refused { reason: why.into() },
                                    requestid: None,
                                    subscribe_id: None,
                                    callid: None,
                                    reference: None,
                                });
                            }
                        }
                    }
                }
                _ = look.tick() => {
                    if client.connection_state() != async_nats::connection::State::Connected {
                        break;
                    }
                    let holder = tokio::time::timeout(nats::REQUEST_TIMEOUT, lock.entry(LOCK_KEY)).await;
                    let now_served = matches!(holder, Ok(Ok(Some(ref e))) if e.operation == async_nats::jetstream::kv::Operation::Put);
                    if matches!(holder, Ok(Ok(_))) && now_served != served {
                        served = now_served;
                        let ev = if served {
                            hello_due = Instant::now();
                            ModelEvent::Connection { state: replica.tables().connection().clone() }
                        } else {
                            stale(no_serving_process(site))
                        };
                        send(tx, vec![ev]).await?;
                    }
                    // Nobody answered hello: ask again once somebody holds the site.
                    if let Some((sender, _)) = &queue {
                        if served && sender.unanswered() && Instant::now() >= hello_due {
                            sender.set(asker.hello(&mut errors).await);
                            hello_due = Instant::now() + HELLO_AGAIN;
                        }
                    }
                }
            }
        }
        send(
            tx,
            vec![stale(format!(
                "lost NATS at {}: showing what was last seen",
                s.url
            ))],
        )
        .await?;
        tokio::time::sleep(LOOK_EVERY / 4).await;
    }
}

async fn send(tx: &mpsc::Sender<ViewerUpdate>, evs: Vec<ModelEvent>) -> anyhow::Result<()> {
    tx.send(ViewerUpdate::Model(evs))
        .await
        .map_err(|_| anyhow::anyhow!("viewer closed"))
}

/// `events --json --shared`: every model event from the bucket as `events --json` writes it,
/// and a `synced` line (the serving side's last sync) each time a watch has caught up.
pub async fn events(
    s: &SharedSettings,
    scope: &Scope,
    out: &mut dyn std::io::Write,
) -> (super::Exit, Option<String>) {
    use crate::session::SessionEvent;
    let mut rx = spawn(s.clone());
    // This viewer's [scope] / --queue narrows what it writes; the serving side's scope
    // decides what the site publishes.
    let mut seen = Tables::new();
    // Whether a user is in scope may depend on queues the watch delivers after it: until the
    // watch has caught up, events wait and are judged against the whole picture.
    let mut waiting: Option<Vec<ModelEvent>> = Some(Vec::new());
    // The serving side judges; this follows it, so its alert lines are the serving side's
    // transitions (and the queues' names come from the model as watched).
    let mut alerts = crate::model::Alerts::new(crate::model::AlertConfig::default(), scope.clone());
    alerts.set_following();
    loop {
        let update = tokio::select! {
            u = rx.recv() => u,
            () = super::events::interrupted() => return (super::Exit::Ok, None),
        };
        let Some(update) = update else {
            return (super::Exit::Ok, None);
        };
        let (evs, said) = match update {
            ViewerUpdate::Model(evs) => {
                for ev in &evs {
                    seen.apply(ev);
                }
                match waiting.as_mut() {
                    Some(w) => {
                        w.extend(evs);
                        continue;
                    }
                    None => (evs, Vec::new()),
                }
            }
            ViewerUpdate::Judged(judged) => {
                follow(&mut alerts, &seen, judged);
                let alert_lines = std::iter::from_fn(|| alerts.poll_transition())
                    .filter(|t| seen.queue(&t.queue).is_none_or(|q| scope.covers_queue(q)))
                    .filter_map(|t| super::events::alert_line(&t).ok())
                    .collect();
                (Vec::new(), alert_lines)
            }
            ViewerUpdate::CaughtUp(sync) => (
                waiting.take().unwrap_or_default(),
                vec![
                    serde_json::json!({
                        "schema": super::events::SCHEMA,
                        "ts_ms": now_ms(),
                        "type": "synced",
                        "shared": s.site,
                        "serving": sync,
                    })
                    .to_string(),
                ],
            ),
        };
        let lines: Vec<String> = evs
            .into_iter()
            .filter(|ev| in_scope(scope, &seen, ev))
            .filter_map(|ev| super::events::to_line(&SessionEvent::Model(ev)).ok())
            .chain(said)
            .collect();
        let r = lines.iter().try_for_each(|l| {
            out.write_all(l.as_bytes())?;
            out.write_all(b"\n")
        });
        match r.and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return (super::Exit::Ok, None),
            Err(e) => {
                return (
                    super::Exit::Other,
                    Some(format!("cannot write events: {e}")),
                );
            }
        }
    }
}

/// Whether an event concerns what `scope` covers (removals and the link always do).
fn in_scope(scope: &Scope, tables: &Tables, ev: &ModelEvent) -> bool {
    if scope.is_everything() {
        return true;
    }
    let line_covered = |line: &LineId| match line {
        LineId::Queue(g) => tables.queue(g).is_none_or(|q| scope.covers_queue(q)),
        LineId::User(g) => tables.user(g).is_none_or(|u| scope.covers_user(tables, u)),
        LineId::ParkServer => true,
    };
    match ev {
        ModelEvent::UserAdded { user } | ModelEvent::UserChanged { user, .. } => {
            scope.covers_user(tables, user)
        }
        ModelEvent::QueueAdded { queue } | ModelEvent::QueueChanged { queue } => {
            scope.covers_queue(queue)
        }
        ModelEvent::CallNew { call } | ModelEvent::CallChanged { call, .. } => {
            line_covered(&call.key.line)
        }
        _ => true,
    }
}

/// The serving side's judgement into an alert engine that follows it.
pub fn follow(
    alerts: &mut crate::model::Alerts,
    tables: &crate::model::Tables,
    judged: Vec<Judged>,
) {
    let now = std::time::Instant::now();
    let words = |g: &crate::model::Guid| {
        tables
            .queue(g)
            .map(|q| (q.name.clone(), q.extn.clone()))
            .unwrap_or_default()
    };
    for j in judged {
        match j {
            Judged::Queue(q) => {
                let (name, extn) = words(&q.queue);
                alerts.follow(now, &q, &name, &extn);
            }
            Judged::Gone(g) => {
                let (name, extn) = words(&g);
                alerts.follow_gone(now, &g, &name, &extn);
            }
            Judged::Paused(p) => alerts.follow_paused(p),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `check --shared`: watch the bucket until it has caught up, and say what the serving side
/// reports; or why not.
pub async fn check(s: &SharedSettings, timeout: Duration) -> (super::Exit, String) {
    let mut rx = spawn(s.clone());
    let mut last_reason: Option<String> = None;
    let deadline = Instant::now() + timeout;
    loop {
        let update = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(u)) => u,
            Ok(None) => return (super::Exit::Other, "the watch ended".to_owned()),
            Err(_) => {
                return (
                    super::Exit::Unreachable,
                    last_reason.unwrap_or_else(|| {
                        format!("nothing from NATS at {} in {}s", s.url, timeout.as_secs())
                    }),
                );
            }
        };
        match update {
            ViewerUpdate::Model(evs) => {
                for ev in evs {
                    if let ModelEvent::Connection {
                        state:
                            ConnectionState::Reconnecting { reason, .. }
                            | ConnectionState::Stopped { reason, .. },
                    } = ev
                    {
                        last_reason = Some(reason.to_string());
                    }
                }
            }
            ViewerUpdate::Judged(_) => {}
            ViewerUpdate::CaughtUp(sync) => {
                if last_reason
                    .as_deref()
                    .is_some_and(|r| r == no_serving_process(&s.site))
                {
                    continue;
                }
                let Some(sync) = sync else {
                    // Its sync comes as a later update, or the timeout says why not.
                    last_reason = Some(format!(
                        "shared: {} via NATS at {}: the serving process has not synced with the PBX yet",
                        s.site, s.url
                    ));
                    continue;
                };
                let mut line = format!(
                    "shared: {} via NATS at {}: serving {}: {} users, {} queues, park server {}, {} subscriptions{}",
                    s.site,
                    s.url,
                    sync.pbx,
                    sync.users,
                    sync.queues,
                    if sync.park_available {
                        "available"
                    } else {
                        "not available"
                    },
                    sync.subscribed,
                    sync.round_trip_ms
                        .map(|ms| format!(", round trip {ms:.1} ms"))
                        .unwrap_or_default(),
                );
                if let Some(scope) = &sync.scope {
                    line.push_str(&format!("; serving side's {scope}"));
                }
                return (super::Exit::Ok, line);
            }
        }
    }
}
