//! A tmux server of the test's own, for end-to-end tests of the screen: a detached session
//! of a fixed size running `sh`, keys sent, the screen polled with deadlines.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A tmux server of our own (its own socket), killed when dropped, even on failure.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// A detached session running `sh`, `w` x `h`.
    pub fn start(w: u16, h: u16) -> Tmux {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let t = Tmux {
            socket: format!("ipo-top-e2e-{}-{nanos}", std::process::id()),
        };
        let (w, h) = (w.to_string(), h.to_string());
        t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &w,
            "-y",
            &h,
            "sh",
        ]);
        t.run(&["set-option", "-g", "status", "off"]);
        t
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output();
        match out {
            Ok(o) if o.status.success() => o,
            Ok(o) => panic!(
                "tmux {args:?} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("tmux {args:?}: {e}"),
        }
    }

    /// Types text literally.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "0", "-l", text]);
    }

    /// Presses named keys (Enter, Escape, Tab, q ...).
    pub fn press(&self, key: &str) {
        self.run(&["send-keys", "-t", "0", key]);
    }

    /// Transfers the call in the detail from `caller` to `extn` by keys, as a supervisor
    /// would: `t`, the prompt naming the caller, the number typed, the target as the picker
    /// shows it (`shown`), Enter.
    pub fn transfer(&self, caller: &str, extn: &str, shown: &str) {
        self.press("t");
        self.wait_for("the transfer prompt", Duration::from_secs(10), |s| {
            s.contains(&format!("Transfer {caller} to:"))
        });
        self.type_text(extn);
        self.wait_for("the typed target", Duration::from_secs(10), |s| {
            s.contains(shown)
        });
        self.press("Enter");
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    pub fn format(&self, f: &str) -> String {
        String::from_utf8_lossy(&self.run(&["display-message", "-p", "-t", "0", f]).stdout)
            .trim()
            .to_owned()
    }

    /// Polls the screen until `ok` holds, or fails after `within`, showing the last screen.
    pub fn wait_for(&self, what: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// The last line with something on it.
pub fn last_line(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// Starts a session and gives it a recognisable prompt (sh ignores PS1 from the environment
/// when run as root).
///
/// Waits for sh's own prompt before typing: a shell may flush its terminal's input while it
/// starts, dropping anything typed earlier, so the new prompt is typed again until it shows.
pub fn shell(w: u16, h: u16) -> Tmux {
    let tmux = Tmux::start(w, h);
    tmux.wait_for("sh's first prompt", Duration::from_secs(20), |s| {
        !last_line(s).is_empty()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tmux.type_text("PS1='e2e$ '");
        tmux.press("Enter");
        let retype = Instant::now() + Duration::from_secs(2);
        while Instant::now() < retype {
            if last_line(&tmux.screen()) == "e2e$" {
                return tmux;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            Instant::now() < deadline,
            "the shell never showed the e2e$ prompt:\n{}",
            tmux.screen()
        );
    }
}

/// A child process (the simulator, `events`), killed when dropped, even when the test fails.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory, removed on drop.
pub struct Dir(pub std::path::PathBuf);

impl Dir {
    /// A fresh, empty, private (0700) directory of the test's own under the system's
    /// temporary directory.
    pub fn scratch(name: &str) -> Dir {
        use std::os::unix::fs::DirBuilderExt as _;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = Dir(
            std::env::temp_dir().join(format!("ipo-top-{name}-{}-{nanos}", std::process::id()))
        );
        let _ = std::fs::remove_dir_all(&dir.0);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir.0)
            .expect("a scratch directory");
        dir
    }
}

/// The real binary's simulator, as a child process of the test.
pub struct Sim {
    /// The child, killed when this is dropped.
    pub child: Killed,
    /// The client configuration it wrote for itself (`DIR/client/config.toml`).
    pub config: std::path::PathBuf,
    /// That configuration's text.
    pub text: String,
}

impl Sim {
    /// The simulator on a free loopback port running `script` (a script file, or the name of
    /// a built-in one), its CA in `dir`, its state under `state`, its call functions logged to
    /// `command_log` when given; once it has written its client configuration.
    pub fn start(
        dir: &std::path::Path,
        script: &std::path::Path,
        command_log: Option<&std::path::Path>,
        state: &std::path::Path,
    ) -> Sim {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ipo-top"));
        cmd.args(["--log-level", "off", "sim", "--listen", "127.0.0.1:0"])
            .arg("--script")
            .arg(script)
            .args(["--heartbeat", "0", "--ca-file"])
            .arg(dir.join("sim-ca.pem"));
        if let Some(log) = command_log {
            cmd.arg("--command-log").arg(log);
        }
        let client = dir.join("client");
        let child = Killed(
            cmd.arg("--write-config")
                .arg(&client)
                .env("XDG_STATE_HOME", state)
                .env("IPO_SIM_PASSWORD", "e2e-password-not-secret")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("the simulator starts"),
        );
        let config = client.join("config.toml");
        let text = poll(
            "the simulator's client configuration",
            Duration::from_secs(30),
            || {
                std::fs::read_to_string(&config)
                    .ok()
                    .filter(|t| t.contains("[tls]"))
            },
        );
        Sim {
            child,
            config,
            text,
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `f` until it gives a value, or fails the test after `within` (a safety net, not a timing
/// assertion).
pub fn poll<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The JSON lines of a file (none while it does not exist).
pub fn json_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
