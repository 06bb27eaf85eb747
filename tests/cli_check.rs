//! `ipo-top check` against the in-process simulator over real TLS on 127.0.0.1: it succeeds
//! and fails right, one line each, with an exit code per kind of problem.

#[path = "cli_support/mod.rs"]
mod support;

use std::sync::Arc;

use base64::Engine as _;
use ipo_top::sim::tls::TlsIdentity;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn check(scratch: &Scratch, config: &std::path::Path) -> std::process::Command {
    let mut c = ipo_top(scratch);
    c.arg("--config")
        .arg(config)
        .arg("check")
        .arg("--timeout")
        .arg("20");
    c
}

/// The config the simulator's `--write-config` writes, with `[tls]` replaced.
fn with_tls(config: &std::path::Path, tls: &str) -> String {
    let text = std::fs::read_to_string(config).unwrap_or_default();
    let pbx = text.split("[tls]").next().unwrap_or_default();
    format!("{pbx}[tls]\n{tls}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_connects_and_reports_the_site_in_one_line() {
    let sim = start_sim().await;
    let (users, queues) = sim
        .with_pbx(|pbx, _| (pbx.users().count(), pbx.queues().count()))
        .await
        .expect("the simulator answers");
    let s = Scratch::new("ok");
    let config = write_config(&sim, &s.path("client"));
    let mut cmd = check(&s, &config);
    cmd.arg("--log-level").arg("trace");
    let out = run(cmd).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let port = sim.local_addr().port();
    let expected = format!(
        "connected to 127.0.0.1:{port} as {USER}: {users} users, {queues} queues, park server available, round trip "
    );
    assert!(stdout.starts_with(&expected), "{stdout}");
    assert!(
        stdout.contains("IP Office"),
        "the version is shown: {stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "one line");
    // Which subscriptions succeeded, and the reminder about the connection limit.
    assert!(
        stdout.contains(&format!(
            "subscribed: lines, {users} of {users} users, {queues} of {queues} queues, park server, presence"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("IP Office allows 10 MTCTI3 connections in total, shared with the site's other applications"),
        "{stdout}"
    );
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr: {}",
        text(&out.stderr)
    );

    // The log file has the session's story, and never the password (not even as Basic auth).
    let logs = s.logs();
    assert!(logs.contains("synced"), "{logs}");
    assert!(!logs.contains(PASSWORD));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert!(!logs.contains(&basic));

    // Pinning the simulator's certificate works as well as trusting its CA.
    let pinned = s.write(
        "pinned/config.toml",
        &with_tls(&config, &format!("fingerprint = \"{}\"", sim.fingerprint())).replace(
            "password_file = \"password\"",
            "password_file = \"../client/password\"",
        ),
        0o644,
    );
    let out = run(check(&s, &pinned)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_says_what_is_in_scope_and_names_a_queue_the_pbx_does_not_have() {
    let sim = start_sim().await;
    let s = Scratch::new("scope");
    let config = write_config(&sim, &s.path("client"));
    let file = std::fs::read_to_string(&config).unwrap_or_default();
    let scoped = s.write(
        "client/scoped.toml",
        &format!("{file}\n[scope]\nqueues = [\"Claims Desk\"]\n"),
        0o644,
    );
    // The flags replace the file's queues for this run.
    let mut cmd = check(&s, &scoped);
    cmd.args(["--queue", "Roadside", "--queue", "Sals"]);
    let out = run(cmd).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("; scope: 1 queue, 8 agents; no queue \"Sals\" (close: Sales); subscribed: lines, 8 of 8 users, 1 of 1 queues, park server, presence"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "one line");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_exits_3_and_never_shows_a_password() {
    let sim = start_sim().await;
    let s = Scratch::new("auth");
    let config = write_config(&sim, &s.path("client"));
    s.write("client/password", "not-the-password\n", 0o600);
    let mut cmd = check(&s, &config);
    cmd.arg("--log-level").arg("trace");
    let out = run(cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("refused the login") && stderr.contains("HTTP 401"),
        "{stderr}"
    );
    assert!(stderr.contains("Enhanced TSPI Access"), "{stderr}");
    assert!(stderr.contains("Avaya HTTP Clients only"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    let everything = format!("{stderr}{}{}", text(&out.stdout), s.logs());
    assert!(!everything.contains("not-the-password"));
    assert!(!everything.contains(PASSWORD));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_exits_4_and_says_why() {
    let sim = start_sim().await;
    let s = Scratch::new("trust");
    let config = write_config(&sim, &s.path("client"));

    // No [tls]: the system's roots, which do not know the simulator's CA.
    let system = s.write("client/system.toml", &with_tls(&config, ""), 0o644);
    let out = run(check(&s, &system)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("not signed by a CA this machine trusts")
            || stderr.contains("no trusted root certificates"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ca_file") && stderr.contains("fingerprint"),
        "{stderr}"
    );

    // Another CA.
    let other = TlsIdentity::generate(&[]).expect("a TLS identity");
    s.write(
        "client/other-ca.pem",
        other.ca_pem.as_deref().unwrap_or_default(),
        0o644,
    );
    let wrong_ca = s.write(
        "client/wrong-ca.toml",
        &with_tls(&config, "ca_file = \"other-ca.pem\""),
        0o644,
    );
    let out = run(check(&s, &wrong_ca)).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));

    // A pin that is not the simulator's certificate: both fingerprints are shown.
    let pin = other.fingerprint.clone();
    let wrong_pin = s.write(
        "client/wrong-pin.toml",
        &with_tls(&config, &format!("fingerprint = \"{pin}\"")),
        0o644,
    );
    let out = run(check(&s, &wrong_pin)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(sim.fingerprint()) && stderr.contains(&pin),
        "{stderr}"
    );
    sim.stop().await;
}

/// An HTTPS server that answers every request with 404, like a web server without MTCTI3.
async fn not_found_server(identity: &TlsIdentity) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a listener");
    let addr = listener.local_addr().expect("an address");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&identity.server_config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mtcti3_exits_6_and_nothing_listening_exits_5() {
    let s = Scratch::new("paths");
    let identity = TlsIdentity::generate(&[]).expect("a TLS identity");
    let addr = not_found_server(&identity).await;
    s.write(
        "ca.pem",
        identity.ca_pem.as_deref().unwrap_or_default(),
        0o644,
    );
    s.write("password", PASSWORD, 0o600);
    let config = |port: u16| {
        format!(
            "[pbx]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"{USER}\"\npassword_file = \"password\"\n\n[tls]\nca_file = \"ca.pem\"\n"
        )
    };
    let web = s.write("web.toml", &config(addr.port()), 0o644);
    let out = run(check(&s, &web)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("HTTP 404") && stderr.contains("/tpkt/openapi"),
        "{stderr}"
    );

    // A port nobody listens on (bound, then released).
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let nothing = s.write("nothing.toml", &config(free), 0o644);
    let out = run(check(&s, &nothing)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("refused the connection"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_problems_exit_2_naming_file_line_and_key() {
    let s = Scratch::new("config");
    s.write("password", PASSWORD, 0o600);
    let good = format!(
        "[pbx]\nhost = \"127.0.0.1\"\nport = 8443\nusername = \"{USER}\"\npassword_file = \"password\"\n"
    );

    // An unknown key: file, line, column, key, and the keys that exist.
    let unknown = s.write("unknown.toml", &format!("{good}colour = \"blue\"\n"), 0o644);
    let out = run(check(&s, &unknown)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let at = format!("{}:6:1: pbx.colour: unknown key", unknown.display());
    assert!(stderr.contains(&at), "{stderr}");
    assert!(stderr.contains("expected one of"), "{stderr}");

    // A broken file.
    let broken = s.write("broken.toml", "[pbx\nhost = \n", 0o644);
    let out = run(check(&s, &broken)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:1:", broken.display())),
        "{stderr}"
    );

    // A bad value says what is expected.
    let port = s.write("port.toml", &good.replace("8443", "0"), 0o644);
    let out = run(check(&s, &port)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(":3:8: pbx.port: expected a port number from 1 to 65535"),
        "{stderr}"
    );

    // A password file others can read is refused, without reading it out.
    s.write("shared-password", PASSWORD, 0o640);
    let shared = s.write(
        "shared.toml",
        &good.replace("\"password\"", "\"shared-password\""),
        0o644,
    );
    let out = run(check(&s, &shared)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pbx.password_file") && stderr.contains("mode 0640"),
        "{stderr}"
    );
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains(PASSWORD));

    // No file at the default place: says where it looked and what to do.
    let mut cmd = ipo_top(&s);
    cmd.arg("check");
    let out = run(cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let default = s.path("config").join("ipo-top").join("config.toml");
    assert!(stderr.contains(&default.display().to_string()), "{stderr}");
    assert!(stderr.contains("ipo-top --demo"), "{stderr}");
}
