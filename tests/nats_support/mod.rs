//! A real nats-server (2.11 or later, JetStream on) for the shared-mode tests: on a free
//! loopback port, with a temporary store directory and optionally a configuration (users,
//! permissions); killed when dropped. It can be stopped and started again on the same port and
//! store, as an operator restarting it would.
//!
//! The server comes from `IPO_TOP_NATS_SERVER` (set by `tests/run`), else `nats-server` on
//! PATH. Without one the test fails, saying how to run the tests: it never passes silently.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary, or a failure saying what to run.
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("IPO_TOP_NATS_SERVER") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nats-server"))
            .find(|p| p.is_file())
    });
    match on_path {
        Some(p) => p,
        None => panic!(
            "the shared-mode tests need nats-server 2.11 or later and none was found: run the \
             tests with `tests/run` (README), which installs it and sets IPO_TOP_NATS_SERVER"
        ),
    }
}

/// A running (or stopped) nats-server.
pub struct Nats {
    bin: PathBuf,
    child: Option<Child>,
    /// Its client port.
    pub port: u16,
    store: tempfile::TempDir,
    dir: tempfile::TempDir,
    config: Option<PathBuf>,
}

const START_DEADLINE: Duration = Duration::from_secs(20);

impl Nats {
    /// A server with JetStream, no authentication.
    pub fn start() -> Nats {
        Nats::start_with(None)
    }

    /// A server with JetStream and this configuration file's text (users, permissions...);
    /// the port and store directory are given on the command line.
    pub fn with_config(text: &str) -> Nats {
        Nats::start_with(Some(text))
    }

    fn start_with(config_text: Option<&str>) -> Nats {
        let bin = server_binary();
        let store = tempfile::tempdir().expect("store dir");
        let dir = tempfile::tempdir().expect("ports dir");
        let config = config_text.map(|t| {
            let p = dir.path().join("nats.conf");
            std::fs::write(&p, t).expect("write nats.conf");
            p
        });
        let mut n = Nats {
            bin,
            child: None,
            port: 0,
            store,
            dir,
            config,
        };
        n.spawn(None);
        let pid = n.child.as_ref().map(Child::id).unwrap_or_default();
        n.port = n.read_port(pid);
        n.wait_ready();
        n
    }

    fn spawn(&mut self, port: Option<u16>) {
        let mut cmd = Command::new(&self.bin);
        if let Some(c) = &self.config {
            cmd.arg("-c").arg(c);
        }
        cmd.args(["-a", "127.0.0.1", "-js", "-sd"])
            .arg(self.store.path())
            .arg("--ports_file_dir")
            .arg(self.dir.path())
            .arg("-p")
            .arg(port.map_or("-1".to_owned(), |p| p.to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
    }

    /// The port the server chose, from the ports file it writes once it listens.
    fn read_port(&mut self, pid: u32) -> u16 {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.ends_with(&format!("_{pid}.ports")) {
                        if let Some(port) = std::fs::read_to_string(e.path())
                            .ok()
                            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                            .and_then(|v| v["nats"][0].as_str().map(str::to_owned))
                            .and_then(|u| u.rsplit(':').next()?.parse().ok())
                        {
                            return port;
                        }
                    }
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("nats-server exited at start ({status}): is it 2.11 or later?");
            }
            assert!(
                Instant::now() < deadline,
                "nats-server wrote no ports file in {START_DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("nats-server exited ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "nats-server not listening on {} in {START_DEADLINE:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its URL.
    /// `[shared]` for `site` on this server, without credentials.
    pub fn site(&self, site: &str) -> ipo_top::app::config::SharedSettings {
        ipo_top::app::config::SharedSettings {
            url: self.url(),
            site: site.to_owned(),
            credentials: ipo_top::app::config::NatsCredentials::None,
            ca_file: None,
            anonymous_functions: false,
            users: std::collections::BTreeMap::new(),
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops it (SIGKILL: as abrupt as a crash).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store directory.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        self.spawn(Some(port));
        self.wait_ready();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `ipo-top serve` (the library's `serve::run`) for `target` on the test's runtime: stop it
/// politely, or abort its task as a kill would.
pub struct Serving {
    /// Dropped or sent: `serve` stops.
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// `serve` itself.
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Serving {
    /// `serve` started for `target`.
    pub fn start(target: ipo_top::app::serve::ServeTarget) -> Serving {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ipo_top::app::serve::run(
            target,
            async move {
                let _ = stopped.await;
            },
            |_| {},
        ));
        Serving {
            stop: Some(stop),
            task,
        }
    }

    /// Stops `serve` and waits for it (at most `within`); what it ended with, if it ended.
    pub async fn stop(mut self, within: Duration) -> Option<anyhow::Result<()>> {
        drop(self.stop.take());
        match tokio::time::timeout(within, self.task).await {
            Ok(Ok(r)) => Some(r),
            _ => None,
        }
    }
}

/// Whether a caller waits in one of the site's queues.
pub fn a_caller_waits_in_a_queue(t: &ipo_top::model::Tables) -> bool {
    t.appearances().any(|a| {
        matches!(a.key.line, ipo_top::model::LineId::Queue(_)) && a.call.state.is_waiting()
    })
}

/// A viewer's reports on the function `id`, in order, up to its final one (each in `within`).
pub async fn statuses_until_final(
    got: &mut tokio::sync::mpsc::UnboundedReceiver<ipo_top::model::CommandReport>,
    id: ipo_top::model::CommandId,
    within: Duration,
) -> Vec<ipo_top::model::CommandStatus> {
    let mut statuses: Vec<ipo_top::model::CommandStatus> = Vec::new();
    while !statuses
        .last()
        .is_some_and(ipo_top::model::CommandStatus::is_final)
    {
        let r = tokio::time::timeout(within, got.recv())
            .await
            .expect("a report in time")
            .expect("a report");
        assert_eq!(r.id, id);
        statuses.push(r.status);
    }
    statuses
}

/// Applies what a viewer was told to `t` until `done` holds of it (or fails after `within`).
pub async fn viewer_until(
    rx: &mut tokio::sync::mpsc::Receiver<ipo_top::app::shared::ViewerUpdate>,
    t: &mut ipo_top::model::Tables,
    done: impl Fn(&ipo_top::model::Tables) -> bool,
    within: Duration,
) {
    use ipo_top::app::shared::ViewerUpdate;
    let deadline = tokio::time::Instant::now() + within;
    while !done(t) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ViewerUpdate::Model(evs))) => evs.iter().for_each(|e| t.apply(e)),
            Ok(Some(ViewerUpdate::CaughtUp(_) | ViewerUpdate::Judged(_))) => {}
            Ok(None) => panic!("the viewer ended"),
            Err(_) => panic!("the viewer's model did not get there in {within:?}"),
        }
    }
}
