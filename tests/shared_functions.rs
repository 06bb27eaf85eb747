//! Functions from viewers, against a real nats-server configured as `assets/nats-server.conf`
//! says (plus a second user allowed to send functions) and the simulator on virtual time: a
//! transfer from viewer A is carried out once and recorded, naming A, in the serving side's
//! audit log and in the audit stream; a read-only viewer is told so and reaches nothing; a
//! viewer cannot write the model bucket; barge from viewer B is made from B's own phone.
//!
//! The serving side here is its parts wired by hand (the desk on NATS, the path through the
//! audit records, the session of a client/simulator pair), so every step can be awaited.

mod nats_support;
#[path = "session_support/mod.rs"]
mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event, Subscriber};
use futures_util::StreamExt;
use ipo_top::app::audit::AuditLog;
use ipo_top::app::audit::Commands;
use ipo_top::app::desk::{Asker, CommandsAs, Desk, ViewerFunctions, ViewerSender, send_function};
use ipo_top::model::{Command, CommandId, CommandStatus, LineId, Text};
use ipo_top::session::SessionConfig;
use ipo_top::share::functions::{Answer, Policy, Reply, Standing, UserRights, audit_stream};
use ipo_top::share::model_bucket;
use ipo_top::sim::conn::ConnConfig;
use nats_support::Nats;
use support::Pair;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const SITE: &str = "hq";
const A: &str = "01632960301";
const STEPS: &str = r#"
[[step]]
at = 0
call = { queue = "7301", number = "01632960301", name = "A" }
"#;

/// The sample configuration plus carol: a second viewer allowed to send functions, as alice
/// is. (The harness gives the port and the store directory on the command line.)
fn server_config() -> String {
    let sample = include_str!("../assets/nats-server.conf");
    let alice = sample
        .find("    {\n      user: alice")
        .expect("alice in the sample");
    let bob = sample
        .find("    {\n      user: bob")
        .expect("bob in the sample");
    let carol = sample[alice..bob].replace("alice", "carol");
    let mut text = sample.to_owned();
    text.insert_str(bob, &carol);
    // The harness gives these on the command line, which may not repeat the file.
    let text = text.replacen("listen: 127.0.0.1:4222\n", "", 1);
    let store = "  store_dir: \"/var/lib/ipo-top-nats\"\n";
    assert!(text.contains(store), "the sample's store directory");
    text.replacen(store, "", 1)
}

async fn start_nats() -> Nats {
    tokio::task::spawn_blocking(|| Nats::with_config(&server_config()))
        .await
        .expect("the harness")
}

/// Connects as `user` (password "change-me-USER", as in the sample), with its own inbox
/// prefix; the server's error texts arrive on the receiver.
async fn connect(nats: &Nats, user: &str) -> (Client, UnboundedReceiver<String>) {
    let (tx, rx) = unbounded_channel();
    let client = ConnectOptions::with_user_and_password(user.into(), format!("change-me-{user}"))
        .custom_inbox_prefix(ipo_top::share::functions::inbox_prefix(user))
        .event_callback(move |e| {
            let tx = tx.clone();
            async move {
                if let Event::ServerError(e) = e {
                    let _ = tx.send(e.to_string());
                }
            }
        })
        .connect(nats.url())
        .await
        .expect("connected");
    (client, rx)
}

/// The session of the pair, as the serving side's desk sees it: commands queue here and the
/// test gives them to the pair.
#[derive(Default)]
struct Queued {
    commands: RefCell<Vec<(CommandId, Command, Option<String>)>>,
}

impl CommandsAs for Queued {
    fn command_as(&self, command: Command, extension: Option<String>) -> CommandId {
        let mut q = self.commands.borrow_mut();
        let id = CommandId(1000 + q.len() as u64);
        q.push((id, command, extension));
        id
    }
}

/// The serving side: the desk, the path through the audit records, and the pair.
struct Serving {
    desk: Desk,
    functions: ViewerFunctions,
    pair: Pair,
    queued: Queued,
    audit: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Serving {
    async fn new(client: Client) -> Serving {
        Serving::with(client, false).await
    }

    async fn with(client: Client, anonymous_functions: bool) -> Serving {
        let users = BTreeMap::from([
            (
                "alice".to_owned(),
                UserRights {
                    extension: "4110".into(),
                },
            ),
            (
                "carol".to_owned(),
                UserRights {
                    extension: "4111".into(),
                },
            ),
        ]);
        let policy = Policy {
            users,
            anonymous_functions,
            own_extension: Some("4100".into()),
        };
        let js = async_nats::jetstream::new(client.clone());
        let desk = Desk::open(client, js, SITE, policy)
            .await
            .expect("the desk");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let own = dir.path().join("data");
        std::fs::create_dir(&own).expect("the data directory");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o700)).expect("0700");
        }
        let audit = own.join("audit.jsonl");
        let mut pair = Pair::scripted(
            &support::quiet_demo(STEPS),
            ConnConfig::default(),
            SessionConfig {
                supervisor_extension: Some("4100".into()),
                other_supervisors: vec!["4110".into(), "4111".into()],
                ..SessionConfig::default()
            },
        );
        pair.advance(Duration::from_secs(3));
        assert!(!pair.syncs.is_empty());
        Serving {
            desk,
            functions: ViewerFunctions::new(AuditLog::new(Some(audit.clone()), "ipo-serve", "sim")),
            pair,
            queued: Queued::default(),
            audit,
            _dir: dir,
        }
    }

    /// Takes the next request: answered at the desk, or checked, recorded and sent; then the
    /// pair runs and every report goes back.
    async fn serve_one(&mut self) {
        // Bounded, so that a lost request fails the test instead of hanging it.
        let msg = tokio::time::timeout(Duration::from_secs(30), self.desk.next())
            .await
            .expect("a request within 30 s")
            .expect("a request");
        if let Some(incoming) = self.desk.take(msg).await {
            self.functions
                .take(&self.desk, incoming, self.pair.client.model(), &self.queued)
                .await;
        }
        let queued: Vec<_> = self.queued.commands.borrow_mut().drain(..).collect();
        for (id, cmd, ext) in queued {
            self.pair
                .client
                .handle_command_as(self.pair.now, id, cmd, ext.as_deref());
        }
        self.pair.advance(Duration::from_secs(2));
        for r in std::mem::take(&mut self.pair.reports) {
            self.functions.report(&self.desk, &r).await;
        }
    }
}

/// The replies to one function, up to its final status.
async fn statuses(replies: &mut Subscriber) -> Vec<CommandStatus> {
    let mut out = Vec::new();
    while let Some(msg) = tokio::time::timeout(Duration::from_secs(30), replies.next())
        .await
        .expect("a reply within 30 s")
    {
        match Reply::from_json(&msg.payload).expect("a reply").answer {
            Answer::Status { status, .. } => {
                let last = status.is_final();
                out.push(status);
                if last {
                    return out;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    out
}

async fn hello(
    serving: &mut Serving,
    asker: &Asker,
    errors: &mut UnboundedReceiver<String>,
) -> Standing {
    let (standing, ()) = tokio::join!(asker.hello(errors), serving.serve_one());
    standing
}

#[tokio::test]
async fn a_transfer_from_viewer_a_is_carried_out_once_and_recorded_naming_a() {
    let nats = start_nats().await;
    let (serve, _) = connect(&nats, "serve").await;
    let mut s = Serving::new(serve.clone()).await;
    let (alice, mut alice_errors) = connect(&nats, "alice").await;
    let a = Asker::new(alice, SITE, "alice", "ann");
    assert_eq!(
        hello(&mut s, &a, &mut alice_errors).await,
        Standing::Allowed
    );

    // Alice chose the call in her copy of the model (here the pair's replica, kept from
    // events as a viewer's is); her task names it by line and callid.
    let q = LineId::Queue(s.pair.queue_guid("7301"));
    let on = s.pair.appearance_id(&q, A);
    let (reports, mut got) = unbounded_channel();
    let (sender, mut queue) = ViewerSender::new(SITE, reports.clone());
    sender.set(Standing::Allowed);
    let id = sender.command(Command::Transfer {
        on,
        target: Text::from("4103"),
    });
    let (qid, command) = queue.recv().await.expect("queued for the viewer's task");
    assert_eq!(qid, id);
    send_function(&a, &s.pair.replica, qid, command, reports).await;
    s.serve_one().await;
    let mut st = Vec::new();
    while let Some(r) = got.recv().await {
        assert_eq!(r.id, id);
        let last = r.status.is_final();
        st.push(r.status);
        if last {
            break;
        }
    }
    assert!(
        matches!(&st[..], [CommandStatus::Sent, CommandStatus::Accepted, CommandStatus::Done { effect }] if effect.contains("4103")),
        "{st:?}"
    );
    let transfers: Vec<_> = s
        .pair
        .records
        .iter()
        .filter(|r| r.function == "BlindTransfer")
        .collect();
    assert_eq!(transfers.len(), 1, "{:?}", s.pair.records);
    assert_eq!(transfers[0].argument, "4103");

    // The audit log and the audit stream both name alice (and what she claims locally).
    let log = std::fs::read_to_string(&s.audit).expect("the audit log");
    let first = log.lines().next().expect("a line");
    assert!(
        first.contains(r#""viewer":{"user":"alice","proof":"nats","claimed_user":"ann"}"#),
        "{first}"
    );
    assert!(first.contains(r#""action":"BlindTransfer""#), "{first}");
    let js = async_nats::jetstream::new(serve);
    let stream = js
        .get_stream(audit_stream(SITE))
        .await
        .expect("the audit stream");
    let line = stream.get_raw_message(1).await.expect("the first line");
    assert_eq!(std::str::from_utf8(&line.payload).unwrap(), first);
    // Then each step, in both, in the same order.
    let later: Vec<String> = log.lines().skip(1).map(str::to_owned).collect();
    assert_eq!(later.len(), 3, "{log}");
    for (i, l) in later.iter().enumerate() {
        let m = stream
            .get_raw_message(i as u64 + 2)
            .await
            .expect("a result line");
        assert_eq!(std::str::from_utf8(&m.payload).unwrap(), l);
    }
}

#[tokio::test]
async fn a_read_only_viewer_is_told_so_and_reaches_nothing_nor_the_model_bucket() {
    let nats = start_nats().await;
    let (serve, _) = connect(&nats, "serve").await;
    let mut s = Serving::new(serve.clone()).await;
    let (bob, mut bob_errors) = connect(&nats, "bob").await;
    let b = Asker::new(bob.clone(), SITE, "bob", "bob");
    // The server refuses his hello: no answer comes, and the refusal says why.
    let standing = b.hello(&mut bob_errors).await;
    assert_eq!(standing, Standing::NotPermitted);
    assert_eq!(
        standing.message(SITE).as_deref(),
        Some("read-only: not allowed to send functions on hq")
    );
    // His screen's functions are refused at once, in those words; nothing is queued.
    let (reports, mut got) = unbounded_channel();
    let (sender, mut queue) = ViewerSender::new(SITE, reports);
    sender.set(standing.clone());
    sender.command(Command::Drop {
        on: ipo_top::model::AppearanceId(1),
    });
    let r = got.recv().await.expect("a report");
    assert_eq!(
        r.status,
        CommandStatus::Refused {
            reason: "read-only: not allowed to send functions on hq".into()
        }
    );
    assert!(queue.try_recv().is_err());
    // A function he sends anyway goes nowhere: the next request the desk sees is alice's.
    let q = LineId::Queue(s.pair.queue_guid("7301"));
    let call = s.pair.appearance(&q, A).expect("A waits").key.clone();
    let _ignored = b
        .send(
            1,
            Some(call),
            Command::Drop {
                on: ipo_top::model::AppearanceId(1),
            },
        )
        .await
        .expect("published (the server drops it)");
    let e = bob_errors.recv().await.expect("the server's refusal");
    assert!(e.contains("Permissions Violation"), "{e}");
    let (alice, mut alice_errors) = connect(&nats, "alice").await;
    let a = Asker::new(alice, SITE, "alice", "ann");
    assert_eq!(
        hello(&mut s, &a, &mut alice_errors).await,
        Standing::Allowed
    );
    assert!(
        s.pair.records.iter().all(|r| r.function != "DropCall"),
        "{:?}",
        s.pair.records
    );
    assert!(!s.audit.exists(), "nothing was recorded, nothing was sent");

    // The model bucket is the serving side's: bob's put is refused by the server.
    let js = async_nats::jetstream::new(serve);
    let bucket = js
        .create_key_value(async_nats::jetstream::kv::Config {
            bucket: model_bucket(SITE),
            storage: async_nats::jetstream::stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .expect("the model bucket");
    let theirs = async_nats::jetstream::new(bob)
        .get_key_value(model_bucket(SITE))
        .await
        .expect("bob may read the bucket");
    tokio::select! {
        put = theirs.put("user.FORGED", "x".into()) => panic!("the put was taken: {put:?}"),
        e = bob_errors.recv() => {
            let e = e.expect("the server's refusal");
            assert!(e.contains("Permissions Violation") && e.contains("$KV.ipo-top-hq.user.FORGED"), "{e}");
        }
    }
    assert_eq!(bucket.get("user.FORGED").await.expect("read"), None);
    // Reading is his: a watch shows what the serving side puts.
    let mut watch = match theirs.watch_all().await {
        Ok(w) => w,
        Err(e) => panic!(
            "bob may watch the bucket: {e}; the server said {:?}",
            bob_errors.try_recv()
        ),
    };
    bucket
        .put("queue.AB", "{}".into())
        .await
        .expect("the serving side's put");
    let entry = watch
        .next()
        .await
        .expect("an entry")
        .expect("a readable entry");
    assert_eq!(entry.key, "queue.AB");
}

#[tokio::test]
async fn barge_from_viewer_b_is_made_from_bs_phone() {
    let nats = start_nats().await;
    let (serve, _) = connect(&nats, "serve").await;
    let mut s = Serving::new(serve).await;
    // An agent answers A.
    let x = s.pair.ringing_with(A).expect("an agent rings with A");
    let xid = s.pair.user(&x);
    assert!(s.pair.server.pbx.answer_ringing(xid));
    s.pair.drive();
    let line = LineId::User(s.pair.user_guid(&x));
    let call = s
        .pair
        .appearance(&line, A)
        .expect("A with the agent")
        .key
        .clone();

    let (carol, mut carol_errors) = connect(&nats, "carol").await;
    let c = Asker::new(carol, SITE, "carol", "cee");
    assert_eq!(
        hello(&mut s, &c, &mut carol_errors).await,
        Standing::Allowed
    );
    let mut replies = c
        .send(
            7,
            Some(call),
            Command::Barge {
                on: ipo_top::model::AppearanceId(5),
            },
        )
        .await
        .expect("sent");
    s.serve_one().await;
    let st = statuses(&mut replies).await;
    assert!(
        matches!(st.last(), Some(CommandStatus::Done { .. })),
        "{st:?}"
    );
    let r = s
        .pair
        .records
        .iter()
        .find(|r| r.function == "Intrude")
        .expect("a MakeCall intrude");
    // From carol's extension (4111), to the agent; not from the serving side's 4100.
    assert_eq!(
        (
            r.subscription.as_str(),
            r.extn.as_str(),
            r.argument.as_str()
        ),
        ("user", "4111", x.as_str())
    );
}

#[tokio::test]
async fn without_authentication_functions_are_refused_unless_allowed_and_then_anonymous() {
    let nats = tokio::task::spawn_blocking(Nats::start)
        .await
        .expect("the harness");
    let anyone = || async {
        let (tx, rx) = unbounded_channel();
        let c = ConnectOptions::new()
            .event_callback(move |e| {
                let tx = tx.clone();
                async move {
                    if let Event::ServerError(e) = e {
                        let _ = tx.send(e.to_string());
                    }
                }
            })
            .connect(nats.url())
            .await
            .expect("connected");
        (c, rx)
    };
    // Off (the default): hello says why, and nothing would be taken.
    let (serve, _) = anyone().await;
    let mut s = Serving::new(serve).await;
    let (viewer, mut errors) = anyone().await;
    let v = Asker::new(viewer, SITE, "alice", "ann");
    let Standing::Refused(why) = hello(&mut s, &v, &mut errors).await else {
        panic!("functions taken without authentication")
    };
    assert!(why.contains("anonymous_functions"), "{why}");
    drop(s);

    // On: taken, and recorded as anonymous with the claim alongside, whatever name the
    // subject carries.
    let (serve, _) = anyone().await;
    let mut s = Serving::with(serve, true).await;
    assert_eq!(hello(&mut s, &v, &mut errors).await, Standing::Allowed);
    let q = LineId::Queue(s.pair.queue_guid("7301"));
    let call = s.pair.appearance(&q, A).expect("A waits").key.clone();
    let mut replies = v
        .send(
            3,
            Some(call),
            Command::Transfer {
                on: ipo_top::model::AppearanceId(1),
                target: Text::from("4103"),
            },
        )
        .await
        .expect("sent");
    s.serve_one().await;
    let st = statuses(&mut replies).await;
    assert!(
        matches!(st.last(), Some(CommandStatus::Done { .. })),
        "{st:?}"
    );
    let log = std::fs::read_to_string(&s.audit).expect("the audit log");
    let first = log.lines().next().expect("a line");
    assert!(
        first.contains(r#""viewer":{"user":"anonymous","proof":"claimed","claimed_user":"ann"}"#),
        "{first}"
    );
}
