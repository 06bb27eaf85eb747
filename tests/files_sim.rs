//! The simulator's generated CA goes into a private directory of its own run (0700, a name
//! nobody can guess), not under a fixed name in the shared temporary directory, where another
//! user could have planted a link or a CA of their own.

#[path = "cli_support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use support::PATIENCE;

#[cfg(unix)]
#[test]
fn the_generated_ca_is_written_into_a_private_directory() {
    use std::os::unix::fs::MetadataExt;
    let mut sim = Command::new(env!("CARGO_BIN_EXE_ipo-top"))
        .args(["--log-level", "off", "sim", "--listen", "127.0.0.1:0"])
        .args(["--heartbeat", "0"])
        .env("IPO_SIM_PASSWORD", "not-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the simulator starts");
    let stdout = sim.stdout.take().expect("its output");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let found = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("ca_file: ").map(PathBuf::from));
        let _ = tx.send(found);
    });
    let ca = rx.recv_timeout(PATIENCE).ok().flatten();
    // Read everything before stopping it; the directory is removed by hand after.
    let seen = ca.as_ref().map(|ca| {
        let dir = ca.parent().map(PathBuf::from).unwrap_or_default();
        let dir_meta = std::fs::symlink_metadata(&dir).ok();
        let ca_meta = std::fs::symlink_metadata(ca).ok();
        let pem = std::fs::read_to_string(ca).unwrap_or_default();
        (dir, dir_meta, ca_meta, pem)
    });
    let _ = sim.kill();
    let _ = sim.wait();
    let (dir, dir_meta, ca_meta, pem) = seen.expect("the simulator names its CA file");
    let _ = std::fs::remove_dir_all(&dir);

    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    assert!(
        name.as_deref()
            .is_some_and(|n| n.starts_with("ipo-top-sim-")),
        "{}",
        dir.display()
    );
    assert_eq!(dir.parent(), Some(std::env::temp_dir().as_path()));
    let us = rustix::process::geteuid().as_raw();
    let dir_meta = dir_meta.expect("the directory exists");
    assert!(dir_meta.is_dir());
    assert_eq!((dir_meta.uid(), dir_meta.mode() & 0o777), (us, 0o700));
    let ca_meta = ca_meta.expect("the CA file exists");
    assert!(ca_meta.is_file());
    assert_eq!((ca_meta.uid(), ca_meta.mode() & 0o777), (us, 0o600));
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
}
