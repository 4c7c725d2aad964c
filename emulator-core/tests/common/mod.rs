//! Shared helpers for the integration tests: assembling guest sources with vmlab-asm.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Assembles `src` (relative to the workspace root) as a flat binary with `defines`
/// (`NAME` or `NAME=VALUE`); `%include` names are found beside the source.
pub fn assemble(src: &str, defines: &[&str]) -> Vec<u8> {
    let path = root().join(src);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let include = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let opts = vmlab_asm::Options {
        defines: defines.iter().map(|d| vmlab_asm::parse_define(d)).collect(),
        include: Some(&include),
        ..Default::default()
    };
    match vmlab_asm::assemble(src, &source, &opts) {
        Ok(out) => out.bytes,
        Err(errors) => panic!("vmlab-asm failed on {src}:\n{errors}"),
    }
}

/// xorshift64*: a small deterministic generator for the randomised tests.
#[allow(dead_code)]
pub struct Rng(pub u64);

#[allow(dead_code)]
impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
