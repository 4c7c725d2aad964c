//! What the scenario commands' tests share: a scenario file of a crate, and `vmlab` run with its status and output.

use std::path::PathBuf;
use std::process::Command;

/// `name` in the scenario folder `dir` (relative to the workspace root).
pub fn scenario(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(dir)
        .join(name)
}

/// Runs `vmlab args`: exit status, standard output, standard error.
pub fn vmlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("vmlab runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}
