//! Running commands in a sandbox: fast, with a timeout that really stops them.
//!
//! A `docker exec` costs the engine tens of milliseconds (runc sets up a process each
//! time), which an agent pays on every turn. So each sandbox starts one long-lived *exec
//! server* — a small bash loop attached over a single `docker exec` stream — and every
//! command after that is a line written to it and a framed reply read back: a few
//! milliseconds. The server runs each command as a background job (`set -m`: its own
//! process group) with output to a file, so on timeout one kill of the group stops the
//! command and everything it started. `docker exec` itself has no way to kill.
//!
//! Protocol. Host → server, one line: `<id> <limit> <base64 script>`. Server → host: a
//! header line `<id> <exit code> <total bytes> <sent bytes>` and then exactly `sent` bytes
//! of output (all of it, or its first and last `limit / 2` bytes). Exactly: a background
//! job the command left behind may still be writing to (or truncating) its output file
//! while the reply is sent, so the server sends a counted cut of it, padded with zero bytes
//! should it have shrunk, and never the file as it is by then. The host skips a reply to an
//! earlier command (one it stopped waiting for) instead of taking it for this one's.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{Sandbox, SandboxError, WORK_DIR};

/// The most room a command's output may take in the container. Output goes to a file so
/// that a background job can outlive its command; uncapped, a model's `yes` fills the
/// host's disk within a command timeout. Past this, writes to the output fail (`No space
/// left on device`) and most programs stop.
pub(super) const OUTPUT_SPACE: i64 = 64 << 20;

/// Scripts shorter than this many characters run as `bash -c SCRIPT bash`, so that the
/// shell's own messages read as they do for a command typed at a prompt (`bash: vim:
/// command not found`, not the script file's path and a line number inside it); longer
/// ones, which one argument could not carry, run from their file.
pub(super) const RUN_AS_ARGUMENT: usize = 100_000;

/// The server's loop; it runs with `d` set to [`WORK_DIR`] (and `RUN_AS_ARGUMENT`
/// replaced by its value).
const SERVER: &str = r#"set -m
mkdir -p "$d"
while IFS=' ' read -r id limit b64; do
  printf '%s' "$b64" | base64 -d > "$d/$id.sh"
  s=$(< "$d/$id.sh")
  if [ ${#s} -lt RUN_AS_ARGUMENT ]; then
    bash -c "$s" bash > "$d/$id.out" 2>&1 < /dev/null &
  else
    bash "$d/$id.sh" > "$d/$id.out" 2>&1 < /dev/null &
  fi
  echo $! > "$d/$id.pid"
  wait $!
  ec=$?
  size=$(wc -c < "$d/$id.out")
  if [ "$size" -le "$limit" ]; then
    printf '%s %s %s %s\n' "$id" "$ec" "$size" "$size"
    cat "$d/$id.out" /dev/zero | head -c "$size"
  else
    half=$((limit / 2))
    printf '%s %s %s %s\n' "$id" "$ec" "$size" "$((half * 2))"
    cat "$d/$id.out" /dev/zero | head -c "$half"
    { tail -c "$half" "$d/$id.out"; cat /dev/zero; } | head -c "$half"
  fi
  rm -f "$d/$id.sh" "$d/$id.out" "$d/$id.pid"
done"#;

/// After a timeout kill, how long to wait for the server to report the killed command.
const KILL_GRACE: Duration = Duration::from_secs(15);

/// How to run a command.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Stop the command (and everything it started) after this long.
    pub timeout: Option<Duration>,
    pub env: Vec<(String, String)>,
    /// Defaults to the image's working directory.
    pub workdir: Option<String>,
    /// Keep at most this many bytes of output (head and tail); the rest is counted only.
    pub output_limit: usize,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions { timeout: None, env: Vec::new(), workdir: None, output_limit: 4 << 20 }
    }
}

impl ExecOptions {
    pub fn with_timeout(timeout: Duration) -> Self {
        ExecOptions { timeout: Some(timeout), ..Self::default() }
    }
}

/// What a command did.
#[derive(Debug, Clone, Serialize)]
pub struct ExecOutput {
    /// `None` when the command was stopped at its timeout.
    pub exit_code: Option<i64>,
    /// stdout and stderr interleaved as they were written (lossy UTF-8), cut in the middle
    /// when longer than the limit.
    pub output: String,
    /// How many bytes the command really printed.
    pub output_bytes: u64,
    pub timed_out: bool,
    #[serde(with = "crate::util::serde_secs")]
    pub duration: Duration,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// The attached exec server of one sandbox.
pub(super) struct ExecServer {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>,
    pending: VecDeque<u8>,
    next_id: u64,
    /// Set while a command is in flight; still set at the next call means that call's
    /// future was dropped mid-way and the stream is out of step: start a new server.
    busy: bool,
}

#[derive(Debug)]
pub(super) struct Reply {
    pub(super) exit_code: i64,
    /// How many bytes the command printed.
    pub(super) total: u64,
    /// All of them, or the first and last `limit / 2`.
    pub(super) output: Vec<u8>,
}

impl Sandbox {
    /// Runs a shell command (bash) and waits for it, or for its timeout.
    pub async fn exec(&self, command: &str, options: &ExecOptions) -> Result<ExecOutput, SandboxError> {
        let started = Instant::now();
        let script = compose_script(command, options);
        let mut guard = self.exec_server.lock().await;
        if guard.as_ref().is_some_and(|s| s.busy) {
            *guard = None;
        }
        if guard.is_none() {
            *guard = Some(self.start_exec_server().await?);
        }
        let server = guard.as_mut().expect("started above");
        let id = server.send(&script, options.output_limit).await.map_err(|e| self.broken(e))?;

        let reply = match options.timeout {
            None => server.receive(id).await,
            Some(limit) => match tokio::time::timeout(limit, server.receive(id)).await {
                Ok(reply) => reply,
                Err(_) => {
                    self.kill_group(id).await;
                    match tokio::time::timeout(KILL_GRACE, server.receive(id)).await {
                        Ok(Ok(reply)) => {
                            let (output, output_bytes) = render(&reply, options.output_limit);
                            return Ok(ExecOutput {
                                exit_code: None,
                                output,
                                output_bytes,
                                timed_out: true,
                                duration: started.elapsed(),
                            });
                        }
                        Ok(Err(e)) => Err(e),
                        Err(_) => Err(std::io::Error::other("the exec server did not report a killed command")),
                    }
                }
            },
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                *guard = None;
                return Err(self.broken(e));
            }
        };
        let (output, output_bytes) = render(&reply, options.output_limit);
        Ok(ExecOutput {
            exit_code: Some(reply.exit_code),
            output,
            output_bytes,
            timed_out: false,
            duration: started.elapsed(),
        })
    }

    async fn start_exec_server(&self) -> Result<ExecServer, SandboxError> {
        let docker = self.engine.docker();
        let exec = docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(vec![
                        "bash",
                        "-c",
                        &format!("d={WORK_DIR}\n{}", SERVER.replace("RUN_AS_ARGUMENT", &RUN_AS_ARGUMENT.to_string())),
                    ]),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.gone_or(e))?;
        match docker.start_exec(&exec.id, None).await.map_err(|e| self.gone_or(e))? {
            StartExecResults::Attached { output, input } => {
                Ok(ExecServer { input, output, pending: VecDeque::new(), next_id: 0, busy: false })
            }
            StartExecResults::Detached => Err(std::io::Error::other("exec server started detached").into()),
        }
    }

    /// Kills the process group of command `id` through a separate, plain exec.
    async fn kill_group(&self, id: u64) {
        let kill =
            format!("p=$(cat {WORK_DIR}/{id}.pid 2>/dev/null) && {{ kill -KILL -$p 2>/dev/null || kill -KILL $p; }}");
        if let Err(e) = self.exec_plain(&["sh", "-c", &kill]).await {
            tracing::warn!(container = %self.id, "could not stop a timed-out command: {e}");
        }
    }

    /// Runs argv directly, waits for it and discards its output.
    async fn exec_plain(&self, argv: &[&str]) -> Result<Option<i64>, bollard::errors::Error> {
        let docker = self.engine.docker();
        let options = CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(argv.to_vec()),
            ..Default::default()
        };
        let exec = docker.create_exec(&self.id, options).await?;
        if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await? {
            while output.next().await.is_some() {}
        }
        Ok(docker.inspect_exec(&exec.id).await?.exit_code)
    }

    /// The exec server broke: because the container is gone, or for another reason.
    fn broken(&self, error: std::io::Error) -> SandboxError {
        SandboxError::ContainerGone {
            container: self.name.clone(),
            message: format!("its command channel closed ({error}); the container may have died or run out of memory"),
        }
    }

    /// Turns "no such container" / "container is not running" into a clear error.
    pub(super) fn gone_or(&self, error: bollard::errors::Error) -> SandboxError {
        match &error {
            bollard::errors::Error::DockerResponseServerError { status_code: 404 | 409, message } => {
                SandboxError::ContainerGone { container: self.name.clone(), message: message.clone() }
            }
            _ => SandboxError::Docker(error),
        }
    }
}

impl ExecServer {
    async fn send(&mut self, script: &str, limit: usize) -> std::io::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        self.busy = true;
        let encoded = base64::engine::general_purpose::STANDARD.encode(script);
        let line = format!("{id} {} {encoded}\n", limit.max(2));
        self.input.write_all(line.as_bytes()).await?;
        self.input.flush().await?;
        Ok(id)
    }

    /// Reads the reply for command `id` (cancel-safe: bytes stay in `pending`).
    async fn receive(&mut self, id: u64) -> std::io::Result<Reply> {
        loop {
            if let Some(newline) = self.pending.iter().position(|b| *b == b'\n') {
                let header: Vec<u8> = self.pending.iter().take(newline).copied().collect();
                let header = String::from_utf8_lossy(&header).into_owned();
                let fields: Vec<&str> = header.split_whitespace().collect();
                let parsed = match fields.as_slice() {
                    [rid, ec, total, sent] => {
                        (rid.parse::<u64>(), ec.parse::<i64>(), total.parse::<u64>(), sent.parse::<usize>())
                    }
                    _ => return Err(std::io::Error::other(format!("garbled reply header {header:?}"))),
                };
                let (Ok(rid), Ok(exit_code), Ok(total), Ok(sent)) = parsed else {
                    return Err(std::io::Error::other(format!("garbled reply header {header:?}")));
                };
                if self.pending.len() >= newline + 1 + sent {
                    self.pending.drain(..=newline);
                    let output: Vec<u8> = self.pending.drain(..sent).collect();
                    if rid < id {
                        continue; // the late reply to a command given up on: skipped whole
                    }
                    if rid != id {
                        return Err(std::io::Error::other(format!("reply for command {rid}, expected {id}")));
                    }
                    self.busy = false;
                    return Ok(Reply { exit_code, total, output });
                }
            }
            match self.output.next().await {
                Some(Ok(LogOutput::StdOut { message })) => self.pending.extend(message.iter()),
                Some(Ok(LogOutput::StdErr { message })) => {
                    tracing::trace!("exec server: {}", String::from_utf8_lossy(&message).trim_end());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Err(std::io::Error::other("the exec server exited")),
            }
        }
    }
}

/// The script the server runs: working directory and environment, then the command.
pub(super) fn compose_script(command: &str, options: &ExecOptions) -> String {
    let mut script = String::new();
    if let Some(dir) = &options.workdir {
        script.push_str(&format!("cd -- {} || exit 126\n", shell_quote(dir)));
    }
    for (key, value) in &options.env {
        script.push_str(&format!("export {key}={}\n", shell_quote(value)));
    }
    script.push_str(command);
    script.push('\n');
    script
}

pub(super) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The output as text, with a marker where the middle was cut.
pub(super) fn render(reply: &Reply, limit: usize) -> (String, u64) {
    let sent = reply.output.len() as u64;
    if sent >= reply.total {
        return (String::from_utf8_lossy(&reply.output).into_owned(), reply.total);
    }
    let half = (limit.max(2) / 2).min(reply.output.len());
    let (head, tail) = reply.output.split_at(half);
    let text = format!(
        "{}\n[... {} bytes not kept ...]\n{}",
        String::from_utf8_lossy(head),
        reply.total - sent,
        String::from_utf8_lossy(tail)
    );
    (text, reply.total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_quote_workdir_and_env() {
        let options = ExecOptions {
            workdir: Some("/my dir".into()),
            env: vec![("A".into(), "it's".into())],
            ..ExecOptions::default()
        };
        assert_eq!(compose_script("echo $A", &options), "cd -- '/my dir' || exit 126\nexport A='it'\\''s'\necho $A\n");
    }

    #[test]
    fn long_output_is_rendered_with_a_marker() {
        let reply = Reply { exit_code: 0, total: 18, output: b"abcdopqr".to_vec() };
        let (text, total) = render(&reply, 8);
        assert_eq!(total, 18);
        assert_eq!(text, "abcd\n[... 10 bytes not kept ...]\nopqr");
        let short = Reply { exit_code: 0, total: 3, output: b"abc".to_vec() };
        assert_eq!(render(&short, 8), ("abc".to_string(), 3));
    }
}
