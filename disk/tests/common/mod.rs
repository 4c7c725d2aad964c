//! Helpers for the image tests: a scratch directory and Debian's qemu-img/qemu-io.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory for one test, removed when the test ends.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory for one test.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("vmlab-disk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    Scratch(dir)
}

/// Runs a tool; returns (exit code, stdout + stderr).
pub fn run(tool: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is needed (Debian package qemu-utils): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Runs a tool that must succeed.
pub fn ok(tool: &str, args: &[&str]) -> String {
    let (code, text) = run(tool, args);
    assert_eq!(code, 0, "{tool} {args:?} failed:\n{text}");
    text
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The guest-visible bytes of an image, as qemu-img converts them to raw.
pub fn qemu_raw(image: &Path, dir: &Path) -> Vec<u8> {
    let out = dir.join("qemu-view.raw");
    ok("qemu-img", &["convert", "-O", "raw", p(image), p(&out)]);
    std::fs::read(&out).expect("converted image")
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
