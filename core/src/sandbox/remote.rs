//! A terminal whose commands another program performs: the driver protocol.
//!
//! Harbor runs an episode's environment (Docker, Daytona, Modal, Kubernetes, …) and gives
//! its agents one way in: `environment.exec(command)` and `environment.upload_file`. Our
//! Harbor agent (`integrations/harbor/`) starts `self-harness act --stdio` and relays; this
//! module is our end. One JSON object per line, ours on stdout, the driver's on stdin, one
//! request in flight at a time:
//!
//! * `{"id": 1, "op": "exec", "command": "…", "timeout_sec": 75}` → the driver runs
//!   `command` with bash in the environment and answers `{"id": 1, "return_code": 0,
//!   "stdout": "…", "stderr": "…"}`.
//! * `{"id": 2, "op": "upload", "path": "/abs/file", "content_base64": "…", "mode": 493}` →
//!   the driver writes the file (parents created, mode set) and answers `{"id": 2}`.
//! * Either answer may instead be `{"id": N, "error": "what went wrong"}`.
//! * `{"op": "finished", "outcome": {…}, "trace": "…"}` closes the episode; no answer.
//!
//! The driver stays a thin relay: what a command means here — run as its own process
//! group, stopped with everything it started at its timeout, output interleaved and cut in
//! the middle like the local runner's — is in the `command` we send, a one-shot version of
//! the local exec server ([`super::exec`]). Its stdout is one header line and the kept
//! output in base64, so nothing the command prints can be mistaken for the header and
//! binary output survives any text decoding on the way.
//!
//! The output cap. Locally the output file sits on a size-capped tmpfs; a driver's
//! environment offers no such mount, and its disk may be the user's. So the command writes
//! into a FIFO, and `head -c` copies at most `exec::OUTPUT_SPACE` bytes of it to the file,
//! unbuffered (`stdbuf -o0`: what a job left running has printed is in the file when the
//! reply is made; `dd` would be unbuffered but counts short reads as blocks). Past the cap
//! the command's writes fail (`Broken pipe`) as they fail locally (`No space left on
//! device`), and a flood such as `yes` stops there instead of filling the environment's
//! disk. An environment without coreutils' `stdbuf` gets `cat`: its output uncapped.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::exec::{compose_script, render, shell_quote, Reply, OUTPUT_SPACE};
use super::{ExecOptions, ExecOutput, SandboxError, Terminal, WORK_DIR};

/// How much longer than a command's own timeout the driver waits before it gives up on
/// the exec itself (the command stops itself at its timeout; this covers a slow transport).
const DRIVER_GRACE: Duration = Duration::from_secs(60);

/// The driver's end of a pipe pair: requests written to `W`, answers read from `R`.
pub struct Remote<R, W> {
    channel: Mutex<Channel<R, W>>,
}

struct Channel<R, W> {
    answers: R,
    requests: W,
    next_id: u64,
    /// The number of the line read last, for error messages.
    line: u64,
}

impl Remote<tokio::io::BufReader<tokio::io::Stdin>, tokio::io::Stdout> {
    /// The protocol on this process's stdin and stdout.
    pub fn stdio() -> Self {
        Remote::new(tokio::io::BufReader::new(tokio::io::stdin()), tokio::io::stdout())
    }
}

/// One answer of the driver.
#[derive(Deserialize)]
struct Answer {
    id: u64,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    return_code: Option<i64>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stderr: Option<String>,
}

impl<R: AsyncBufRead + Unpin + Send, W: AsyncWrite + Unpin + Send> Remote<R, W> {
    pub fn new(answers: R, requests: W) -> Self {
        Remote { channel: Mutex::new(Channel { answers, requests, next_id: 1, line: 0 }) }
    }

    /// Sends a line that wants no answer.
    pub async fn notify(&self, message: &Value) -> Result<(), SandboxError> {
        let mut channel = self.channel.lock().await;
        channel.send(message).await
    }

    /// Sends `request` (an object; its `id` is added) and waits for its answer.
    async fn request(&self, mut request: Value) -> Result<Answer, SandboxError> {
        let mut channel = self.channel.lock().await;
        let id = channel.next_id;
        channel.next_id += 1;
        request["id"] = id.into();
        channel.send(&request).await?;
        let answer = channel.receive().await?;
        if answer.id != id {
            return Err(driver(format!(
                "stdin line {}: an answer to request {} where request {id} was waiting",
                channel.line, answer.id
            )));
        }
        match answer.error {
            Some(error) => Err(driver(format!("request {id} ({}): {error}", request["op"]))),
            None => Ok(answer),
        }
    }
}

impl<R: AsyncBufRead + Unpin + Send, W: AsyncWrite + Unpin + Send> Channel<R, W> {
    async fn send(&mut self, message: &Value) -> Result<(), SandboxError> {
        let mut line = message.to_string();
        line.push('\n');
        self.requests.write_all(line.as_bytes()).await?;
        self.requests.flush().await?;
        Ok(())
    }

    async fn receive(&mut self) -> Result<Answer, SandboxError> {
        let mut line = String::new();
        loop {
            line.clear();
            self.line += 1;
            if self.answers.read_line(&mut line).await? == 0 {
                return Err(driver("the driver closed stdin before answering".into()));
            }
            if !line.trim().is_empty() {
                break;
            }
        }
        serde_json::from_str(&line).map_err(|e| driver(format!("stdin line {}: not an answer ({e})", self.line)))
    }
}

fn driver(message: String) -> SandboxError {
    SandboxError::Driver(message)
}

impl<R: AsyncBufRead + Unpin + Send, W: AsyncWrite + Unpin + Send> Terminal for Remote<R, W> {
    async fn exec(&self, script: &str, options: &ExecOptions) -> Result<ExecOutput, SandboxError> {
        let started = Instant::now();
        let command = one_shot(&compose_script(script, options), options.timeout, options.output_limit, OUTPUT_SPACE);
        let timeout = options.timeout.map(|t| (t + DRIVER_GRACE).as_secs());
        let answer = self.request(json!({"op": "exec", "command": command, "timeout_sec": timeout})).await?;
        let (reply, timed_out) = parse_one_shot(answer.stdout.as_deref().unwrap_or_default()).map_err(|e| {
            let stderr = answer.stderr.as_deref().unwrap_or_default().trim();
            driver(format!(
                "the command's report is unreadable ({e}); exit code {:?}{}",
                answer.return_code,
                if stderr.is_empty() { String::new() } else { format!(", stderr: {stderr}") }
            ))
        })?;
        let (output, output_bytes) = render(&reply, options.output_limit);
        Ok(ExecOutput {
            exit_code: (!timed_out).then_some(reply.exit_code),
            output,
            output_bytes,
            timed_out,
            duration: started.elapsed(),
        })
    }

    async fn write_file(&self, path: &str, bytes: &[u8], mode: u32) -> Result<(), SandboxError> {
        let content = base64::engine::general_purpose::STANDARD.encode(bytes);
        self.request(json!({"op": "upload", "path": path, "content_base64": content, "mode": mode})).await?;
        Ok(())
    }
}

/// The marker that starts the header line of a one-shot report.
const HEADER: &str = "self-harness-exec";

/// A bash script that runs `script` as its own process group with output to a file (at
/// most `space` bytes of it), stops the group at `timeout`, and prints `self-harness-exec
/// <exit> <total> <sent> <timed out>` and then the kept bytes (all, or the first and last
/// `limit / 2`) in base64.
fn one_shot(script: &str, timeout: Option<Duration>, limit: usize, space: i64) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(script);
    // The marker is written before the kill and removed when the kill finds nothing, and
    // the exit status must be SIGKILL's: a command that ended on its own is never taken
    // for a stopped one.
    let watch = match timeout {
        Some(t) => format!(
            "( sleep {secs}; : > \"$f.killed\"; kill -KILL -- -$pid 2>/dev/null || rm -f \"$f.killed\" ) &\nwatch=$!\n",
            secs = t.as_secs_f64().max(0.001)
        ),
        None => "watch=\n".into(),
    };
    format!(
        r#"set -m; exec 2>/dev/null
d={WORK_DIR}; mkdir -p "$d"; f="$d/remote-$$"
printf '%s' {b64} | base64 -d > "$f.sh"
rm -f "$f.pipe"; mkfifo "$f.pipe"; : > "$f.out"
sink="stdbuf -o0 head -c {space}"
$sink < /dev/null > /dev/null || sink=cat
$sink < "$f.pipe" > "$f.out" &
sink=$!
s=$(< "$f.sh")
if [ ${{#s}} -lt {as_argument} ]; then bash -c "$s" bash > "$f.pipe" 2>&1 < /dev/null &
else bash "$f.sh" > "$f.pipe" 2>&1 < /dev/null &
fi
pid=$!
{watch}wait $pid; ec=$?
[ -n "$watch" ] && {{ kill -- -$watch 2>/dev/null; wait $watch 2>/dev/null; }}
# The sink copies what is left, unless a job the command started still holds the FIFO.
for ((i = 0; i < 100; i++)); do kill -0 $sink 2>/dev/null || break; sleep 0.01; done
timed=0; [ "$ec" = 137 ] && [ -e "$f.killed" ] && timed=1
size=$(wc -c < "$f.out"); limit={limit}
if [ "$size" -le "$limit" ]; then sent=$size; else sent=$((limit / 2 * 2)); fi
printf '{HEADER} %s %s %s %s\n' "$ec" "$size" "$sent" "$timed"
if [ "$size" -le "$limit" ]; then
  cat "$f.out" /dev/zero | head -c "$size"
else
  cat "$f.out" /dev/zero | head -c "$((limit / 2))"
  {{ tail -c "$((limit / 2))" "$f.out"; cat /dev/zero; }} | head -c "$((limit / 2))"
fi | base64 -w0
echo
rm -f "$f.sh" "$f.out" "$f.killed" "$f.pipe"
"#,
        b64 = shell_quote(&b64),
        as_argument = super::exec::RUN_AS_ARGUMENT,
        limit = limit.max(2),
        space = space.max(1),
    )
}

/// Reads a one-shot report: the command's exit status, its output and whether it was
/// stopped at its timeout.
fn parse_one_shot(stdout: &str) -> Result<(Reply, bool), String> {
    let start = stdout.rfind(HEADER).ok_or("no header line")?;
    let mut lines = stdout[start..].lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    let [_, exit, total, sent, timed] = header[..] else {
        return Err(format!("header {:?}", header.join(" ")));
    };
    let number = |field: &str| field.parse::<i64>().map_err(|_| format!("header field {field:?} is not a number"));
    let (exit_code, total, sent) = (number(exit)?, number(total)?, number(sent)?);
    // The output is the first line in base64's alphabet: a driver whose transport merges
    // stderr into stdout (a terminal) may put the shell's job notices ("[2]+ Killed …") first.
    let is_base64 = |line: &&str| line.trim().bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
    let output = base64::engine::general_purpose::STANDARD
        .decode(lines.find(is_base64).unwrap_or_default().trim())
        .map_err(|e| format!("output: {e}"))?;
    if output.len() as i64 != sent || total < sent {
        return Err(format!("{} output bytes where the header says {sent} of {total}", output.len()));
    }
    Ok((Reply { exit_code, total: total as u64, output }, timed == "1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back() {
        let (reply, timed) = parse_one_shot("noise\nself-harness-exec 3 5 5 0\naGVsbG8=\n").unwrap();
        assert_eq!((reply.exit_code, reply.total, reply.output.as_slice(), timed), (3, 5, &b"hello"[..], false));
        let (_, timed) = parse_one_shot("self-harness-exec 137 0 0 1\n\n").unwrap();
        assert!(timed);
        // A job notice merged into stdout by a terminal, before the output (as Harbor's
        // docker exec delivered it in CI: "Invalid symbol 91", a '[').
        let merged = "self-harness-exec 0 5 5 0\n[2]+  Killed                  ( sleep 75; … )\naGVsbG8=\n";
        assert_eq!(parse_one_shot(merged).unwrap().0.output, b"hello");
        let (empty, _) = parse_one_shot("self-harness-exec 0 0 0 0\n[1]+  Done\n\n").unwrap();
        assert!(empty.output.is_empty());
    }

    #[test]
    fn a_report_that_lies_is_an_error() {
        assert!(parse_one_shot("").unwrap_err().contains("no header"));
        assert!(parse_one_shot("self-harness-exec 0 5 5\n").unwrap_err().contains("header"));
        assert!(parse_one_shot("self-harness-exec x 5 5 0\naGVsbG8=").unwrap_err().contains("not a number"));
        assert!(parse_one_shot("self-harness-exec 0 5 9 0\naGVsbG8=").unwrap_err().contains("5 output bytes"));
        assert!(parse_one_shot("self-harness-exec 0 5 5 0\n!!").unwrap_err().contains("0 output bytes"));
        assert!(parse_one_shot("self-harness-exec 0 5 5 0\naGVsbG8").unwrap_err().starts_with("output: "));
    }

    /// The one-shot script on this machine's bash: exit status, interleaving, the cut, a
    /// timeout that stops what the command started, and a background job that outlives it.
    #[tokio::test]
    async fn the_one_shot_script_runs_here() {
        let run = |script: &str, timeout: Option<Duration>, limit: usize| {
            let command = one_shot(script, timeout, limit, 1 << 20);
            async move {
                let out = tokio::process::Command::new("bash").arg("-c").arg(&command).output().await.unwrap();
                parse_one_shot(&String::from_utf8_lossy(&out.stdout)).unwrap()
            }
        };
        let (reply, timed) = run("echo out; echo err >&2; exit 4", None, 1000).await;
        assert_eq!((reply.exit_code, String::from_utf8_lossy(&reply.output).as_ref(), timed), (4, "out\nerr\n", false));

        let (reply, _) = run("seq 1 1000", None, 10).await;
        assert_eq!((reply.total, reply.output.as_slice()), (3893, &b"1\n2\n31000\n"[..]));

        let started = Instant::now();
        let (reply, timed) = run("sleep 30 & echo started; sleep 30", Some(Duration::from_millis(300)), 1000).await;
        assert!(timed && started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
        assert_eq!(reply.output, b"started\n");

        let (reply, timed) = run("exit 137", Some(Duration::from_secs(30)), 1000).await;
        assert_eq!((reply.exit_code, timed), (137, false), "a command's own 137 is not a timeout");

        // A job the command leaves behind holds the FIFO open: what came before is kept.
        let (reply, _) = run("echo before; (sleep 3; echo late) & echo after", None, 1000).await;
        assert_eq!(reply.output, b"before\nafter\n");

        // A flood stops at the output space (1 MiB here), its head and tail kept.
        let (reply, timed) = run("yes; echo unreachable", Some(Duration::from_secs(30)), 8).await;
        assert_eq!((reply.total, reply.output.as_slice(), timed), (1 << 20, &b"y\ny\ny\ny\n"[..], false));
        assert_ne!(reply.exit_code, 0, "yes ends on the broken pipe, not on its own");
    }
}
