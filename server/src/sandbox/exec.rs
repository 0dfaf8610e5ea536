//! Running one command in a sandbox, with a timeout that really stops it.
//!
//! `docker exec` has no way to kill what it started, so each command runs as the leader
//! of its own session (`setsid`), its pid written to a file; on timeout a second exec
//! kills the whole process group, background children included.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use serde::Serialize;

use super::{Sandbox, SandboxError};

/// Where the wrapper keeps the pid files of running commands.
const PID_DIR: &str = "/tmp/.self-harness";

/// Runs `$1` under bash (sh where there is none) as a session leader, and writes the
/// session's pid to `$2`, so that the host can kill the whole group later.
const WRAPPER: &str = r#"mkdir -p /tmp/.self-harness 2>/dev/null
s=sh; command -v bash >/dev/null 2>&1 && s=bash
if command -v setsid >/dev/null 2>&1; then
  exec setsid -w "$s" -c 'echo $$ > "$1"; exec "$2" -c "$0"' "$1" "$2" "$s"
fi
echo $$ > "$2"; exec "$s" -c "$1""#;

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
    /// stdout and stderr interleaved as they arrived (lossy UTF-8), possibly cut in the
    /// middle when longer than the limit.
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

impl Sandbox {
    /// Runs a shell command and waits for it (or for its timeout).
    pub async fn exec(&self, command: &str, options: &ExecOptions) -> Result<ExecOutput, SandboxError> {
        let started = Instant::now();
        let pid_file = format!("{PID_DIR}/{}.pid", self.next_exec_id());
        let argv = vec!["sh", "-c", WRAPPER, "self-harness-exec", command, &pid_file];
        let env: Vec<String> = options.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let docker = self.engine.docker();
        let exec = docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    env: Some(env.iter().map(String::as_str).collect()),
                    cmd: Some(argv),
                    working_dir: options.workdir.as_deref(),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.gone_or(e))?;

        let mut buffer = CappedBuffer::new(options.output_limit);
        let run = async {
            if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await? {
                while let Some(chunk) = output.next().await {
                    buffer.push(&chunk?.into_bytes());
                }
            }
            Ok::<_, bollard::errors::Error>(())
        };
        let timed_out = match options.timeout {
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(result) => result.map(|()| false),
                Err(_) => Ok(true),
            },
            None => run.await.map(|()| false),
        }
        .map_err(|e| self.gone_or(e))?;

        if timed_out {
            self.kill_group(&pid_file).await;
        }
        let exit_code = if timed_out { None } else { docker.inspect_exec(&exec.id).await?.exit_code };
        if !timed_out {
            // Best effort: the pid file is only needed while the command runs.
            let _ = self.exec_plain(&["rm", "-f", &pid_file]).await;
        }
        let (output, output_bytes) = buffer.finish();
        Ok(ExecOutput { exit_code, output, output_bytes, timed_out, duration: started.elapsed() })
    }

    async fn kill_group(&self, pid_file: &str) {
        let kill = format!("p=$(cat {pid_file} 2>/dev/null) && {{ kill -KILL -$p 2>/dev/null || kill -KILL $p; }}");
        if let Err(e) = self.exec_plain(&["sh", "-c", &kill]).await {
            tracing::warn!(container = %self.id, "could not stop a timed-out command: {e}");
        }
    }

    /// Runs argv directly (no wrapper, no timeout) and waits for it; output is discarded.
    async fn exec_plain(&self, argv: &[&str]) -> Result<Option<i64>, bollard::errors::Error> {
        let docker = self.engine.docker();
        let exec = docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(argv.to_vec()),
                    ..Default::default()
                },
            )
            .await?;
        if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await? {
            while output.next().await.is_some() {}
        }
        Ok(docker.inspect_exec(&exec.id).await?.exit_code)
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

/// Keeps the first and last `limit / 2` bytes of a stream and counts the rest.
struct CappedBuffer {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    half: usize,
    total: u64,
}

impl CappedBuffer {
    fn new(limit: usize) -> Self {
        CappedBuffer { head: Vec::new(), tail: VecDeque::new(), half: (limit / 2).max(1), total: 0 }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.half.saturating_sub(self.head.len());
        let (to_head, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(to_head);
        bytes = rest;
        if bytes.len() >= self.half {
            self.tail.clear();
            bytes = &bytes[bytes.len() - self.half..];
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.half);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    fn finish(self) -> (String, u64) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if kept < self.total {
            text.push_str(&format!("\n[... {} bytes not kept ...]\n", self.total - kept));
        }
        let tail: Vec<u8> = self.tail.into_iter().collect();
        text.push_str(&String::from_utf8_lossy(&tail));
        (text, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_buffer_keeps_everything_under_the_limit() {
        let mut b = CappedBuffer::new(100);
        b.push(b"hello ");
        b.push(b"world");
        assert_eq!(b.finish(), ("hello world".to_string(), 11));
    }

    #[test]
    fn capped_buffer_keeps_head_and_tail_of_long_output() {
        let mut b = CappedBuffer::new(8);
        for chunk in [&b"abc"[..], b"defgh", b"ijklmnop", b"qr"] {
            b.push(chunk);
        }
        let (text, total) = b.finish();
        assert_eq!(total, 18);
        assert!(text.starts_with("abcd"), "{text}");
        assert!(text.ends_with("opqr"), "{text}");
        assert!(text.contains("10 bytes not kept"), "{text}");
    }
}
