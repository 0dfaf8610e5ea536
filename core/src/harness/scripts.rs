//! Syntax checks of a harness's scripts — its tools and its hook — with the interpreter
//! that will run them: `bash -n` for shell scripts (a hook always runs under bash), Python's
//! `compile()` for Python tools. Neither runs the script. A proposal whose script does not
//! parse is discarded before it costs an episode; the check needs `bash` (and `python3` for
//! Python tools) on the host, and says so when one is missing.

use std::io::Write;
use std::process::{Command, Stdio};

/// The interpreter a script is checked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpreter {
    Shell,
    Python,
}

impl Interpreter {
    /// The interpreter named by `script`'s `#!` line; `None` when there is none or it is
    /// neither a shell nor Python.
    pub fn of(script: &[u8]) -> Option<Interpreter> {
        let first = script.split(|&b| b == b'\n').next()?;
        let line = std::str::from_utf8(first).ok()?.strip_prefix("#!")?;
        let program = line.split_whitespace().find(|w| !w.ends_with("/env") && !w.starts_with('-'))?;
        let name = program.rsplit('/').next()?;
        if name.starts_with("python") {
            Some(Interpreter::Python)
        } else if matches!(name, "bash" | "sh" | "dash") {
            Some(Interpreter::Shell)
        } else {
            None
        }
    }
}

/// What the interpreter says is wrong with `script`, if anything.
pub fn syntax_error(script: &[u8], interpreter: Interpreter) -> Option<String> {
    let (program, args): (&str, &[&str]) = match interpreter {
        Interpreter::Shell => ("bash", &["-n"]),
        Interpreter::Python => ("python3", &["-c", "import sys; compile(sys.stdin.read(), 'script', 'exec')"]),
    };
    let child =
        Command::new(program).args(args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return Some(format!("cannot run {program} to check it: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A script that closes stdin early is reported by the exit status below.
        let _ = stdin.write_all(script);
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("it does not parse");
            Some(last.trim().to_string())
        }
        Err(e) => Some(format!("cannot run {program} to check it: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shebang_names_the_interpreter() {
        assert_eq!(Interpreter::of(b"#!/bin/bash\necho"), Some(Interpreter::Shell));
        assert_eq!(Interpreter::of(b"#!/usr/bin/env python3\n"), Some(Interpreter::Python));
        assert_eq!(Interpreter::of(b"#!/usr/bin/env -S bash -e\n"), Some(Interpreter::Shell));
        assert_eq!(Interpreter::of(b"#!/usr/bin/perl\n"), None);
        assert_eq!(Interpreter::of(b"echo hi\n"), None);
    }

    #[test]
    fn broken_scripts_are_told_apart_from_good_ones() {
        assert_eq!(syntax_error(b"#!/bin/bash\nif true; then echo ok; fi\n", Interpreter::Shell), None);
        let shell = syntax_error(b"#!/bin/bash\nif true; then echo ok\n", Interpreter::Shell).unwrap();
        assert!(shell.contains("syntax error"), "{shell}");
        assert_eq!(syntax_error(b"print('ok')\n", Interpreter::Python), None);
        let python = syntax_error(b"def f(:\n", Interpreter::Python).unwrap();
        assert!(python.contains("SyntaxError"), "{python}");
        assert_eq!(syntax_error(b"rm -rf /tmp/never-run-by-a-check\n", Interpreter::Shell), None, "parsed, not run");
    }
}
