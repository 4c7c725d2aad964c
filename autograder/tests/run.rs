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
    vmlab_sub("run", args)
}

/// Runs `vmlab SUBCOMMAND ARGS…`.
fn vmlab_sub(sub: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg(sub)
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

fn vmlab_translate(args: &[&str]) -> Output {
    vmlab_sub("translate", args)
}

/// Every `--tier` ends the mix ROM with the same registers and instruction count; the
/// translating tier retires most of them in regions.
#[test]
fn every_tier_gives_the_same_report() {
    let rom = assemble("bench/mix.asm", &[("ITER", "1")]);
    let report = |tier: &str| {
        let out = vmlab(&["--rom", rom.to_str().unwrap(), "--json", "--tier", tier]);
        assert_eq!(out.status.code(), Some(0), "{tier}: {}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (interp, fast, translate) = (report("interp"), report("fast"), report("translate"));
    for key in ["instructions", "host", "stop", "post_writes", "exit_status"] {
        assert!(!interp[key].is_null(), "{key} is in the report");
        assert_eq!(interp[key], fast[key], "{key}");
        assert_eq!(interp[key], translate[key], "{key}");
    }
    let share = translate["translate"]["share"].as_f64().unwrap();
    assert!(share > 0.3, "regions retired a share of {share}");
    assert!(interp.get("translate").is_none());
}

/// `vmlab translate` lists the regions with their x86 and their IR before and after
/// the passes, which never grow a region; `--region` picks one.
#[test]
fn translate_prints_regions_and_their_ir() {
    let rom = assemble("bench/mix.asm", &[("ITER", "1")]);
    let rom = rom.to_str().unwrap();
    let out = vmlab_translate(&["--rom", rom, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let regions = v["regions"].as_array().unwrap();
    assert!(regions.len() >= 3, "{v}");
    let mut shrunk = 0;
    for r in regions {
        let (before, after) = (
            r["ops_before"].as_u64().unwrap(),
            r["ops_after"].as_u64().unwrap(),
        );
        assert!(after <= before, "{r}");
        shrunk += (after < before) as u32;
        assert!(r["wasm_bytes"].as_u64().unwrap() > 40, "{r}");
        let wasm = r["wasm"].as_array().unwrap();
        // wasmprinter's text of the whole module: its imports, its function, its export.
        assert_eq!(
            wasm.first().and_then(|l| l.as_str()),
            Some("(module"),
            "{r}"
        );
        assert_eq!(wasm.last().and_then(|l| l.as_str()), Some(")"), "{r}");
        let has = |s: &str| {
            wasm.iter()
                .any(|l| l.as_str().is_some_and(|l| l.contains(s)))
        };
        assert!(has("(func "), "{r}");
        assert!(has("(import \"env\" \"memory\""), "{r}");
        assert!(has("(export \"run\""), "{r}");
        assert!(
            wasm.iter().any(|l| l
                .as_str()
                .is_some_and(|l| l.trim().starts_with("local.get "))),
            "{r}"
        );
        assert_eq!(
            r["x86"].as_array().unwrap().len() as u64,
            r["instructions"].as_u64().unwrap(),
            "{r}"
        );
    }
    assert!(shrunk >= 1, "no region got smaller: {v}");
    let entry = regions[0]["entry"].as_str().unwrap().to_string();
    let one = vmlab_translate(&["--rom", rom, "--region", &entry]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    let listing = text(&one.stdout);
    assert_eq!(listing.matches("== region").count(), 1, "{listing}");
    assert!(listing.contains("-- IR after the passes"), "{listing}");
    assert!(listing.contains("-- Wasm module ("), "{listing}");
    assert!(listing.contains("as text\n(module\n"), "{listing}");
    let none = vmlab_translate(&["--rom", rom, "--region", "0x3"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none.stderr).contains("no region was translated at 0x3"));
}
