//! A function from a viewer through `ipo-top serve` end to end: the real nats-server (no
//! authentication, anonymous functions allowed: the one-machine demo's set-up), `serve` and
//! two viewers in this process (A as the screen runs it, functions included), the simulator
//! over real TLS with its command log. Viewer A's transfer is carried out once, recorded as
//! A's (anonymous, with A's claimed user) in the serving side's audit log and the audit
//! stream, and viewer B sees the call go.

mod cli_support;
mod nats_support;

use std::collections::BTreeMap;

use ipo_top::app::audit::Commands;
use ipo_top::app::config::{NatsCredentials, SharedSettings};
use ipo_top::app::desk::ViewerSender;
use ipo_top::app::serve::ServeTarget;
use ipo_top::app::shared::{ViewerUpdate, spawn as viewer, spawn_with_functions};
use ipo_top::model::{Command, CommandStatus, LineId, Tables, Text};
use ipo_top::session::{Secret, SessionConfig};
use ipo_top::share::functions::audit_stream;
use ipo_top::sim::server::CommandLog;
use nats_support::{Nats, Serving, a_caller_waits_in_a_queue, statuses_until_final, viewer_until};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_from_viewer_a_goes_through_serve_once_and_viewer_b_sees_it() {
    let nats = tokio::task::spawn_blocking(Nats::start)
        .await
        .expect("the harness");
    let (log_tx, mut log) = mpsc::unbounded_channel();
    let sim = start_sim_logging(CommandLog::Channel(log_tx)).await;
    let shared = SharedSettings {
        url: nats.url(),
        site: "hq".to_owned(),
        credentials: NatsCredentials::None,
        ca_file: None,
        anonymous_functions: true,
        users: BTreeMap::new(),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("the data directory");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("0700");
    }
    let audit = data.join("audit.jsonl");
    let serving = Serving::start(ServeTarget {
        shared: shared.clone(),
        endpoint: endpoint(&sim),
        session: SessionConfig {
            supervisor_extension: Some("4100".into()),
            ..SessionConfig::default()
        },
        audit: Some(audit.clone()),
        alerts: ipo_top::model::AlertConfig::default(),
    });

    // Both viewers see a caller waiting in a queue.
    let waiting = a_caller_waits_in_a_queue;
    // Viewer A as the screen runs it: its functions through a sender, its reports back.
    let (reports, mut got) = mpsc::unbounded_channel();
    let (sender, queue) = ViewerSender::new("hq", reports);
    let mut a_rx = spawn_with_functions(shared.clone(), Some((sender.clone(), queue)));
    let mut b_rx = viewer(shared.clone());
    let (mut a, mut b) = (Tables::new(), Tables::new());
    until(&mut a_rx, &mut a, waiting).await;
    until(&mut b_rx, &mut b, waiting).await;
    let (on, caller) = a
        .appearances()
        .find(|x| matches!(x.key.line, LineId::Queue(_)) && x.call.state.is_waiting())
        .map(|x| {
            let caller = x.call.calling.as_ref().map(|p| p.number.to_string());
            (x.id, caller.unwrap_or_default())
        })
        .expect("a waiting call");
    assert!(!caller.is_empty());

    // Viewer A transfers the call to 4103, chosen in its own copy of the model.
    let id = sender.command(Command::Transfer {
        on,
        target: Text::from("4103"),
    });
    let statuses = statuses_until_final(&mut got, id, PATIENCE).await;
    assert!(
        matches!(statuses.last(), Some(CommandStatus::Done { .. })),
        "{statuses:?}"
    );

    // Carried out once.
    let mut transfers = 0;
    while let Ok(r) = log.try_recv() {
        if r.function == "BlindTransfer" {
            assert_eq!(r.argument, "4103");
            transfers += 1;
        }
    }
    assert_eq!(transfers, 1);

    // Recorded as viewer A's, in the audit log and in the audit stream alike.
    let text = std::fs::read_to_string(&audit).expect("the serving side's audit log");
    let first = text.lines().next().expect("a line");
    assert!(
        first.contains(&format!(
            r#""viewer":{{"user":"anonymous","proof":"claimed","claimed_user":{:?}}}"#,
            ipo_top::app::audit::local_user()
        )),
        "{first}"
    );
    let client = async_nats::connect(nats.url()).await.expect("connected");
    let stream = async_nats::jetstream::new(client)
        .get_stream(audit_stream("hq"))
        .await
        .expect("the audit stream");
    let line = stream.get_raw_message(1).await.expect("its first line");
    assert_eq!(std::str::from_utf8(&line.payload).expect("text"), first);

    // Viewer B sees the call reach 4103.
    let agent = b
        .user_by_extn("4103")
        .map(|u| u.guid.clone())
        .expect("4103");
    until(&mut b_rx, &mut b, |t| {
        t.appearances_on(&LineId::User(agent.clone())).any(|x| {
            x.call
                .calling
                .as_ref()
                .is_some_and(|p| p.number == caller.as_str())
        })
    })
    .await;

    let _ = serving.stop(PATIENCE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_viewer_under_the_sample_configuration_sees_the_site() {
    let sample = include_str!("../assets/nats-server.conf")
        .replacen("listen: 127.0.0.1:4222\n", "", 1)
        .replacen("  store_dir: \"/var/lib/ipo-top-nats\"\n", "", 1);
    let nats = tokio::task::spawn_blocking(move || Nats::with_config(&sample))
        .await
        .expect("the harness");
    let sim = cli_support::start_sim().await;
    let as_user = |user: &str| SharedSettings {
        url: nats.url(),
        site: "hq".to_owned(),
        credentials: NatsCredentials::UserPassword {
            user: user.to_owned(),
            password: Secret::new(format!("change-me-{user}")),
        },
        ca_file: None,
        anonymous_functions: false,
        users: BTreeMap::new(),
    };
    let serving = Serving::start(ServeTarget {
        shared: as_user("serve"),
        endpoint: endpoint(&sim),
        session: SessionConfig::default(),
        audit: None,
        alerts: ipo_top::model::AlertConfig::default(),
    });
    // Bob may only read: the watch, through his own inbox, still gives him the site.
    let mut rx = viewer(as_user("bob"));
    let mut t = Tables::new();
    until(&mut rx, &mut t, |t| {
        t.users().count() > 5 && t.queues().count() > 1
    })
    .await;
    let _ = serving.stop(PATIENCE).await;
}
