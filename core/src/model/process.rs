//! Running the model server as a process other commands can find again: a launcher script
//! for xllamacpp, a pid file and a log per port, a readiness probe, and stopping. Separate
//! from installing because this is what `loop`, the tests and `model stop/status` share.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::install::tail;
use super::{base_url, url_host, ModelError, ModelFiles, ModelSize, ServeOptions, Serving, Speculation, QWEN_05B};

/// The launcher the server runs. xllamacpp has no `python -m` server entry point: its
/// `xllamacpp.Server(CommonParams)` loads the model and starts llama.cpp's HTTP server
/// (OpenAI-compatible: /v1/models, /v1/chat/completions, /health) in native threads of
/// the calling process, which then only has to stay alive until SIGTERM.
pub const LAUNCHER_PY: &str = r#""""Started by `self-harness model serve`: llama.cpp's OpenAI-compatible server
(xllamacpp) on one GGUF, until SIGTERM or SIGINT."""
import argparse, os, signal, sys, threading

import xllamacpp as xlc

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--alias", required=True)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=8080)
ap.add_argument("--ctx-size", type=int, default=8192)
ap.add_argument("--threads", type=int, default=2)
# How it computes (model::Serving); 0 or "none": llama.cpp's default.
ap.add_argument("--spec", default="none")
ap.add_argument("--draft-max", type=int, default=0)
ap.add_argument("--draft-model", default="")
ap.add_argument("--batch", type=int, default=0)
ap.add_argument("--ubatch", type=int, default=0)
ap.add_argument("--cache-reuse", type=int, default=0)
ap.add_argument("--threads-batch", type=int, default=0)
ap.add_argument("--slots", type=int, default=0)
a = ap.parse_args()

stop = threading.Event()
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda *_: stop.set())

p = xlc.CommonParams()
p.model.path = a.model
p.model_alias = {a.alias}
p.hostnames = [a.host]
p.port = a.port
p.n_ctx = a.ctx_size
p.cpuparams.n_threads = a.threads
p.cpuparams_batch.n_threads = a.threads
p.use_jinja = True          # the chat template built into the GGUF
p.chat_template = ""
if a.threads_batch:
    p.cpuparams_batch.n_threads = a.threads_batch
if a.batch:
    p.n_batch = a.batch
if a.ubatch:
    p.n_ubatch = a.ubatch
if a.cache_reuse:
    p.n_cache_reuse = a.cache_reuse
if a.slots:
    p.n_parallel = a.slots
# Drafts are looked up after the last 3 (n-gram map) or 4 (n-gram mod) tokens: llama.cpp's
# 12 and 24 were never matched in an agent's short replies, so nothing was ever drafted.
T = xlc.common_speculative_type
spec = p.speculative
if a.spec == "ngram-simple":
    spec.types = [T.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
    spec.ngram_simple.size_m = a.draft_max
    spec.ngram_simple.size_n = 3
elif a.spec == "ngram-map-k":
    spec.types = [T.COMMON_SPECULATIVE_TYPE_NGRAM_MAP_K]
    spec.ngram_map_k.size_m = a.draft_max
    spec.ngram_map_k.size_n = 3
elif a.spec == "ngram-mod":
    spec.types = [T.COMMON_SPECULATIVE_TYPE_NGRAM_MOD]
    spec.ngram_mod.n_max = a.draft_max
    spec.ngram_mod.n_min = min(spec.ngram_mod.n_min, max(1, a.draft_max // 4))
    spec.ngram_mod.n_match = 4
elif a.spec == "draft":
    spec.types = [T.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]
    spec.draft.mparams.path = a.draft_model
    spec.draft.n_max = a.draft_max
    spec.draft.cpuparams.n_threads = a.threads
    spec.draft.cpuparams_batch.n_threads = a.threads
elif a.spec != "none":
    sys.exit("unknown --spec %s" % a.spec)
server = xlc.Server(p)      # returns once the model is loaded and the port listens
print("self-harness: serving %s at %s" % (a.alias, server.listening_address), flush=True)
while not stop.wait(3600):
    pass
print("self-harness: stopping", flush=True)
sys.stdout.flush()
# llama.cpp's threads are not joined on interpreter shutdown; leave at once.
os._exit(0)
"#;

/// What a pid file records about a server `model serve` started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PidFile {
    pub pid: u32,
    pub host: String,
    pub port: u16,
    pub base_url: String,
    pub model_name: String,
    pub size: ModelSize,
    pub log: PathBuf,
    /// The launcher path; a live process with this in its command line is ours.
    pub launcher: PathBuf,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    /// How it computes (absent in pid files written before: llama.cpp's defaults).
    #[serde(default)]
    pub serving: Serving,
}

impl PidFile {
    pub fn path(cache: &Path, port: u16) -> PathBuf {
        cache.join("run").join(format!("server-{port}.json"))
    }

    pub fn log_path(cache: &Path, port: u16) -> PathBuf {
        cache.join("run").join(format!("server-{port}.log"))
    }

    pub fn read(path: &Path) -> Option<PidFile> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::util::write_atomic(path, text.as_bytes())
    }

    /// Whether the recorded process still runs and is our launcher (not a reused pid).
    pub fn state(&self) -> ServerState {
        if !alive(self.pid) {
            ServerState::Gone
        } else if !runs_launcher(self.pid, &self.launcher) {
            ServerState::PidReused
        } else {
            ServerState::Running
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    Running,
    /// The process ended (stale pid file).
    Gone,
    /// Some other program has that pid now (stale pid file).
    PidReused,
}

/// A server this process started (or found already running on the port).
#[derive(Debug)]
pub struct RunningServer {
    /// `http://127.0.0.1:8080/v1` — what OPENAI_BASE_URL should be.
    pub base_url: String,
    /// The `model` to send in requests.
    pub model_name: String,
    pub pid: u32,
    pub port: u16,
    pub log: PathBuf,
    pub pid_file: PathBuf,
    /// True when the server was already running and `start` only found it.
    pub reused: bool,
    child: Option<tokio::process::Child>,
}

impl RunningServer {
    pub fn is_running(&self) -> bool {
        alive(self.pid)
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its pid file.
    pub async fn stop(mut self) -> std::io::Result<()> {
        stop_pid(self.pid).await;
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill().await;
        }
        match std::fs::remove_file(&self.pid_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Waits until the server process ends by itself; returns its exit status as text.
    pub async fn wait(&mut self) -> String {
        match self.child.as_mut() {
            Some(child) => child.wait().await.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
            None => {
                while alive(self.pid) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                "unknown (not started by this process)".into()
            }
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&std::fs::read_to_string(&self.log).unwrap_or_default(), lines)
    }
}

/// Parses a TCP port for the command line: 1–65535.
pub fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(0) => Err("port 0 is not allowed: give a port from 1 to 65535".into()),
        Ok(port) => Ok(port),
        Err(_) => Err(format!("`{text}` is not a port: give a number from 1 to 65535")),
    }
}

/// Starts the server for `files` on `options.host:options.port` in its own process group
/// (it outlives this process), records a pid file and log in the cache, and returns once
/// it answers `GET /v1/models`. When our server for the same model already runs on that
/// port, returns it (`reused`).
pub async fn start(files: &ModelFiles, options: &ServeOptions) -> Result<RunningServer, ModelError> {
    let cache = &files.cache;
    let pid_path = PidFile::path(cache, options.port);
    let log = PidFile::log_path(cache, options.port);
    if let Some(running) = already_running(files, options, &pid_path)? {
        return Ok(running);
    }
    port_free(&options.host, options.port)?;

    let run_dir = cache.join("run");
    std::fs::create_dir_all(&run_dir).map_err(|e| ModelError::io(format!("cannot create {}", run_dir.display()), e))?;
    let launcher = cache.join("serve.py");
    crate::util::write_atomic(&launcher, LAUNCHER_PY.as_bytes())
        .map_err(|e| ModelError::io(format!("cannot write {}", launcher.display()), e))?;
    let log_file =
        std::fs::File::create(&log).map_err(|e| ModelError::io(format!("cannot create {}", log.display()), e))?;
    let log_err = log_file.try_clone().map_err(|e| ModelError::io(format!("cannot open {}", log.display()), e))?;

    let draft_model = match options.serving.speculation {
        Some(Speculation::Draft { .. }) => {
            let path = cache.join("weights").join(QWEN_05B.file_name());
            if !path.is_file() {
                return Err(ModelError::NoDraftModel { path: path.display().to_string() });
            }
            Some(path)
        }
        _ => None,
    };
    let mut command = tokio::process::Command::new(&files.python);
    command
        .arg(&launcher)
        .arg("--model")
        .arg(&files.gguf)
        .args(["--alias", &files.model_name, "--host", &options.host])
        .args(["--port", &options.port.to_string()])
        .args(["--ctx-size", &options.ctx_size.to_string()])
        .args(["--threads", &options.threads.max(1).to_string()])
        .args(options.serving.launcher_args(draft_model.as_deref()))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .env("PYTHONUNBUFFERED", "1")
        // Its own process group: Ctrl-C in this terminal does not reach a detached server.
        .process_group(0);
    let mut child =
        command.spawn().map_err(|e| ModelError::io(format!("cannot start {}", files.python.display()), e))?;
    let pid = child.id().unwrap_or_default();
    let guard = KillOnDrop(Some((pid, pid_path.clone())));
    let record = PidFile {
        pid,
        host: options.host.clone(),
        port: options.port,
        base_url: base_url(&options.host, options.port),
        model_name: files.model_name.clone(),
        size: files.size,
        log: log.clone(),
        launcher: launcher.clone(),
        started_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        serving: options.serving,
    };
    record.write(&pid_path).map_err(|e| ModelError::io(format!("cannot write {}", pid_path.display()), e))?;

    let deadline = Instant::now() + options.ready_timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Reaped: the pid may belong to someone else from now on.
            guard.disarm();
            let _ = std::fs::remove_file(&pid_path);
            return Err(ModelError::ExitedEarly {
                status: status.to_string(),
                log: log.display().to_string(),
                tail: tail(&std::fs::read_to_string(&log).unwrap_or_default(), 20),
            });
        }
        if let Ok((200, _)) = http_get(&options.host, options.port, "/v1/models").await {
            break;
        }
        if Instant::now() >= deadline {
            drop(guard);
            let _ = child.wait().await;
            let _ = std::fs::remove_file(&pid_path);
            return Err(ModelError::NotReady { secs: options.ready_timeout.as_secs(), log: log.display().to_string() });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    guard.disarm();
    Ok(RunningServer {
        base_url: record.base_url,
        model_name: record.model_name,
        pid,
        port: options.port,
        log,
        pid_file: pid_path,
        reused: false,
        child: Some(child),
    })
}

/// Our server for the same model on that port, if it runs (an error when it serves
/// otherwise, or another program has the port); a stale pid file is removed.
fn already_running(
    files: &ModelFiles,
    options: &ServeOptions,
    pid_path: &Path,
) -> Result<Option<RunningServer>, ModelError> {
    if let Some(existing) = PidFile::read(pid_path) {
        if existing.state() == ServerState::Running {
            if existing.model_name == files.model_name && existing.host == options.host {
                if existing.serving != options.serving {
                    return Err(ModelError::ServingDiffers {
                        port: options.port,
                        running: existing.serving,
                        asked: options.serving,
                    });
                }
                return Ok(Some(RunningServer {
                    base_url: existing.base_url,
                    model_name: existing.model_name,
                    pid: existing.pid,
                    port: existing.port,
                    log: existing.log,
                    pid_file: pid_path.to_path_buf(),
                    reused: true,
                    child: None,
                }));
            }
            return Err(ModelError::PortInUse { host: options.host.clone(), port: options.port });
        }
        let _ = std::fs::remove_file(pid_path);
    }
    Ok(None)
}

/// Kills the process and removes its pid file if `start` is abandoned (an error, or
/// Ctrl-C while it loads).
struct KillOnDrop(Option<(u32, PathBuf)>);

impl KillOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some((pid, pid_file)) = self.0.take() {
            signal(pid, libc::SIGKILL);
            let _ = std::fs::remove_file(pid_file);
        }
    }
}

fn port_free(host: &str, port: u16) -> Result<(), ModelError> {
    match std::net::TcpListener::bind((host, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(ModelError::PortInUse { host: host.to_string(), port })
        }
        Err(e) => {
            Err(ModelError::io(format!("cannot listen on {host}:{port} (is --host an address of this machine?)"), e))
        }
    }
}

/// Stops a process: SIGTERM, up to 10 s for it to exit, then SIGKILL. Returns whether it
/// was running.
pub async fn stop_pid(pid: u32) -> bool {
    if !alive(pid) {
        return false;
    }
    signal(pid, libc::SIGTERM);
    for (limit, next) in [(Duration::from_secs(10), Some(libc::SIGKILL)), (Duration::from_secs(5), None)] {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if !alive(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(sig) = next {
            signal(pid, sig);
        }
    }
    true
}

/// Like [`stop_pid`], without a runtime (for `Drop`): SIGTERM, up to `grace`, then SIGKILL.
pub fn stop_pid_blocking(pid: u32, grace: Duration) -> bool {
    if !alive(pid) {
        return false;
    }
    signal(pid, libc::SIGTERM);
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    signal(pid, libc::SIGKILL);
    true
}

fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        if pid > 0 {
            // SAFETY: kill(2) with a positive pid has no memory effects on this process.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
}

/// Whether a process runs: it exists and is not a zombie (a zombie has exited; its parent
/// just has not collected it yet, which a container's PID 1 may never do).
pub(crate) fn alive(pid: u32) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else { return false };
    if pid_t <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => proc_state(&stat).is_some_and(|s| s != 'Z' && s != 'X'),
        // No procfs (not Linux): ask the kernel.
        Err(_) if !Path::new("/proc/self").exists() => {
            // SAFETY: signal 0 only checks for existence and permission.
            unsafe { libc::kill(pid_t, 0) == 0 }
        }
        Err(_) => false,
    }
}

/// The state letter in `/proc/<pid>/stat` (after the parenthesised command name).
pub(crate) fn proc_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn runs_launcher(pid: u32, launcher: &Path) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => cmdline_has(&cmdline, launcher),
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

pub(crate) fn cmdline_has(cmdline: &[u8], launcher: &Path) -> bool {
    let want = launcher.as_os_str().as_encoded_bytes();
    cmdline.split(|b| *b == 0).any(|arg| arg == want)
}

/// One entry of `model status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusEntry {
    #[serde(flatten)]
    pub record: PidFile,
    pub state: ServerState,
    /// Whether it answered `GET /health` just now.
    pub answering: bool,
    pub pid_file: PathBuf,
}

/// The servers that pid files in `cache` know about, by port.
pub async fn find_servers(cache: &Path) -> Vec<StatusEntry> {
    let mut entries = Vec::new();
    let Ok(dir) = std::fs::read_dir(cache.join("run")) else { return entries };
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Some(record) = PidFile::read(&path) else { continue };
        let state = record.state();
        let answering = state == ServerState::Running
            && matches!(http_get(&record.host, record.port, "/health").await, Ok((200, _)));
        entries.push(StatusEntry { record, state, answering, pid_file: path });
    }
    entries.sort_by_key(|e| e.record.port);
    entries
}

/// A minimal HTTP/1.1 GET (no TLS, `Connection: close`): status code and body. Enough to
/// probe a local server without pulling an HTTP client into this module.
pub(crate) async fn http_get(host: &str, port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let connect = tokio::net::TcpStream::connect((host, port));
    let mut stream = tokio::time::timeout(Duration::from_secs(2), connect).await.map_err(std::io::Error::other)??;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {}:{port}\r\nConnection: close\r\n\r\n", url_host(host));
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .map_err(std::io::Error::other)??;
    parse_response(&response).ok_or_else(|| std::io::Error::other("not an HTTP response"))
}

pub(crate) fn parse_response(bytes: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_within_range() {
        assert_eq!(parse_port("8080"), Ok(8080));
        assert_eq!(parse_port(" 1 "), Ok(1));
        assert!(parse_port("0").unwrap_err().contains("1 to 65535"));
        assert!(parse_port("65536").is_err());
        assert!(parse_port("http").is_err());
    }

    #[test]
    fn pid_files_round_trip_and_name_the_port() {
        let dir = tempfile::tempdir().unwrap();
        let path = PidFile::path(dir.path(), 8123);
        assert!(path.ends_with("run/server-8123.json"));
        let record = PidFile {
            pid: std::process::id(),
            host: "127.0.0.1".into(),
            port: 8123,
            base_url: base_url("127.0.0.1", 8123),
            model_name: "qwen2.5-coder-0.5b-instruct".into(),
            size: ModelSize::Half,
            log: PidFile::log_path(dir.path(), 8123),
            launcher: dir.path().join("serve.py"),
            started_at: 1,
            serving: "ngram-simple:8".parse().unwrap(),
        };
        record.write(&path).unwrap();
        let back = PidFile::read(&path).unwrap();
        assert_eq!(back, record);
        assert!(std::fs::read_to_string(&path).unwrap().contains("\"size\": \"0.5b\""));
        // This test process is alive but is not the launcher: a reused pid, not our server.
        assert_eq!(back.state(), ServerState::PidReused);
        let gone = PidFile { pid: u32::MAX - 1, ..back };
        assert_eq!(gone.state(), ServerState::Gone);
        assert!(PidFile::read(&dir.path().join("missing.json")).is_none());
    }

    #[test]
    fn zombies_are_not_alive() {
        assert_eq!(proc_state("123 (python3) S 1 2 3"), Some('S'));
        assert_eq!(proc_state("123 (a) b) Z 1 2 3"), Some('Z'));
        assert!(alive(std::process::id()));
        assert!(!alive(0));
    }

    #[test]
    fn the_launcher_is_recognised_in_a_command_line() {
        let cmdline = b"/c/venv/bin/python\0/c/serve.py\0--model\0/c/w.gguf\0";
        assert!(cmdline_has(cmdline, Path::new("/c/serve.py")));
        assert!(!cmdline_has(cmdline, Path::new("/other/serve.py")));
    }

    #[test]
    fn http_responses_parse() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"status\":\"ok\"}";
        assert_eq!(parse_response(r), Some((200, "{\"status\":\"ok\"}".into())));
        assert_eq!(parse_response(b"garbage"), None);
    }

    #[tokio::test]
    async fn a_busy_port_is_reported() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = port_free("127.0.0.1", port).unwrap_err();
        assert!(matches!(err, ModelError::PortInUse { .. }), "{err}");
        assert!(err.to_string().contains("--port"));
    }
}
