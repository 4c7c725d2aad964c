//! Shared helpers for the integration tests: assembling guest sources with NASM.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Assembles `src` (relative to the workspace root) as a flat binary with `defines`.
pub fn nasm(src: &str, defines: &[&str]) -> Vec<u8> {
    let src: PathBuf = root().join(src);
    let name = Path::new(&src)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = std::env::temp_dir().join(format!(
        "vmlab-{name}-{}-{}.bin",
        std::process::id(),
        defines.join("_")
    ));
    let mut cmd = Command::new("nasm");
    cmd.args(["-f", "bin"]);
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    let status = cmd
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("nasm must be installed to build the test guests");
    assert!(status.success(), "nasm failed on {}", src.display());
    let bin = std::fs::read(&out).expect("nasm output");
    let _ = std::fs::remove_file(&out);
    bin
}
