//! Number-overflow and `%warning` warnings against NASM's: the same sources must give warnings on the
//! same lines with the same words (`byte data exceeds bounds [-w+number-overflow]`), and
//! the same bytes. Repeats on one line (several items, `times`, `%rep`) count once.

use std::path::PathBuf;
use std::process::Command;

/// Sources with values too wide for their field, and ones that fit (NASM allows
/// -2^(8n) to 2^(8n)-1 for data and most immediates, -2^(8n-1) to 2^(8n-1)-1 for a
/// sign-extended byte, and does not check values with labels in them).
const CASES: &[(&str, &str)] = &[
    (
        "user",
        "%warning watch out here\n%if 0\n%warning not this\n%endif\ndb 300\n",
    ),
    (
        "data",
        "db 300\ndb -129\ndb 255\ndb -256\ndb -257\ndw 70000\ndw -65536\ndw -65537\n\
         dd 0x1ffffffff\ndd -0x100000001\ndd 0xffffffff\ndb 1, 300, 2, 400\n\
         times 3 db 256\ndq 0x1ffffffff\n",
    ),
    (
        "immediates",
        "bits 32\nmov al, 300\nmov al, -129\nmov cl, 255\nmov ax, 70000\nadd al, 256\n\
         mov byte [eax], 256\nmov eax, 0x1ffffffff\nmov eax, -0x100000001\nint 300\n\
         in al, 300\nenter 70000, 300\nshl eax, 300\nret 70000\npush word 70000\n\
         push 0x1ffffffff\npush byte 200\nimul eax, ebx, byte 200\nadd eax, byte -129\n\
         add eax, 200\nadd eax, 1\nadd eax, 0x1ffffffff\nadd eax, 0x100000005\n\
         push 0x100000005\nimul eax, ebx, 0x100000005\nadd eax, dword 0x100000005\n\
         and eax, strict dword 0x100000005\nadd ax, word 0x10005\n",
    ),
    (
        "bits16",
        "bits 16\nmov al, 256\nmov ax, 0x10000\nmov ax, -0x10001\nmov ax, 0xffff\n\
         push byte 128\nadd ax, byte -128\nadd ax, 0x1ffff\npush 0x10005\n\
         push word 0x10005\npush dword 0x100000005\n",
    ),
    (
        "labels",
        "bits 32\nx: times 300 db 0\ny: db y\ndb x+300\ndw y+70000\nmov al, y\n\
         k equ 300\ndb k\ndb y-x\n%rep 2\ndb 500\n%endrep\n",
    ),
];

/// NASM's bytes and warnings (line, message) for `source`.
fn nasm(name: &str, source: &str) -> (Vec<u8>, Vec<(u32, String)>) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("nasm-warnings");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let src = dir.join(format!("{name}.asm"));
    let bin = dir.join(format!("{name}.bin"));
    std::fs::write(&src, source).expect("write the source");
    let out = Command::new("nasm")
        .args(["-f", "bin", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("nasm is part of the development image (apt-get install nasm)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nasm failed on {name}: {stderr}");
    let prefix = format!("{}:", src.display());
    let mut warnings: Vec<(u32, String)> = stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (line, msg) = rest.split_once(": warning: ")?;
            Some((line.parse().ok()?, msg.to_string()))
        })
        .collect();
    warnings.dedup();
    (std::fs::read(&bin).expect("nasm output"), warnings)
}

#[test]
fn warnings_match_nasm() {
    for (name, source) in CASES {
        let (bytes, expected) = nasm(name, source);
        let out = vmlab_asm::assemble(name, source, &vmlab_asm::Options::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.bytes, bytes, "{name}: bytes differ from NASM's");
        let mut got: Vec<(u32, String)> = out
            .warnings
            .iter()
            .map(|w| {
                assert_eq!(w.severity, vmlab_asm::Severity::Warning);
                assert_eq!(w.file, *name);
                (w.line, w.message.clone())
            })
            .collect();
        got.dedup();
        assert_eq!(got, expected, "{name}: warnings differ from NASM's");
    }
}

#[test]
fn a_warning_prints_with_its_file_line_and_source() {
    let out = vmlab_asm::assemble("w.asm", "nop\n  db 300\n", &Default::default()).unwrap();
    assert_eq!(out.bytes, [0x90, 44]);
    let [w] = out.warnings.as_slice() else {
        panic!("one warning: {:?}", out.warnings)
    };
    assert_eq!(
        w.to_string(),
        "w.asm:2:6: warning: byte data exceeds bounds [-w+number-overflow]\n  db 300\n     ^"
    );
}
