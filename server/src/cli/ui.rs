//! How the command line looks: colours (off for NO_COLOR, --no-color, or a pipe), logs on
//! stderr, progress bars on a terminal and plain lines elsewhere, tables.

use std::io::IsTerminal;
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
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {elapsed_precise} {wide_msg}")
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
