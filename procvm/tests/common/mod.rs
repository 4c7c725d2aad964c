//! Building the C test programs with `gcc -m32 -static` into a work folder.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh work folder for test `name`.
pub fn work_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("procvm")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a work folder");
    d
}

/// Builds `programs/NAME.c` into the work folder.
pub fn build(name: &str, dir: &Path) -> Vec<u8> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(format!("{name}.c"));
    let out = dir.join(name);
    let st = Command::new("gcc")
        .args(["-m32", "-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-lm")
        .status()
        .expect("gcc runs (cargo xtask test installs gcc-multilib)");
    assert!(st.success(), "gcc -m32 -static failed on {}", src.display());
    std::fs::read(out).expect("the built program")
}
