//! Who a viewer is when it logs in with an nkey: against the real nats-server (users by nkey,
//! each allowed to publish on its own command subject only, as README's Security section
//! asks), `serve` and the simulator. Carol names herself with `[shared] user`; her transfer is
//! carried out once and audited as NATS user carol. Dave, whose key may not publish on
//! carol's subject, names himself carol: NATS refuses, he is told he is read-only, and nothing
//! reaches the PBX. The name is a claim only the server's permissions make good.

mod cli_support;
mod nats_support;

use std::collections::BTreeMap;

use ipo_top::app::audit::Commands;
use ipo_top::app::config::{NatsCredentials, SharedSettings};
use ipo_top::app::desk::ViewerSender;
use ipo_top::app::serve::ServeTarget;
use ipo_top::app::shared::{ViewerUpdate, spawn_with_functions};
use ipo_top::model::{Command, CommandStatus, LineId, Tables, Text};
use ipo_top::session::{Secret, SessionConfig};
use ipo_top::share::functions::Standing;
use ipo_top::sim::server::CommandLog;
use nats_support::{Nats, Serving, a_caller_waits_in_a_queue, statuses_until_final, viewer_until};
use nkeys::{KeyPair, KeyPairType};
use tokio::sync::mpsc;

use cli_support::{PATIENCE, endpoint, start_sim_logging};

/// Applies what the viewer was told until `done` holds of its model.
async fn until(
    rx: &mut mpsc::Receiver<ViewerUpdate>,
    t: &mut Tables,
    done: impl Fn(&Tables) -> bool,
) {
    viewer_until(rx, t, done, PATIENCE).await;
}

/// A user key pair from fixed bytes: the same keys every run.
fn user_key(byte: u8) -> KeyPair {
    KeyPair::new_from_raw(KeyPairType::User, [byte; 32]).expect("a user key pair")
}

/// The sample configuration's server (its `serve` user, its viewers' reads and denials), with
/// two nkey users: carol may publish on her own command subject, dave on none.
fn server_config(carol: &str, dave: &str) -> String {
    let sample = include_str!("../assets/nats-server.conf")
        .replacen("listen: 127.0.0.1:4222\n", "", 1)
        .replacen("  store_dir: \"/var/lib/ipo-top-nats\"\n", "", 1);
    let reads = "VIEWER_READS = [\n";
    let carol_may = sample.replacen(
        reads,
        "CAROL_PUBLISHES = [\n  \"ipo-top.hq.cmd.carol\"\n",
        1,
    );
    let from = carol_may.find("CAROL_PUBLISHES").expect("the list");
    let to = from + carol_may[from..].find("\n]\n").expect("its end") + 3;
    let list = &carol_may[from..to];
    let users = format!(
        "authorization {{\n  users = [\n\
         {{ nkey: \"{carol}\", permissions: {{ publish: {{ allow: $CAROL_PUBLISHES, deny: $VIEWER_DENIED }}, subscribe: {{ allow: [\"_INBOX_carol.>\"] }} }} }}\n\
         {{ nkey: \"{dave}\", permissions: {{ publish: {{ allow: $VIEWER_READS, deny: $VIEWER_DENIED }}, subscribe: {{ allow: [\"_INBOX_dave.>\"] }} }} }}\n"
    );
    let text = sample.replacen("authorization {\n  users = [\n", &users, 1);
    // The list is defined before the users that name it.
    text.replacen(reads, &format!("{list}{reads}"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nkey_viewer_sends_on_the_subject_its_name_gives_and_nats_holds_it_to_its_own() {
    let (carol, dave) = (user_key(1), user_key(2));
    let conf = server_config(&carol.public_key(), &dave.public_key());
    let nats = tokio::task::spawn_blocking(move || Nats::with_config(&conf))
        .await
        .expect("the harness");
    let (log_tx, mut log) = mpsc::unbounded_channel();
    let sim = start_sim_logging(CommandLog::Channel(log_tx)).await;
    let site = |credentials: NatsCredentials| SharedSettings {
        credentials,
        users: BTreeMap::from([("carol".to_owned(), "4102".to_owned())]),
        ..nats.site("hq")
    };
    let nkey = |key: &KeyPair, user: &str| NatsCredentials::Nkey {
        seed: Secret::new(key.seed().expect("a seed")),
        user: Some(user.to_owned()),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("0700");
    }
    let audit = dir.path().join("audit.jsonl");
    let serving = Serving::start(ServeTarget {
        shared: site(NatsCredentials::UserPassword {
            user: "serve".to_owned(),
            password: Secret::new("change-me-serve"),
        }),
        endpoint: endpoint(&sim),
        session: SessionConfig::default(),
        audit: Some(audit.clone()),
        alerts: ipo_top::model::AlertConfig::default(),
    });
    let waiting = a_caller_waits_in_a_queue;

    // Dave names himself carol: NATS will not let him publish on her subject (nor subscribe
    // to her inbox, so his watch shows him nothing either: a name is no way in).
    let (dave_reports, mut dave_got) = mpsc::unbounded_channel();
    let (dave_sender, dave_queue) = ViewerSender::new("hq", dave_reports);
    let _dave_rx = spawn_with_functions(
        site(NatsCredentials::Nkey {
            seed: Secret::new(dave.seed().expect("a seed")),
            user: Some("carol".to_owned()),
        }),
        Some((dave_sender.clone(), dave_queue)),
    );
    // Carol, by her nkey and her name.
    let (reports, mut got) = mpsc::unbounded_channel();
    let (sender, queue) = ViewerSender::new("hq", reports);
    let mut carol_rx =
        spawn_with_functions(site(nkey(&carol, "carol")), Some((sender.clone(), queue)));
    // Each learns at start what it may do; carol may send once serve answers her hello.
    let settled = |sender: &ViewerSender, want: Standing| {
        let mut learnt = sender.learnt();
        async move {
            let got =
                tokio::time::timeout(PATIENCE, learnt.wait_for(|s| s.as_ref() == Some(&want)))
                    .await
                    .map(|r| r.map(|_| ()));
            assert!(
                matches!(got, Ok(Ok(()))),
                "never learnt {want:?}: {:?}",
                *learnt.borrow()
            );
        }
    };
    settled(&sender, Standing::Allowed).await;
    settled(&dave_sender, Standing::NotPermitted).await;
    let mut c = Tables::new();
    until(&mut carol_rx, &mut c, waiting).await;

    let (on, target) = c
        .appearances()
        .find(|x| matches!(x.key.line, LineId::Queue(_)) && x.call.state.is_waiting())
        .map(|x| (x.id, Text::from("4103")))
        .expect("a waiting call");
    // Dave's transfer is refused on the spot, saying why.
    assert_eq!(
        dave_sender.refusal().as_deref(),
        Some("read-only: not allowed to send functions on hq")
    );
    dave_sender.command(Command::Transfer {
        on,
        target: target.clone(),
    });
    let r = tokio::time::timeout(PATIENCE, dave_got.recv())
        .await
        .expect("a report in time")
        .expect("a report");
    assert!(
        matches!(&r.status, CommandStatus::Refused { reason } if reason.contains("read-only")),
        "{:?}",
        r.status
    );

    // Carol's transfer goes through, once.
    let id = sender.command(Command::Transfer { on, target });
    let statuses = statuses_until_final(&mut got, id, PATIENCE).await;
    assert!(
        matches!(statuses.last(), Some(CommandStatus::Done { .. })),
        "{statuses:?}"
    );
    let mut transfers = 0;
    while let Ok(r) = log.try_recv() {
        transfers += usize::from(r.function == "BlindTransfer");
    }
    assert_eq!(transfers, 1, "carol's transfer, and nothing of dave's");

    // The audit log names carol as NATS proved her.
    let text = std::fs::read_to_string(&audit).expect("the serving side's audit log");
    let first = text.lines().next().expect("a line");
    assert!(
        first.contains(r#""viewer":{"user":"carol","proof":"nats""#),
        "{first}"
    );

    let _ = serving.stop(PATIENCE).await;
}
