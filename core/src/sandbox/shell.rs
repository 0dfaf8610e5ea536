//! A persistent shell session for an agent: `cd`, variables, functions, aliases and
//! options carry over from one command to the next, background jobs keep running.
//!
//! Each command still runs as its own job through the exec server, so a timeout can kill
//! it (and only it) without killing the session. Continuity comes from a state file: the
//! command's script first restores the saved state, and an `EXIT` trap saves it again when
//! the command ends — normally or by `exit`. A command stopped at its timeout does not save:
//! the session stays as it was before that command, which the agent is told.

use std::time::Duration;

use super::{ExecOptions, ExecOutput, Sandbox, SandboxError, Terminal, WORK_DIR};

/// Bash variables that belong to the running shell, not to the session.
const NOT_STATE: &str = "BASH*|FUNCNAME|GROUPS|PIPESTATUS|_|SHLVL|RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|EPOCHSECONDS|EPOCHREALTIME|PPID|UID|EUID|SHELLOPTS|OPTIND|OPTARG|COMP_WORDBREAKS|DIRSTACK|PWD|OLDPWD|COLUMNS|LINES|__sh_*";

/// Output kept from one command of a session (its head and tail when longer): what an
/// agent's command may show before the harness's own truncation, and what a task's
/// reference command is compared by.
pub const COMMAND_OUTPUT_LIMIT: usize = 1 << 20;

/// A named shell session on a terminal, or a fresh shell for each command.
pub struct Shell<'a, T: Terminal = Sandbox> {
    terminal: &'a T,
    /// Where the session's state is kept between commands; `None`: nothing carries over.
    state_file: Option<String>,
    /// The directory a fresh shell starts in.
    workdir: Option<String>,
    /// Exported before every command.
    env: Vec<(String, String)>,
}

impl Sandbox {
    /// A persistent shell session; sessions with different names are independent.
    pub fn shell(&self, name: &str) -> Shell<'_> {
        Shell::on(self, name)
    }
}

impl<'a, T: Terminal> Shell<'a, T> {
    /// The session `name` on `terminal`; sessions with different names are independent.
    pub fn on(terminal: &'a T, name: &str) -> Self {
        let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        Shell { terminal, state_file: Some(format!("{WORK_DIR}/session-{safe}.state")), workdir: None, env: Vec::new() }
    }

    /// A new shell for each command, started in `workdir`: nothing one command does to
    /// its shell (`cd`, variables) reaches the next.
    pub fn fresh(terminal: &'a T, workdir: &str) -> Self {
        Shell { terminal, state_file: None, workdir: Some(workdir.to_string()), env: Vec::new() }
    }

    /// The same, with `env` exported before every command.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    /// Runs `command` in the session, stopping it (and what it started) after `timeout`.
    pub async fn run(&self, command: &str, timeout: Duration, output_limit: usize) -> Result<ExecOutput, SandboxError> {
        let options = ExecOptions { timeout: Some(timeout), output_limit, ..ExecOptions::default() };
        self.terminal.exec(&self.script(command), &options).await
    }

    /// The command behind a one-line preamble, so that its line numbers are its own: a
    /// session's saved state is restored and an `EXIT` trap will save it again (a fresh
    /// shell changes to its directory instead), the environment is exported, and the
    /// command is `eval`ed from a variable (`__sh_cmd`, which the state leaves out).
    fn script(&self, command: &str) -> String {
        let mut line = String::new();
        if let Some(state) = &self.state_file {
            let save = format!(
                "__sh_save() {{ {{ \
                 for __sh_v in $(compgen -v); do \
                 case \"$__sh_v\" in {NOT_STATE}) continue ;; esac; \
                 __sh_d=$(declare -p \"$__sh_v\" 2>/dev/null) || continue; \
                 __sh_f=${{__sh_d#declare -}}; \
                 case \"${{__sh_f%% *}}\" in *r*) continue ;; esac; \
                 printf '%s\\n' \"$__sh_d\"; done; \
                 for __sh_v in $(compgen -A function); do [ \"$__sh_v\" = __sh_save ] || declare -f \"$__sh_v\"; done; \
                 alias -p; shopt -p; set +o | grep -v -E 'errexit|xtrace|monitor'; \
                 printf 'cd -- %q\\n' \"$PWD\"; \
                 }} > {state}.tmp 2>/dev/null && mv -f {state}.tmp {state}; }}"
            );
            line.push_str(&format!("[ -f {state} ] && source {state}; {save}; trap __sh_save EXIT; "));
        }
        if let Some(dir) = &self.workdir {
            line.push_str(&format!("cd -- {} || exit 126; ", ansi_c_quote(dir)));
        }
        for (key, value) in &self.env {
            line.push_str(&format!("export {key}={}; ", ansi_c_quote(value)));
        }
        line.push_str(&format!("__sh_cmd={}; eval \"$__sh_cmd\"\n", ansi_c_quote(command)));
        line
    }
}

/// `text` as a bash `$'…'` word: one line, whatever it holds.
fn ansi_c_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 3);
    quoted.push_str("$'");
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_ascii_control() => quoted.push_str(&format!("\\x{:02x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_becomes_one_quoted_line_that_bash_reads_back_exactly() {
        let command = "printf '%s' \"a\\b\"\ncat <<'EOF'\n$HOME\ttab\u{1}é\nEOF";
        let quoted = ansi_c_quote(command);
        assert!(!quoted.contains('\n'), "{quoted}");
        let out = std::process::Command::new("bash").args(["-c", &format!("printf '%s' {quoted}")]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), command);
    }
}
