//! `vmlab run` end to end: guests built by the project's assembler, exit statuses, the JSON report
//! and the refusal of bad files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Assembles `guests/<src>` with the project's assembler into the test scratch
/// directory (one file per test: tests run in parallel).
fn assemble(src: &str, defines: &[(&str, &str)]) -> PathBuf {
    let text = std::fs::read_to_string(root().join("guests").join(src)).expect("guest source");
    let opts = vmlab_asm::Options {
        defines: defines
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect(),
        ..vmlab_asm::Options::default()
    };
    let bytes = match vmlab_asm::assemble(src, &text, &opts) {
        Ok(out) => out.bytes,
        Err(e) => panic!("{src} does not assemble:\n{e}"),
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("main")
        .replace("::", "_");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{test}-{}.bin", src.replace('/', "_")));
    std::fs::write(&out, bytes).unwrap();
    out
}

fn vmlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("run")
        .args(args)
        .output()
        .expect("the vmlab binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cpu_test_rom_exits_through_debug_exit() {
    let rom = assemble("cputest/cputest.asm", &[]);
    let out = vmlab(&["--rom", rom.to_str().unwrap()]);
    // debug-exit(0): success.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let console = text(&out.stdout);
    assert!(console.starts_with("vmlab cputest"), "{console}");
    assert!(console.contains("cputest: all stages passed"), "{console}");
}

#[test]
fn json_report_goes_to_stdout_alone() {
    let rom = assemble("cputest/cputest.asm", &[]);
    let out = vmlab(&["--rom", rom.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("all stages passed"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["stop"], "debug-exit");
    assert_eq!(report["exit_status"], 0);
    assert_eq!(report["debug_exit_value"], 0);
    assert_eq!(report["mode"], "bare");
    let post = report["post_writes"].as_array().unwrap();
    let stages: Vec<u64> = post
        .iter()
        .filter_map(|w| u64::from_str_radix(w["value"].as_str()?.strip_prefix("0x")?, 16).ok())
        .collect();
    assert_eq!(stages, (1..=11).collect::<Vec<u64>>());
    assert!(report["instructions"].as_u64().unwrap() > 1000);
    assert_eq!(
        report["counters"]["instructions"], report["instructions"],
        "counters agree with the instruction count"
    );
    assert!(report["host"]["eax"]
        .as_str()
        .is_some_and(|v| v.starts_with("0x")));
    assert!(
        report["guest"].is_null(),
        "no guest view on the bare machine"
    );
}

#[test]
fn halting_guest_exits_zero_and_budget_gives_124() {
    let rom = assemble("bench/mix.asm", &[("ITER", "1")]);
    let out = vmlab(&["--rom", rom.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let out = vmlab(&["--rom", rom.to_str().unwrap(), "--max-insns", "1000"]);
    assert_eq!(out.status.code(), Some(124));
    assert!(text(&out.stderr).contains("budget-exhausted after 1000"));
}

#[test]
fn multiboot_kernel_gets_its_command_line() {
    let elf = assemble("cputest/multiboot.asm", &[]);
    let out = vmlab(&[
        "--multiboot",
        elf.to_str().unwrap(),
        "--cmdline",
        "hello",
        "--mem",
        "8",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "multiboot: mem_upper=00001c00 cmdline=hello\n"
    );
}

#[test]
fn bad_files_and_options_are_refused_clearly() {
    let out = vmlab(&["--rom", "/nonexistent/rom.bin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/rom.bin"));

    let small = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("small.bin");
    std::fs::write(&small, [0x90u8; 100]).unwrap();
    let out = vmlab(&["--rom", small.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("small.bin"),
        "{}",
        text(&out.stderr)
    );

    let out = vmlab(&["--multiboot", small.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no Multiboot header"));

    let out = vmlab(&["--flat", "0xZZ", small.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad load address"));

    let out = vmlab(&[
        "--rom",
        small.to_str().unwrap(),
        "--mode",
        "bare",
        "--paging",
        "nested",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--paging only applies"));

    let out = vmlab(&[]);
    assert_ne!(out.status.code(), Some(0), "an image is required");

    let empty = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("empty.bin");
    std::fs::write(&empty, []).unwrap();
    let out = vmlab(&["--flat", "0x7c00", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("empty.bin is empty"),
        "{}",
        text(&out.stderr)
    );

    let out = vmlab(&["--flat", "0xFFFFFFFF", small.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("0xffffffff") && err.contains("16 MiB"),
        "{err}"
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error object");
    assert_eq!(j["ok"], false);
    assert!(j["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("0xffffffff")));

    let out = vmlab(&[
        "--rom",
        small.to_str().unwrap(),
        "--mode",
        "bogus",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error object");
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("bogus")),
        "{j}"
    );

    let out = vmlab(&[
        "--flat",
        "0x7c00",
        small.to_str().unwrap(),
        "--max-insns",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--max-insns 0"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn flat_binary_in_real_mode() {
    // mov al, 'k'; mov dx, 0x3f8; out dx, al; mov al, 5; out 0xf4, al
    let prog = [0xb0, b'k', 0xba, 0xf8, 0x03, 0xee, 0xb0, 0x05, 0xe6, 0xf4];
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("flat.bin");
    std::fs::write(&file, prog).unwrap();
    let out = vmlab(&["--flat", "0x7c00", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "debug-exit(5) exits with 5");
    assert_eq!(text(&out.stdout), "k");
}
