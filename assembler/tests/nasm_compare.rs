//! Byte-for-byte comparison with `nasm -f bin` over the corpus and the project's guests.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("assembler/ has a parent")
        .to_path_buf()
}

/// The shared guest includes (`%include "pc.inc"`), searched after the source's folder.
fn shared_includes() -> PathBuf {
    workspace_root().join("guests/include")
}

/// Runs nasm on `path` and returns its output. Panics (fails the test) if nasm is missing.
fn nasm(path: &Path, defines: &[&str]) -> Result<Vec<u8>, String> {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("nasm-out");
    std::fs::create_dir_all(&out_dir).expect("create nasm output dir");
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
    let out = out_dir.join(format!(
        "{stem}-{}.bin",
        defines.join("_").replace(['=', '/'], "_")
    ));
    let mut cmd = Command::new("nasm");
    cmd.arg("-f").arg("bin");
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    cmd.arg("-I").arg(path.parent().unwrap_or(Path::new(".")));
    cmd.arg("-I").arg(shared_includes());
    cmd.arg("-o").arg(&out).arg(path);
    let result = match cmd.output() {
        Ok(r) => r,
        Err(e) => panic!(
            "cannot run nasm ({e}): the assembler's corpus test compares against NASM; install it \
             (apt-get install nasm, or `cargo xtask test`, which installs it in CI)"
        ),
    };
    if !result.status.success() {
        return Err(String::from_utf8_lossy(&result.stderr).into_owned());
    }
    std::fs::read(&out).map_err(|e| format!("reading nasm output: {e}"))
}

fn ours(path: &Path, defines: &[&str]) -> Result<Vec<u8>, String> {
    let src = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let include = move |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .or_else(|_| std::fs::read_to_string(shared_includes().join(name)))
            .ok()
    };
    let opts = vmlab_asm::Options {
        defines: defines.iter().map(|d| vmlab_asm::parse_define(d)).collect(),
        include: Some(&include),
        ..Default::default()
    };
    vmlab_asm::assemble(&path.display().to_string(), &src, &opts)
        .map(|o| o.bytes)
        .map_err(|e| e.to_string())
}

/// Explains the first difference with the source line that produced it.
fn compare(path: &Path, defines: &[&str]) -> Result<(), String> {
    let want = nasm(path, defines).map_err(|e| format!("{}: nasm failed: {e}", path.display()))?;
    let got =
        ours(path, defines).map_err(|e| format!("{}: vmlab-asm failed:\n{e}", path.display()))?;
    if want == got {
        return Ok(());
    }
    let at = want
        .iter()
        .zip(&got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let src = std::fs::read_to_string(path).unwrap_or_default();
    let opts = vmlab_asm::Options::default();
    let line = vmlab_asm::assemble("x", &src, &opts)
        .ok()
        .and_then(|o| {
            o.listing
                .iter()
                .find(|l| (l.offset..l.offset + l.length).contains(&(at as u32)))
                .map(|l| l.line)
        })
        .map(|n| {
            format!(
                "line {n}: {}",
                src.lines().nth(n as usize - 1).unwrap_or("").trim()
            )
        })
        .unwrap_or_default();
    let w = &want[at.min(want.len())..(at + 8).min(want.len())];
    let g = &got[at.min(got.len())..(at + 8).min(got.len())];
    Err(format!(
        "{}: differs from nasm at offset {at:#x} ({line}); nasm {w:02x?}, ours {g:02x?} (sizes {} vs {})",
        path.display(),
        want.len(),
        got.len()
    ))
}

#[test]
fn bench_mix_with_iter_10_is_identical_to_nasm() {
    let path = workspace_root().join("guests/bench/mix.asm");
    compare(&path, &["ITER=10"]).unwrap();
}

#[test]
fn corpus_is_identical_to_nasm() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "asm"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the corpus is missing");
    let failures: Vec<String> = files.iter().filter_map(|f| compare(f, &[]).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus files differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_guest_demo_and_lab_source_in_the_repository_is_identical_to_nasm() {
    let mut stack = vec![
        workspace_root().join("guests"),
        workspace_root().join("demos"),
        workspace_root().join("assignments"),
    ];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "asm") {
                files.push(p);
            }
        }
    }
    assert!(!files.is_empty(), "no guest sources found");
    let failures: Vec<String> = files.iter().filter_map(|f| compare(f, &[]).err()).collect();
    assert!(
        failures.is_empty(),
        "{} guests differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
