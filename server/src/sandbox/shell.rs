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

/// A named shell session on a terminal.
pub struct Shell<'a, T: Terminal = Sandbox> {
    terminal: &'a T,
    state_file: String,
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
        Shell { terminal, state_file: format!("{WORK_DIR}/session-{safe}.state") }
    }

    /// Runs `command` in the session, stopping it (and what it started) after `timeout`.
    pub async fn run(&self, command: &str, timeout: Duration, output_limit: usize) -> Result<ExecOutput, SandboxError> {
        let options = ExecOptions { timeout: Some(timeout), output_limit, ..ExecOptions::default() };
        self.terminal.exec(&self.script(command), &options).await
    }

    fn script(&self, command: &str) -> String {
        let state = &self.state_file;
        format!(
            r#"[ -f {state} ] && source {state}
__sh_save() {{
  {{
    for __sh_v in $(compgen -v); do
      case "$__sh_v" in {NOT_STATE}) continue ;; esac
      __sh_d=$(declare -p "$__sh_v" 2>/dev/null) || continue
      __sh_f=${{__sh_d#declare -}}
      case "${{__sh_f%% *}}" in *r*) continue ;; esac
      printf '%s\n' "$__sh_d"
    done
    for __sh_v in $(compgen -A function); do
      [ "$__sh_v" = __sh_save ] || declare -f "$__sh_v"
    done
    alias -p
    shopt -p
    set +o | grep -v -E 'errexit|xtrace|monitor'
    printf 'cd -- %q\n' "$PWD"
  }} > {state}.tmp 2>/dev/null && mv -f {state}.tmp {state}
}}
trap __sh_save EXIT
{command}
"#
        )
    }
}
