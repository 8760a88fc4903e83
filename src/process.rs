//! Running child processes (cargo, the C compiler, `ar`, `strip`) so that a
//! failure keeps its command line, exit status and stderr, and never panics.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

/// The command line of `cmd` as a user could paste it (env vars not shown).
pub fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s
}

fn quote(a: &OsStr) -> String {
    let a = a.to_string_lossy();
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        a.into_owned()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` to completion, capturing stdout and stderr. A spawn failure or
/// a non-zero exit becomes an error carrying the command and the tail of
/// its stderr.
pub fn run_captured(cmd: &mut Command) -> Result<Output> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(cmd, e))?;
    if !out.status.success() {
        return Err(failed(cmd, &out));
    }
    Ok(out)
}

/// The error for a command that could not be started.
pub fn spawn_error(cmd: &Command, e: std::io::Error) -> Error {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    let err = Error::new(format!("could not run `{prog}`: {e}"));
    if e.kind() == std::io::ErrorKind::NotFound {
        err.hint("install it, or run `muslrust-chef doctor` to see what is missing")
    } else {
        err
    }
}

/// The error for a command that exited unsuccessfully.
pub fn failed(cmd: &Command, out: &Output) -> Error {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let mut msg = format!("`{}` failed ({})", display(cmd), out.status);
    if !tail.is_empty() {
        msg.push_str(":\n");
        msg.push_str(&tail.join("\n"));
    }
    Error::new(msg)
}

/// Runs `cmd` and returns its trimmed stdout as a string.
pub fn stdout_of(cmd: &mut Command) -> Result<String> {
    let out = run_captured(cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
