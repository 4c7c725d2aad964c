//! Console headings and running external commands with an echo of what runs.

use anyhow::{Context, Result};
use std::ffi::OsStr;
use std::process::Command;

/// Prints a step heading.
pub fn heading(title: &str) {
    println!("\n== {title}");
}

/// A `cargo` command: the same cargo that runs the xtask (`$CARGO`), in the workspace root.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(crate::workspace_root());
    cmd
}

/// The code-layout flag for native release builds whose speed the fast tier sets (the
/// benchmark runner and the `vmlab` CLI): every jump target, so every handler of the
/// fast tier's dispatch, starts on a 32-byte boundary. On x86-64 hosts this made the
/// mix benchmark 8% faster and its speed depend less on where handlers land; other
/// builds (tests, the Wasm site, other hosts) keep the default layout.
pub const FAST_TIER_ALIGN: &str = "-Cllvm-args=-align-all-nofallthru-blocks=5";

/// `cargo` for a native release build of the fast tier: [`FAST_TIER_ALIGN`] on x86-64
/// hosts, added to any rustflags the environment gives.
pub fn cargo_fast_native() -> Command {
    let mut cmd = cargo();
    if cfg!(target_arch = "x86_64") {
        let mut flags: Vec<String> = match std::env::var("CARGO_ENCODED_RUSTFLAGS") {
            Ok(v) if !v.is_empty() => v.split('\x1f').map(String::from).collect(),
            _ => std::env::var("RUSTFLAGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
        };
        flags.push(FAST_TIER_ALIGN.to_string());
        cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    }
    cmd
}

/// The command line as a developer would type it (environment overrides first).
pub fn display(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())))
        .collect();
    let program = cmd.get_program();
    let name = if program.to_string_lossy().ends_with("cargo") {
        OsStr::new("cargo")
    } else {
        program
    };
    parts.push(name.to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Runs `cmd` with inherited stdio after echoing it; returns whether it succeeded.
pub fn run(cmd: &mut Command) -> Result<bool> {
    println!("$ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", cmd.get_program().to_string_lossy()))?;
    Ok(status.success())
}

/// Runs `cmd` and returns its standard output when it succeeds (nothing echoed).
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
