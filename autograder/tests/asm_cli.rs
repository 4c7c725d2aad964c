//! `vmlab asm` prints the assembler's warnings on stderr and still writes the image.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn warnings_go_to_stderr_and_the_image_is_written() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-asm-warnings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("wide.asm");
    std::fs::write(&src, "bits 32\nmov al, 300\ndb 7\n").unwrap();
    let bin = dir.join("wide.bin");
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("asm")
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .output()
        .expect("vmlab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:1: warning: byte data exceeds bounds",
            src.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&bin).unwrap(), [0xb0, 300u32 as u8, 7]);
    let _ = std::fs::remove_dir_all(&dir);
}
