//! `ipo-top trust` against the simulator over real TLS: the certificate is shown and, on a typed
//! yes, pinned in the configuration (the rest of the file kept); a later certificate that is
//! not the pinned one is refused by `check` with both fingerprints and the command to re-trust.

#[path = "cli_support/mod.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ipo_top::sim::tls::TlsIdentity;
use support::*;

/// Runs `ipo-top trust` with `answer` typed on its standard input.
async fn trust(scratch: &Scratch, config: &Path, answer: &str) -> Output {
    let mut c: Command = ipo_top(scratch);
    c.arg("--config")
        .arg(config)
        .arg("trust")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let answer = answer.to_owned();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let out = c.spawn().and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(answer.as_bytes())?;
            }
            child.wait_with_output()
        });
        let _ = tx.send(out);
    });
    match tokio::time::timeout(PATIENCE, rx).await {
        Ok(Ok(Ok(out))) => out,
        other => panic!("ipo-top trust did not finish: {other:?}"),
    }
}

fn check(scratch: &Scratch, config: &Path) -> Command {
    let mut c = ipo_top(scratch);
    c.arg("--config")
        .arg(config)
        .arg("check")
        .arg("--timeout")
        .arg("20");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_pins_the_certificate_and_a_new_one_is_refused_with_both_fingerprints() {
    let first = TlsIdentity::generate(&[]).expect("a TLS identity");
    let sim = start_sim_on(([127, 0, 0, 1], 0).into(), first, 7).await;
    let addr = sim.local_addr();
    let pinned_fp = sim.fingerprint().to_owned();
    let s = Scratch::new("trust");
    let config = write_config(&sim, &s.path("client"));
    let original = std::fs::read_to_string(&config).expect("the configuration");
    assert!(original.contains("ca_file = \"ca.pem\""), "{original}");

    // Anything but yes changes nothing.
    let out = trust(&s, &config, "no\n").await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not trusted"));
    assert_eq!(
        std::fs::read_to_string(&config).ok(),
        Some(original.clone())
    );

    // yes: the certificate is shown, then pinned.
    let out = trust(&s, &config, "yes\n").await;
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}{}", text(&out.stderr));
    for part in ["subject:", "issuer:", "valid:", "SHA-256:", &pinned_fp] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    assert!(shown.contains("nothing was sent, no password"), "{shown}");
    let after = std::fs::read_to_string(&config).expect("the configuration");
    assert!(
        after.contains(&format!("fingerprint = \"{pinned_fp}\"")),
        "{after}"
    );
    assert!(
        after.contains("# ca_file = \"ca.pem\""),
        "the CA file gives way: {after}"
    );
    // Everything else is as it was, comments included.
    for line in original.lines().filter(|l| !l.starts_with("ca_file")) {
        assert!(after.contains(line), "{line:?} kept in {after}");
    }
    // The trust command never logged in: no MTCTI3 connection was made.
    let stats = sim.stats().await.expect("the simulator answers");
    assert_eq!(stats.connections, 0);
    let out = support::run(check(&s, &config)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The PBX comes back with another certificate: refused, with both fingerprints and the
    // command that pins the new one.
    sim.stop().await;
    let second = TlsIdentity::generate(&[]).expect("a TLS identity");
    let new_fp = second.fingerprint.clone();
    let sim = start_sim_on(addr, second, 7).await;
    let out = support::run(check(&s, &config)).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&pinned_fp) && err.contains(&new_fp), "{err}");
    assert!(
        err.contains(&format!("ipo-top trust --config {}", config.display())),
        "{err}"
    );
    sim.stop().await;
}
