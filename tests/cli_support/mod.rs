//! Shared by the end-to-end tests of the client: a simulator on 127.0.0.1:0 over real TLS, a
//! scratch directory, a client configuration for the simulator, and the `ipo-top` binary.

#![allow(dead_code)] // each test crate uses a part of this

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ipo_top::app::simconfig::{self, SimAccess};
use ipo_top::session::{Endpoint, Secret, Trust};
use ipo_top::sim::Site;
use ipo_top::sim::conn::ConnConfig;
use ipo_top::sim::server::{self, Clock, CommandLog, Credentials, ServerConfig, ServerHandle};
use ipo_top::sim::tls::TlsIdentity;

/// The service user the simulator accepts.
pub const USER: &str = "ctiservice";
/// Its password (never seen in a log, an argv or an error).
pub const PASSWORD: &str = "Tr0ub4dor&3-horse";

/// A safety net for a broken program, not a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Starts the demo site on 127.0.0.1:0 with a manual clock (nothing moves unless the test
/// advances it).
pub async fn start_sim() -> ServerHandle {
    let tls = TlsIdentity::generate(&[]).expect("a TLS identity");
    start_sim_on(SocketAddr::from(([127, 0, 0, 1], 0)), tls, 7).await
}

/// Starts the demo site on `listen` with this identity and seed, with a manual clock.
pub async fn start_sim_on(listen: SocketAddr, tls: TlsIdentity, seed: u64) -> ServerHandle {
    start(listen, Site::demo(), PASSWORD, tls, seed, None).await
}

/// Starts the demo site on 127.0.0.1:0 with a manual clock, recording every call function it
/// receives in `log`.
pub async fn start_sim_logging(log: CommandLog) -> ServerHandle {
    let tls = TlsIdentity::generate(&[]).expect("a TLS identity");
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    start(listen, Site::demo(), PASSWORD, tls, 7, Some(log)).await
}

/// Starts `site` on 127.0.0.1:0 with a manual clock, the service user's password `password`.
pub async fn start_site(site: Site, password: &str) -> ServerHandle {
    let tls = TlsIdentity::generate(&[]).expect("a TLS identity");
    start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        site,
        password,
        tls,
        7,
        None,
    )
    .await
}

async fn start(
    listen: SocketAddr,
    site: Site,
    password: &str,
    tls: TlsIdentity,
    seed: u64,
    command_log: Option<CommandLog>,
) -> ServerHandle {
    server::start(ServerConfig {
        listen,
        site,
        seed,
        time_of_day: "10:30".parse().expect("time of day"),
        credentials: Credentials {
            username: USER.to_owned(),
            password: password.to_owned(),
        },
        tls,
        conn: ConnConfig::default(),
        clock: Clock::Manual,
        max_connections: 10,
        script: None,
        command_log,
    })
    .await
    .expect("the simulator starts")
}

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "ipo-top-e2e-{}-{name}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    /// Writes a file with a mode (unix).
    pub fn write(&self, rel: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("a directory");
        }
        std::fs::write(&p, text).expect("a file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("a mode");
        }
        #[cfg(not(unix))]
        let _ = mode;
        p
    }

    /// Every log file's text, concatenated.
    pub fn logs(&self) -> String {
        let dir = self.path("state/ipo-top");
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Writes a client configuration for the simulator into `dir` (the same way
/// `ipo-top sim --write-config` does) and returns the config file.
pub fn write_config(sim: &ServerHandle, dir: &Path) -> PathBuf {
    simconfig::write(
        dir,
        &SimAccess {
            listen: sim.local_addr(),
            username: USER,
            password: PASSWORD,
            ca_pem: sim.ca_pem(),
            fingerprint: sim.fingerprint(),
        },
    )
    .expect("a client configuration")
    .config
}

/// The `ipo-top` binary with a clean environment rooted in `scratch` (its own home, config and
/// state directories), so no test reads or writes the real ones.
pub fn ipo_top(scratch: &Scratch) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ipo-top"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch.path("home"))
        .env("XDG_CONFIG_HOME", scratch.path("config"))
        .env("XDG_STATE_HOME", scratch.path("state"))
        .stdin(Stdio::null());
    c
}

/// Runs a command to completion on a thread, so the test's runtime (which serves the
/// simulator) keeps running; fails the test if it does not end within [`PATIENCE`].
pub async fn run(mut cmd: Command) -> Output {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(cmd.output());
    });
    match tokio::time::timeout(PATIENCE, rx).await {
        Ok(Ok(Ok(out))) => out,
        other => panic!("ipo-top did not finish: {other:?}"),
    }
}

/// Waits for a child to exit, on a thread, within [`PATIENCE`].
pub fn wait_child(mut child: std::process::Child) -> std::process::ExitStatus {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(Ok(status)) => status,
        other => panic!("ipo-top did not exit: {other:?}"),
    }
}

/// The text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The client's endpoint for a simulator started by [`start_sim`]: its port, the test service
/// user, and its certificate pinned by fingerprint.
pub fn endpoint(sim: &ServerHandle) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".to_owned(),
        port: sim.local_addr().port(),
        username: USER.to_owned(),
        password: Secret::new(PASSWORD),
        trust: Trust::Fingerprint(sim.fingerprint().parse().expect("fingerprint")),
        connect_timeout: Duration::from_secs(10),
    }
}
