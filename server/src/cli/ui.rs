//! How the command line looks: colours (off for NO_COLOR, --no-color, or a pipe), logs on
//! stderr, progress bars on a terminal and plain lines elsewhere, tables.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use comfy_table::{presets, ContentArrangement, Table};
use console::style;
use indicatif::{ProgressBar, ProgressStyle};

pub fn init(verbose: u8, no_color: bool) {
    let colors = !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    console::set_colors_enabled(colors && std::io::stdout().is_terminal());
    console::set_colors_enabled_stderr(colors && std::io::stderr().is_terminal());
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = std::env::var("SELF_HARNESS_LOG").unwrap_or_else(|_| default.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| default.into()))
        .with_writer(std::io::stderr)
        .with_ansi(console::colors_enabled_stderr())
        .with_target(false)
        .try_init();
}

pub fn error(message: &str) {
    eprintln!("{} {message}", style("error:").red().bold());
}

pub fn warn(message: &str) {
    eprintln!("{} {message}", style("warning:").yellow().bold());
}

pub fn info(message: &str) {
    eprintln!("{message}");
}

/// A table in the project's one style.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    // Box drawing on a terminal; Markdown (readable in logs and pastable) elsewhere.
    let style = if std::io::stdout().is_terminal() { presets::UTF8_FULL_CONDENSED } else { presets::ASCII_MARKDOWN };
    table.load_style(style).set_content_arrangement(ContentArrangement::Dynamic).set_header(header.to_vec());
    table
}

/// True when progress can be drawn (stderr is a terminal).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar over `len` items on a terminal; on a pipe it stays hidden and callers
/// print one line per finished item instead.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    if !interactive() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:30}] {pos}/{len} {elapsed_precise}, ~{eta} left {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A spinner with a changing message, for one long step.
pub fn spinner(what: &str) -> ProgressBar {
    if !interactive() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {elapsed_precise} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Colours a status word: green for good, red for bad, yellow otherwise.
pub fn status_cell(text: &str, good: bool, bad: bool) -> String {
    let styled = if good {
        style(text).green()
    } else if bad {
        style(text).red()
    } else {
        style(text).yellow()
    };
    styled.to_string()
}

/// A unified diff with added lines green and removed lines red.
pub fn diff(unified: &str) -> String {
    unified
        .lines()
        .map(|line| match line.chars().next() {
            Some('+') if !line.starts_with("+++") => style(line).green().to_string(),
            Some('-') if !line.starts_with("---") => style(line).red().to_string(),
            Some('@') => style(line).cyan().to_string(),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Episodes done of those planned, and how long the rest may take, for a long command's
/// progress: the pace is that of the episodes run by this process (a resumed run reuses
/// finished ones at once, which would promise far too soon an end), and the plan is an
/// upper bound (validations stop early), so the time left is one too.
struct Pace {
    planned: AtomicU64,
    started: std::time::Instant,
    /// Episodes that finished before this, by their trace, were reused.
    started_at: String,
    done: AtomicU64,
    ran: AtomicU64,
}

impl Pace {
    fn new(planned: u64) -> Pace {
        Pace {
            planned: AtomicU64::new(planned),
            started: std::time::Instant::now(),
            started_at: crate::util::now_rfc3339(),
            done: Default::default(),
            ran: Default::default(),
        }
    }

    /// The plan, once it is known.
    fn set_planned(&self, planned: u64) {
        self.planned.store(planned, SeqCst);
    }

    /// Counts an episode that finished at `finished_at` (its trace's RFC 3339 time).
    fn episode(&self, finished_at: &str) -> Progress {
        let done = self.done.fetch_add(1, SeqCst) + 1;
        let ran = if finished_at >= self.started_at.as_str() {
            self.ran.fetch_add(1, SeqCst) + 1
        } else {
            self.ran.load(SeqCst)
        };
        let planned = self.planned.load(SeqCst).max(done);
        let left = planned - done;
        let left_s = (ran > 0).then(|| self.started.elapsed().as_secs_f64() / ran as f64 * left as f64);
        Progress { done, planned, left_s }
    }
}

/// How a long command (eval, mine, validate, loop, tasks check) reports as it runs: for a
/// person, a bar on a terminal and a line per finished item (plain lines on a pipe); with
/// `--json`, JSON Lines on stdout and nothing else there: `say` (a step), one event per
/// finished item with its `progress` (done, planned, left_s), and last `finished` with the
/// command's result.
pub struct Reporter {
    json: bool,
    bar: ProgressBar,
    pace: Pace,
}

impl Reporter {
    /// Over `planned` items (0 until [`Reporter::set_planned`]), drawn on `bar`.
    pub fn new(bar: ProgressBar, planned: u64, json: bool) -> Reporter {
        let bar = if json {
            bar.finish_and_clear();
            ProgressBar::hidden()
        } else {
            bar
        };
        bar.set_length(planned);
        Reporter { json, bar, pace: Pace::new(planned) }
    }

    pub fn set_planned(&self, planned: u64) {
        self.bar.set_length(planned);
        self.pace.set_planned(planned);
    }

    /// The bar, for what the step in flight is doing.
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// A step: the bar's message, or a line.
    pub fn say(&self, line: &str) {
        if self.json {
            event(serde_json::json!({"event": "say", "line": line}));
        } else if interactive() {
            self.bar.println(line);
            self.bar.set_message(line.to_string());
        } else {
            info(line);
        }
    }

    /// One finished episode of `task` with `seed`.
    pub fn episode(&self, task: &str, seed: u64, outcome: &crate::trace::Outcome) {
        let verdict = if outcome.passed { "pass" } else { "fail" };
        let class = serde_json::to_value(outcome.error_class).unwrap_or_default();
        let line = format!(
            "{task:<28} s{seed:<3} {verdict} ({}, {} turns, {} tokens)",
            class.as_str().unwrap_or_default(),
            outcome.turns,
            outcome.tokens_in + outcome.tokens_out
        );
        let fields = serde_json::json!({
            "event": "episode", "task": task, "seed": seed, "passed": outcome.passed, "reward": outcome.reward,
            "error_class": class, "turns": outcome.turns, "tokens": outcome.tokens_in + outcome.tokens_out,
        });
        self.item(fields, &line, &outcome.finished_at);
    }

    /// One finished item: its event (an object with `event`) or its line, with the progress.
    /// `finished_at` is when it finished (an item finished before this command was reused).
    pub fn item(&self, mut fields: serde_json::Value, line: &str, finished_at: &str) {
        let progress = self.pace.episode(finished_at);
        self.bar.inc(1);
        if self.json {
            fields["progress"] = serde_json::to_value(progress).unwrap_or_default();
            event(fields);
        } else if interactive() {
            self.bar.println(format!("{line} {progress}"));
        } else {
            info(&format!("{line} {progress}"));
        }
    }

    /// The end: with `--json` the `finished` event, `result`'s fields beside `event` (and
    /// true); otherwise the bar is cleared for the command's own output (and false).
    pub fn finished(&self, result: serde_json::Value) -> bool {
        self.bar.finish_and_clear();
        if self.json {
            let mut line = serde_json::json!({"event": "finished"});
            if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), result) {
                line.extend(fields);
            }
            event(line);
        }
        self.json
    }
}

/// One JSON Lines event on stdout, written whole.
pub fn event(value: serde_json::Value) {
    use std::io::Write;
    let mut line = value.to_string();
    line.push('\n');
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// Where a run stands after an episode: `[12/≤1606, ≤7h 30m left]` as text.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Progress {
    pub done: u64,
    /// At most this many episodes in all.
    pub planned: u64,
    /// At most this long to go, once the pace is known.
    pub left_s: Option<f64>,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let eta = match self.left_s {
            None => String::new(),
            Some(_) if self.done >= self.planned => ", the last planned".to_string(),
            Some(left) => format!(", ≤{} left", human_duration(left)),
        };
        write!(f, "[{}/≤{}{eta}]", self.done, self.planned)
    }
}

/// `7h 30m`, `12m 5s`, `40s`.
pub fn human_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_counts_reused_episodes_but_times_only_those_it_ran() {
        let pace = Pace::new(4);
        assert_eq!(pace.episode("2000-01-01T00:00:00Z").to_string(), "[1/≤4]", "reused: no pace yet");
        let now = crate::util::now_rfc3339();
        let second = pace.episode(&now);
        assert_eq!((second.done, second.planned), (2, 4));
        let text = second.to_string();
        assert!(text.starts_with("[2/≤4, ≤") && text.ends_with(" left]"), "{text}");
        pace.episode(&now);
        assert_eq!(pace.episode(&now).to_string(), "[4/≤4, the last planned]");
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(human_duration(40.4), "40s");
        assert_eq!(human_duration(725.0), "12m 5s");
        assert_eq!(human_duration(27000.0), "7h 30m");
    }
}
