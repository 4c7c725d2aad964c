//! `vmlab jvm`: javac-compiled test programs print what `java` prints on the same
//! classes, in text and `--json`, under both collectors; `--trace` shows the
//! bytecodes; a missing class is a JSON error; `--jit-threshold` compiles the loops
//! to x86, reports its counts and events in the JSON and traces them; `--step-compiled`
//! steps the first compiled code and runs on.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The compiled test programs (compiled once per test binary).
fn classes() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("vmlab-jvm-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../jvm/java");
        let st = Command::new("javac")
            .arg("-d")
            .arg(&out)
            .arg(src.join("Exceptions.java"))
            .arg(src.join("Garbage.java"))
            .arg(src.join("Loops.java"))
            .status()
            .expect("javac runs (cargo xtask test installs openjdk-17-jdk-headless)");
        assert!(st.success());
        out
    })
    .clone()
}

fn run(cmd: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .expect("the command runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn text_and_json_match_java() {
    let dir = classes();
    let d = dir.to_str().unwrap();
    let vmlab = env!("CARGO_BIN_EXE_vmlab");
    for main in ["Exceptions", "Garbage"] {
        let (jcode, jout, jerr) = run("java", &["-cp", d, main]);
        for gc in ["mark-sweep", "copying"] {
            let (code, out, err) = run(vmlab, &["jvm", d, main, "--gc", gc, "--heap", "48K"]);
            assert_eq!(out, jout, "{main} --gc {gc}");
            assert_eq!(code, jcode, "{main} --gc {gc}: {err}");
            assert_eq!(
                err.lines().next(),
                jerr.lines().next(),
                "{main}: the uncaught exception line"
            );

            let (code, out, err) = run(
                vmlab,
                &["jvm", d, main, "--gc", gc, "--heap", "48K", "--json"],
            );
            assert_eq!(code, jcode, "{err}");
            let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
            assert_eq!(j["ok"], true);
            assert_eq!(j["stdout"], jout.as_str());
            assert_eq!(j["gc"]["collector"], gc);
            assert!(j["bytecodes"].as_u64().unwrap() > 100, "{j}");
            if main == "Garbage" {
                assert_eq!(j["outcome"], "finished");
                let (_, out, _) = run(
                    vmlab,
                    &[
                        "jvm",
                        d,
                        main,
                        "--gc",
                        gc,
                        "--heap",
                        "48K",
                        "--json",
                        "--heap-view",
                    ],
                );
                let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
                let objects = v["heap"]["objects"].as_array().expect("the heap's objects");
                let trees = objects.iter().filter(|o| o["class"] == "Tree").count();
                assert_eq!(trees, 200, "the 200 kept tree nodes are in the heap");
                let moved = objects
                    .iter()
                    .filter(|o| !o["moved_from"].is_null())
                    .count();
                assert_eq!(moved > 0, gc == "copying", "moved objects under {gc}");
                assert!(j["gc"]["stats"]["collections"].as_u64().unwrap() > 0, "{j}");
                assert!(j["gc"]["stats"]["bytes_reclaimed"].as_u64().unwrap() > 0);
            } else {
                assert_eq!(j["outcome"], "uncaught-exception");
                assert_eq!(j["uncaught"], jerr.lines().next().unwrap());
            }
        }
    }
}

#[test]
fn trace_and_errors() {
    let dir = classes();
    let d = dir.to_str().unwrap();
    let vmlab = env!("CARGO_BIN_EXE_vmlab");
    let (code, _, err) = run(
        vmlab,
        &["jvm", d, "Exceptions", "--trace", "--budget", "200"],
    );
    assert_eq!(code, 124, "the budget ran out: {err}");
    assert!(
        err.contains("Exceptions.main([Ljava/lang/String;)V pc    0"),
        "{err}"
    );
    assert!(err.contains("invokestatic"), "{err}");
    assert_eq!(err.lines().filter(|l| l.contains(" pc ")).count(), 200);

    let (code, out, _) = run(vmlab, &["jvm", d, "NoSuchClass", "--json"]);
    assert_eq!(code, 2);
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["ok"], false);
    assert!(j["error"]["message"]
        .as_str()
        .unwrap()
        .contains("NoSuchClass"));

    let bad = dir.join("Broken.class");
    std::fs::write(&bad, b"\xCA\xFE\xBA\xBE\x00\x00").unwrap();
    let (code, _, err) = run(vmlab, &["jvm", d, "Broken"]);
    assert_eq!(code, 2);
    assert!(err.contains("Broken.class: offset 6"), "{err}");
}

#[test]
fn jit_counts_events_and_regions() {
    let dir = classes();
    let d = dir.to_str().unwrap();
    let vmlab = env!("CARGO_BIN_EXE_vmlab");
    let (_, jout, _) = run("java", &["-cp", d, "Loops"]);
    let report = |threshold: &str| {
        let (code, out, err) = run(
            vmlab,
            &[
                "jvm",
                d,
                "Loops",
                "--jit-threshold",
                threshold,
                "--json",
                "--jit-view",
            ],
        );
        assert_eq!(code, 0, "{err}");
        let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(j["stdout"], jout.as_str(), "threshold {threshold}");
        j
    };
    let off = report("0");
    assert_eq!(off["jit"]["x86_instructions"], 0);
    let on = report("2");
    let jit = &on["jit"];
    assert!(
        jit["x86_instructions"].as_u64().unwrap() > 1_000_000,
        "{jit}"
    );
    assert!(
        on["bytecodes"].as_u64().unwrap() * 10 < off["bytecodes"].as_u64().unwrap(),
        "compiled code ran most of the bytecodes"
    );
    let events = jit["events"].as_array().unwrap();
    assert!(events
        .iter()
        .any(|e| e["kind"] == "compile" && e["method"] == "Loops.sumTo(I)I" && e["pc"] == 4));
    assert!(events
        .iter()
        .any(|e| e["kind"] == "deopt" && e["method"] == "Loops.divide(II)I" && e["pc"] == 2));
    let regions = jit["compiled"].as_array().unwrap();
    assert!(regions.iter().any(|r| r["method"] == "Loops.gcd(II)I"
        && r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["bytecode"].as_str().unwrap().contains("irem"))));

    let (code, _, err) = run(
        vmlab,
        &[
            "jvm",
            d,
            "Loops",
            "--jit-threshold",
            "3",
            "--trace",
            "--budget",
            "5000",
        ],
    );
    assert_eq!(code, 124, "the budget runs out");
    assert!(
        err.contains("jit: compile Loops.sumTo(I)I pc 4"),
        "the trace shows the compile: {}",
        err.lines()
            .filter(|l| l.starts_with("jit"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn step_compiled_steps_the_first_compiled_code_and_runs_on() {
    let dir = classes();
    let d = dir.to_str().unwrap();
    let vmlab = env!("CARGO_BIN_EXE_vmlab");
    let (_, jout, _) = run("java", &["-cp", d, "Loops"]);
    let step = |extra: &[&str]| {
        let base = [
            "jvm",
            d,
            "Loops",
            "--jit-threshold",
            "50",
            "--step-compiled",
        ];
        run(vmlab, &[&base[..], extra].concat())
    };
    let (code, out, err) = step(&["40", "--json", "--jit-view"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["stdout"].as_str(), Some(jout.as_str()), "runs on as java");
    let s = &v["jit"]["stepped"];
    let method = s["method"].as_str().unwrap_or_default();
    assert!(method.starts_with("Loops.sumTo"), "{s}");
    let steps = s["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 40);
    let region = &v["jit"]["compiled"][0];
    let base = region["base"].as_u64().unwrap();
    let end = base + region["code_bytes"].as_u64().unwrap();
    let mut pcs = Vec::new();
    for st in steps {
        let a = st["addr"].as_u64().unwrap();
        assert!((base..end).contains(&a), "{st} outside {base:#x}..{end:#x}");
        assert!(!st["text"].as_str().unwrap().contains("outside"), "{st}");
        pcs.push(st["bytecode_pcs"][0].as_u64().unwrap());
    }
    // The loop: the entry pc's x86 runs again after the back edge.
    let entry = s["pc"].as_u64().unwrap();
    assert!(pcs.iter().filter(|&&p| p <= entry).count() >= 2, "{pcs:?}");
    let (code, _, err) = step(&["3"]);
    assert_eq!(code, 0);
    assert!(err.contains("compiled Loops.sumTo"), "{err}");
    let lines = err.lines().filter(|l| l.starts_with("  ")).count();
    assert_eq!(lines, 3, "{err}");
}
