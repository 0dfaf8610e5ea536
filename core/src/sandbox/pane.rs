//! A terminal pane for an agent that types keystrokes, as Harbor's Terminus-2 drives a tmux
//! pane: `ls -la\n`, `C-c`, half a line, the answer to a prompt or a REPL, each batch
//! followed by a wait, and then the screen is read.
//!
//! Task images rarely have tmux, and installing it needs the network, so the pane is
//! `script(1)` (util-linux's or BusyBox's, in nearly every image) running a login bash on a
//! pseudo-terminal: keystrokes go in through a FIFO, everything the terminal prints goes to
//! a file, and the screen is rendered here by a VT100 emulator (the `vt100` crate), 160
//! columns by 40 rows as Terminus-2's pane. The pane needs nothing but a [`Terminal`]'s
//! `exec`, so it works on a local sandbox and through Harbor alike. What the model is
//! shown follows Terminus-2's rule: the new lines of the buffer since the last look, or the
//! screen when that cannot be told.

use std::time::{Duration, Instant};

use base64::Engine as _;

use super::{ExecOptions, ExecOutput, SandboxError, Terminal, WORK_DIR};
use crate::harness::Keystrokes;

/// The pane's size, Terminus-2's default.
pub const PANE_COLUMNS: u16 = 160;
pub const PANE_ROWS: u16 = 40;

/// Lines kept above the screen: enough to find the previous look in the buffer after a
/// long output, few enough that an episode's emulator stays a few megabytes.
const SCROLLBACK: usize = 2000;

/// How long the pane's shell may take to show its first prompt.
const START_TIME: Duration = Duration::from_secs(10);

/// A running pane and what has been seen of it.
pub struct Pane<'a, T: Terminal> {
    terminal: &'a T,
    dir: String,
    env: Vec<(String, String)>,
    /// A folder put first on the shell's PATH.
    path: Option<&'static str>,
    /// Bytes of the pane's output file read so far.
    read: u64,
    /// Bytes of the shell's output fed to `view` since the pane (re)started.
    fed: u64,
    view: View,
}

impl<'a, T: Terminal> Pane<'a, T> {
    /// Starts the pane `name` (its shell gets `env`, and `path` first on its PATH) and
    /// waits for its first prompt.
    pub async fn open(
        terminal: &'a T,
        name: &str,
        env: Vec<(String, String)>,
        path: Option<&'static str>,
    ) -> Result<Self, SandboxError> {
        let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let mut pane = Pane {
            terminal,
            dir: format!("{WORK_DIR}/pane-{safe}"),
            env,
            path,
            read: 0,
            fed: 0,
            view: View::default(),
        };
        pane.start().await?;
        Ok(pane)
    }

    /// Starts `script(1)` with a login bash, reading the FIFO `in` and writing `out`, and
    /// waits for the shell's first output (its prompt) and a moment of quiet after it, so
    /// that nothing is typed while it starts (a `C-c` then would end it); a `sleep` holds
    /// the FIFO open so that the terminal never reads an end of file. Both are background
    /// jobs under job control, so the end of the command that started them (or of a
    /// driver's one-shot) does not end them.
    async fn start(&mut self) -> Result<(), SandboxError> {
        let d = &self.dir;
        let mut exports: String = self.env.iter().map(|(k, v)| format!("export {k}={}\n", shell_quote(v))).collect();
        if let Some(path) = self.path {
            exports.push_str(&format!("export PATH={}:\"$PATH\"\n", shell_quote(path)));
        }
        let script = format!(
            r#"command -v script >/dev/null || {{ echo "this image has no script(1) (util-linux or BusyBox), which the keystrokes pane runs on"; exit 3; }}
d={d}; rm -rf "$d"; mkdir -p "$d" && mkfifo "$d/in" && : > "$d/out" || exit 3
# With job control on, each background job is a process group of its own (a kill of the
# command's group does not reach it) and keeps SIGINT, so C-c stops the shell's commands.
set -m
export TERM=xterm
{exports}script -qfc "stty cols {PANE_COLUMNS} rows {PANE_ROWS} 2>/dev/null; exec bash --login" "$d/out" < "$d/in" > /dev/null 2>&1 &
echo $! > "$d/pid"
sleep 2147483647 > "$d/in" 2> /dev/null &
exit 0"#
        );
        let out = self.exec(&script, Duration::from_secs(30)).await?;
        if !out.success() {
            return Err(SandboxError::Pane(format!("cannot start: {}", out.output.trim())));
        }
        (self.read, self.fed) = (0, 0);
        let started = Instant::now();
        let mut quiet = false;
        while !(self.fed > 0 && quiet) && started.elapsed() < START_TIME {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let before = self.fed;
            self.catch_up().await?;
            quiet = self.fed == before;
        }
        Ok(())
    }

    /// Types `batches` one after the other, waiting after each as it asks (never past
    /// `within`), then reads what the terminal printed.
    /// A shell that has exited (`exit`, `C-d`) is started again, and its end is said on
    /// the screen as a terminal would.
    pub async fn type_keys(&mut self, batches: &[Keystrokes], within: Duration) -> Result<(), SandboxError> {
        let deadline = Instant::now() + within;
        for batch in batches {
            let bytes = key_bytes(&batch.keys);
            if !bytes.is_empty() {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
                let d = &self.dir;
                let send = format!(
                    r#"kill -0 "$(cat {d}/pid)" 2>/dev/null || exit 9
printf '%s' '{encoded}' | base64 -d > {d}/in"#
                );
                if self.exec(&send, Duration::from_secs(10)).await?.exit_code == Some(9) {
                    self.catch_up().await?;
                    self.view.feed(b"\r\n[the shell exited; a new one was started]\r\n");
                    self.start().await?;
                    let out = self.exec(&send, Duration::from_secs(10)).await?;
                    if !out.success() {
                        return Err(SandboxError::Pane(format!("cannot type into it: {}", out.output.trim())));
                    }
                }
            }
            let wait = batch.wait.min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(wait).await;
        }
        self.catch_up().await
    }

    /// Feeds the emulator what the terminal printed since the last read.
    async fn catch_up(&mut self) -> Result<(), SandboxError> {
        let read = self.read;
        let script = format!(
            r#"f={}/out; s=$(wc -c < "$f") || exit 3; echo "$s"; tail -c +{} "$f" | head -c $((s - {read}))"#,
            self.dir,
            read + 1
        );
        let out = self.exec(&script, Duration::from_secs(30)).await?;
        let (size, bytes) = out.output.split_once('\n').unwrap_or((out.output.as_str(), ""));
        let size =
            size.trim().parse::<u64>().map_err(|_| SandboxError::Pane(format!("unreadable: {}", out.output.trim())))?;
        let shell = if read == 0 { without_header(bytes) } else { bytes };
        self.view.feed(shell.as_bytes());
        self.fed += shell.len() as u64;
        self.read = size.max(read);
        Ok(())
    }

    /// What the model is shown after its keystrokes (see [`View::look`]).
    pub fn look(&mut self) -> String {
        self.view.look()
    }

    async fn exec(&self, script: &str, timeout: Duration) -> Result<ExecOutput, SandboxError> {
        let options = ExecOptions { output_limit: 4 << 20, ..ExecOptions::with_timeout(timeout) };
        let out = self.terminal.exec(script, &options).await?;
        if out.timed_out {
            return Err(SandboxError::Pane(format!("a pane command did not finish within {timeout:?}")));
        }
        Ok(out)
    }
}

/// The terminal as the model sees it: an emulator fed the pane's output, and the buffer
/// at the previous look.
struct View {
    emulator: vt100::Parser,
    previous: Option<String>,
}

impl Default for View {
    fn default() -> Self {
        View { emulator: vt100::Parser::new(PANE_ROWS, PANE_COLUMNS, SCROLLBACK), previous: None }
    }
}

impl View {
    fn feed(&mut self, bytes: &[u8]) {
        self.emulator.process(bytes);
    }

    /// The screen as it is now: its rows, without the blank ones at the bottom.
    fn screen(&self) -> String {
        trim_lines(self.emulator.screen().rows(0, PANE_COLUMNS).collect())
    }

    /// The whole buffer: the scrollback and the screen.
    fn buffer(&mut self) -> String {
        let screen = self.emulator.screen_mut();
        screen.set_scrollback(usize::MAX);
        let above = screen.scrollback();
        let rows = usize::from(PANE_ROWS);
        let mut lines = Vec::with_capacity(above + rows);
        // Page by page from the top: at offset `o` the view shows lines `above - o ..`.
        let mut offset = above;
        loop {
            screen.set_scrollback(offset);
            let first = above - offset;
            for (i, row) in screen.rows(0, PANE_COLUMNS).enumerate() {
                if first + i == lines.len() {
                    lines.push(row);
                }
            }
            if offset == 0 {
                break;
            }
            offset = offset.saturating_sub(rows);
        }
        screen.set_scrollback(0);
        trim_lines(lines)
    }

    /// What the model is shown after its keystrokes, by Terminus-2's rule: "New Terminal
    /// Output:" and the buffer from the previous look's last line on (so the prompt line
    /// the keystrokes were typed at comes first), or "Current Terminal Screen:" and the
    /// screen at the first look, when that is blank, or when the previous buffer is no
    /// longer in this one (`clear`, a full-screen program).
    fn look(&mut self) -> String {
        let current = self.buffer();
        let previous = self.previous.replace(current.clone());
        let new = previous.and_then(|previous| {
            let previous = previous.trim();
            let at = current.find(previous)?;
            Some(current[at + previous.rfind('\n').unwrap_or(0)..].to_string())
        });
        match new {
            Some(new) if !new.trim().is_empty() => format!("New Terminal Output:\n{new}"),
            _ => format!("Current Terminal Screen:\n{}", self.screen()),
        }
    }
}

/// The output of `script(1)` without the line util-linux's writes first into its log
/// ("Script started on …", ended by a bare line feed, which would leave the terminal's
/// cursor where the line ended).
fn without_header(output: &str) -> &str {
    match output.strip_prefix("Script started on ") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, shell)| shell),
        None => output,
    }
}

/// What the last typed line printed, read from a look: the lines after the last one that
/// ends with `last` (the prompt it was typed at), up to the prompt after it; where no line
/// does (a long line wrapped), everything between the first prompt and the last. InterCode's
/// judge compares an agent's last output, and a pane has no other way to tell output from
/// prompts.
pub fn typed_output(look: &str, last: &str) -> String {
    let lines: Vec<&str> = look.lines().skip(1).skip_while(|l| l.trim().is_empty()).collect();
    let last = last.trim();
    let start = match lines.iter().rposition(|l| !last.is_empty() && l.trim_end().ends_with(last)) {
        Some(at) if at + 1 < lines.len() => at + 1,
        _ => 1,
    };
    match lines.len() {
        n if n > start => lines[start..n - 1].join("\n") + if n - 1 > start { "\n" } else { "" },
        _ => String::new(),
    }
}

/// The rows joined without the spaces at their ends (as tmux captures them), trailing
/// blank rows dropped.
fn trim_lines(lines: Vec<String>) -> String {
    let mut lines: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// The bytes a batch of keystrokes types: a whole tmux key name is its key (tmux's
/// `send-keys` reads an argument that way), anything else is typed as it is.
pub fn key_bytes(keys: &str) -> Vec<u8> {
    let named: Option<&[u8]> = match keys {
        "Enter" | "C-m" | "KPEnter" | "^M" => Some(b"\r"),
        "C-j" | "^J" => Some(b"\n"),
        "Escape" | "C-[" => Some(b"\x1b"),
        "Tab" | "C-i" => Some(b"\t"),
        "BSpace" => Some(b"\x7f"),
        "Space" => Some(b" "),
        "Up" => Some(b"\x1b[A"),
        "Down" => Some(b"\x1b[B"),
        "Right" => Some(b"\x1b[C"),
        "Left" => Some(b"\x1b[D"),
        "Home" => Some(b"\x1b[H"),
        "End" => Some(b"\x1b[F"),
        "PageUp" | "PPage" => Some(b"\x1b[5~"),
        "PageDown" | "NPage" => Some(b"\x1b[6~"),
        "DC" | "Delete" => Some(b"\x1b[3~"),
        _ => None,
    };
    if let Some(bytes) = named {
        return bytes.to_vec();
    }
    let control = keys.strip_prefix("C-").or_else(|| keys.strip_prefix('^'));
    if let Some(&[c]) = control.map(str::as_bytes) {
        if c.is_ascii_alphabetic() || b"@[\\]^_".contains(&c) {
            return vec![c.to_ascii_uppercase() & 0x1f];
        }
    }
    if let Some(&[c]) = keys.strip_prefix("M-").map(str::as_bytes) {
        return vec![0x1b, c];
    }
    keys.as_bytes().to_vec()
}

/// `text` in single quotes for bash.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_keys_and_the_rest_is_typed() {
        assert_eq!(key_bytes("C-c"), b"\x03");
        assert_eq!(key_bytes("C-d"), b"\x04");
        assert_eq!(key_bytes("^C"), b"\x03");
        assert_eq!(key_bytes("Enter"), b"\r");
        assert_eq!(key_bytes("Up"), b"\x1b[A");
        assert_eq!(key_bytes("M-b"), b"\x1bb");
        assert_eq!(key_bytes("ls -la\n"), b"ls -la\n");
        // Not a key name: typed letter by letter.
        assert_eq!(key_bytes("C-cat"), b"C-cat");
        assert_eq!(key_bytes(""), b"");
    }

    #[test]
    fn scripts_header_is_not_the_shells_output() {
        let log = "Script started on 2026-12-07 04:15:03+00:00 [COMMAND=\"bash\"]\n\x1b[?2004hroot@box:/# ";
        assert_eq!(without_header(log), "\x1b[?2004hroot@box:/# ");
        assert_eq!(without_header("root@box:/# "), "root@box:/# ", "BusyBox writes none");
    }

    #[test]
    fn typed_output_is_the_last_lines_output() {
        let look = "New Terminal Output:\n\nroot@box:/app# ls\na.txt\nb.txt\nroot@box:/app#";
        assert_eq!(typed_output(look, "ls"), "a.txt\nb.txt\n");
        let two = "New Terminal Output:\nroot@box:/# find / -name a\n/a\nroot@box:/# ls -l /a\n-rw 1 /a\nroot@box:/#";
        assert_eq!(typed_output(two, "ls -l /a"), "-rw 1 /a\n", "only the last command's");
        assert_eq!(typed_output(two, "a command wrapped"), "/a\nroot@box:/# ls -l /a\n-rw 1 /a\n", "else all");
        assert_eq!(typed_output("New Terminal Output:\n\nroot@box:/app# cd /\nroot@box:/#", "cd /"), "");
        assert_eq!(typed_output("Current Terminal Screen:\nroot@box:/app#", "ls"), "");
    }

    #[test]
    fn the_buffer_holds_the_scrollback_and_the_screen() {
        let mut view = View::default();
        let lines: String = (1..=100).map(|i| format!("line {i}\r\n")).collect();
        view.feed(lines.as_bytes());
        view.feed(b"$ ");
        let buffer = view.buffer();
        assert!(buffer.starts_with("line 1\nline 2\n"), "{buffer}");
        assert!(buffer.ends_with("line 100\n$"), "{buffer}");
        assert_eq!(buffer.lines().count(), 101);
        // The screen is its last 40 rows; the view is back at the bottom.
        assert!(view.screen().starts_with("line 62\n"), "{}", view.screen());
    }

    #[test]
    fn a_look_shows_what_is_new_or_else_the_screen() {
        let mut view = View::default();
        view.feed(b"root@box:/app# ");
        assert_eq!(view.look(), "Current Terminal Screen:\nroot@box:/app#");
        view.feed(b"ls\r\na.txt  b.txt\r\nroot@box:/app# ");
        assert_eq!(view.look(), "New Terminal Output:\nroot@box:/app# ls\na.txt  b.txt\nroot@box:/app#");
        // Nothing new but the prompt: Terminus-2's rule shows the previous look's last line.
        assert_eq!(view.look(), "New Terminal Output:\n\nroot@box:/app#");
        // `clear` wipes what was there: the screen again.
        view.feed(b"\x1b[H\x1b[2Jroot@box:/app# ");
        assert_eq!(view.look(), "Current Terminal Screen:\nroot@box:/app#");
        // Colours are not text.
        view.feed(b"\r\n\x1b[01;34mdir\x1b[0m\r\n");
        assert!(view.look().ends_with("\ndir"));
    }
}
