//! The audit log between the screen and the session: every function is recorded before it
//! is sent (time, local user, PBX, action, appearance, parties, argument, and the command),
//! each result after it (keyed by the same id, with the requestid); the file is readable by
//! its owner only; and a function that cannot be recorded is refused, with the reason on the
//! screen, and never reaches the session.

mod audit_support;
#[path = "cli_support/mod.rs"]
mod support;
mod ui_fixture;

use audit_support::{Recorder, transfer};
use ipo_top::app::audit::{AuditLog, Dispatcher};
use ipo_top::model::{Command, CommandId, CommandReport, CommandStatus};
use ipo_top::ui::{Event, Level};
use serde_json::Value;
use support::Scratch;

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn report(
    id: u64,
    command: &Command,
    status: CommandStatus,
    requestid: Option<i32>,
) -> CommandReport {
    CommandReport {
        id: CommandId(id),
        command: command.clone(),
        status,
        requestid,
        subscribe_id: Some(12),
        callid: Some(51),
        reference: None,
    }
}

#[test]
fn every_function_is_recorded_before_it_is_sent_and_its_results_after() {
    let s = Scratch::new("audit");
    let path = s.path("data/ipo-top/audit.jsonl");
    let mut d = Dispatcher::new(AuditLog::new(
        Some(path.clone()),
        "msmith",
        "ipo-hq.example.net:443",
    ));
    let (mut a, req) = transfer();
    let to = Recorder::default();
    assert!(d.send(req.clone(), &to).is_empty());
    assert_eq!(
        to.sent.borrow().as_slice(),
        std::slice::from_ref(&req.command)
    );

    let first = lines(&path);
    assert_eq!(first.len(), 1);
    let l = &first[0];
    assert!(l["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
    assert_eq!(l["user"], "msmith");
    assert_eq!(l["pbx"], "ipo-hq.example.net:443");
    assert_eq!(l["action"], "BlindTransfer");
    assert_eq!(l["appearance"]["kind"], "queue");
    assert_eq!(l["appearance"]["extn"], "7301");
    assert_eq!(l["appearance"]["name"], "Claims Desk");
    assert_eq!(l["parties"][0], "caller 02079460958 Harbour Freight Ltd");
    assert_eq!(l["argument"], "4103");
    assert_eq!(l["command"]["kind"], "transfer");
    assert_eq!(l["command"]["target"], "4103");
    let id = l["id"].as_str().expect("an id").to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        assert_eq!(mode(&path), Some(0o600));
        assert_eq!(mode(&s.path("data/ipo-top")), Some(0o700));
    }

    // The session's reports: recorded by id with the requestid, and shown on the screen.
    for status in [
        CommandStatus::Sent,
        CommandStatus::Accepted,
        CommandStatus::Done {
            effect: "the call went to 4103".into(),
        },
    ] {
        for ev in d.report(&report(101, &req.command, status, Some(7))) {
            a.update(ev);
        }
    }
    let all = lines(&path);
    assert_eq!(all.len(), 4);
    for l in &all[1..] {
        assert_eq!(l["id"].as_str(), Some(id.as_str()), "{l}");
        assert_eq!(l["requestid"], 7);
        assert_eq!((&l["subscribe_id"], &l["callid"]), (&12.into(), &51.into()));
    }
    assert_eq!(all[2]["result"]["status"], "accepted");
    assert_eq!(all[3]["result"]["status"], "done");
    assert_eq!(all[3]["words"], "done: the call went to 4103");
    let m = a.status().cloned().expect("a status");
    assert_eq!(m.level, Level::Done);
    assert_eq!(
        m.text,
        "transferring 02079460958 to 4103 … done: the call went to 4103"
    );
    // Once final, later reports for that command are not the dispatcher's any more.
    assert!(
        d.report(&report(101, &req.command, CommandStatus::Accepted, Some(7)))
            .is_empty()
    );
    assert_eq!(lines(&path).len(), 4);
}

#[test]
fn an_unwritable_audit_log_refuses_the_function() {
    let s = Scratch::new("audit-unwritable");
    // A path under a regular file cannot be created, whoever runs the test.
    let blocker = s.write("not-a-directory", "", 0o600);
    let path = blocker.join("audit.jsonl");
    let mut d = Dispatcher::new(AuditLog::new(Some(path.clone()), "msmith", "pbx"));
    let (mut a, req) = transfer();
    let to = Recorder::default();
    let events = d.send(req, &to);
    assert!(to.sent.borrow().is_empty(), "nothing reaches the session");
    assert_eq!(events.len(), 1);
    for ev in events {
        a.update(ev);
    }
    let m = a.status().cloned().expect("a status");
    assert_eq!(m.level, Level::Error);
    assert!(
        m.text
            .starts_with("transferring 02079460958 to 4103 … not sent: cannot write the audit log"),
        "{}",
        m.text
    );
    assert!(m.text.contains(&path.display().to_string()), "{}", m.text);

    // No data directory at all: refused too.
    let mut d = Dispatcher::new(AuditLog::new(None, "msmith", "pbx"));
    let (_a, req) = transfer();
    let events = d.send(req, &to);
    assert!(to.sent.borrow().is_empty());
    assert!(
        matches!(
            events.as_slice(),
            [Event::Outcome {
                status: CommandStatus::Refused { .. },
                ..
            }]
        ),
        "{events:?}"
    );
}

/// On a shared machine another user could plant a link where the audit log goes, or leave
/// its directory open: the function is refused and nothing is written through the link.
#[cfg(unix)]
#[test]
fn an_audit_log_behind_a_link_or_in_an_open_directory_refuses_the_function() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("audit-link");
    let victim = s.write("elsewhere/victim", "keep", 0o600);
    let dir = s.path("data/ipo-top");
    std::fs::create_dir_all(&dir).expect("a directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("mode");
    let path = dir.join("audit.jsonl");
    std::os::unix::fs::symlink(&victim, &path).expect("linked");
    let mut d = Dispatcher::new(AuditLog::new(Some(path.clone()), "msmith", "pbx"));
    let (mut a, req) = transfer();
    let to = Recorder::default();
    for ev in d.send(req, &to) {
        a.update(ev);
    }
    assert!(to.sent.borrow().is_empty(), "nothing reaches the session");
    assert_eq!(
        std::fs::read_to_string(&victim).ok().as_deref(),
        Some("keep")
    );
    let m = a.status().cloned().expect("a status");
    assert!(m.text.contains("symbolic link"), "{}", m.text);

    // A directory others can enter: refused, with what to do.
    std::fs::remove_file(&path).expect("unlinked");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("mode");
    let (mut a, req) = transfer();
    for ev in d.send(req, &to) {
        a.update(ev);
    }
    assert!(to.sent.borrow().is_empty());
    assert!(!path.exists());
    let m = a.status().cloned().expect("a status");
    assert!(m.text.contains("chmod 700"), "{}", m.text);
}
