//! `docs/run-json.md` against real `vmlab run --json` output: every field a report
//! carries is documented with the type it has, and every documented field turns up
//! in one of the reports (bare, trap-and-emulate, hardware-assisted, an error).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The doc's tables: section heading → (field path → type).
fn documented() -> BTreeMap<String, BTreeMap<String, String>> {
    let doc = std::fs::read_to_string(root().join("docs/run-json.md")).expect("docs/run-json.md");
    let mut tables: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = h.trim().to_string();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let Some(path) = cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            continue;
        };
        tables
            .entry(section.clone())
            .or_default()
            .insert(path.to_string(), cells[2].to_string());
    }
    tables
}

/// The report's fields with the register view's expanded under `host`, `guest` and
/// each CPU's `registers`.
fn report_fields(doc: &BTreeMap<String, BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut fields = doc["The report"].clone();
    for (path, ty) in &doc["A register view"] {
        for view in ["host", "guest", "cpus[].registers"] {
            fields.insert(format!("{view}.{path}"), ty.clone());
        }
    }
    fields
}

/// Every path in `v` (objects by key, arrays as `[]`) with its value.
fn flatten<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push((p.clone(), x));
                flatten(&p, x, out);
            }
        }
        Value::Array(a) => {
            // Element fields are `path[].field`.
            for x in a {
                flatten(&format!("{prefix}[]"), x, out);
            }
        }
        _ => {}
    }
}

/// The documented path that `path` matches (`*` matches one key).
fn matching<'a>(fields: &'a BTreeMap<String, String>, path: &str) -> Option<&'a String> {
    let parts: Vec<&str> = path.split('.').collect();
    fields.keys().find(|pattern| {
        let pat: Vec<&str> = pattern.split('.').collect();
        pat.len() == parts.len() && pat.iter().zip(&parts).all(|(p, a)| *p == "*" || p == a)
    })
}

fn has_type(v: &Value, ty: &str) -> bool {
    let (base, nullable) = match ty.strip_suffix(" or null") {
        Some(b) => (b, true),
        None => (ty, false),
    };
    if v.is_null() {
        return nullable;
    }
    let hex = |digits: usize| {
        v.as_str().is_some_and(|s| {
            s.len() == digits + 2
                && s.starts_with("0x")
                && s[2..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    };
    match base {
        "hex32" => hex(8),
        "hex16" => hex(4),
        "integer" => v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        other => panic!("the doc uses an unknown type {other:?}"),
    }
}

fn vmlab(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("vmlab runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: no JSON on stdout ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn rom(src: &str) -> String {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("run-json-doc-{}.rom", src.replace('/', "-")));
    let st = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("asm")
        .arg(root().join("guests").join(src))
        .arg("-I")
        .arg(root().join("guests/include"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("vmlab asm");
    assert!(st.success());
    out.display().to_string()
}

/// Checks `report` against `fields`; returns the documented paths it has.
fn check(report: &Value, fields: &BTreeMap<String, String>, what: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut paths = Vec::new();
    flatten("", report, &mut paths);
    for (path, v) in paths {
        let Some(pattern) = matching(fields, &path) else {
            panic!("{what}: `{path}` is not in docs/run-json.md");
        };
        let ty = &fields[pattern];
        assert!(has_type(v, ty), "{what}: `{path}` = {v} is not {ty}");
        if !v.is_null() {
            seen.push(pattern.clone());
        }
    }
    seen
}

#[test]
fn the_json_report_matches_its_documentation() {
    let doc = documented();
    let fields = report_fields(&doc);
    assert!(fields.len() > 60, "{} fields documented", fields.len());
    let cpu = rom("cputest/cputest.asm");
    let popf = rom("vmm/popf.asm");
    let kernel = rom("kernel/kernel.asm");
    let ata = rom("disk/ata_pio.asm");
    let virtio = rom("disk/virtio_blk.asm");
    let nic = rom("net/virtio_net.asm");
    let pcap = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("run-json-doc-nic.pcap");
    let pcap = pcap.display().to_string();
    let disk = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("run-json-doc-disk.raw");
    std::fs::write(&disk, vec![0u8; 2 << 20]).expect("a scratch disk");
    let disk = format!("{},format=raw", disk.display());
    let mut seen = Vec::new();
    for (what, args) in [
        ("bare", vec!["run", "--rom", &cpu, "--json"]),
        (
            "trap-emulate",
            vec!["run", "--rom", &popf, "--mode", "trap-emulate", "--json"],
        ),
        (
            "hw-assist",
            vec!["run", "--rom", &kernel, "--mode", "hw-assist", "--json"],
        ),
        (
            "disk",
            vec![
                "run", "--flat", "0x10000", &ata, "--entry", "pm32", "--disk", &disk, "--json",
            ],
        ),
        (
            "virtio-disk",
            vec![
                "run",
                "--flat",
                "0x10000",
                &virtio,
                "--entry",
                "pm32",
                "--disk",
                &disk,
                "--disk-if",
                "virtio",
                "--json",
            ],
        ),
        (
            "virtio-net",
            vec![
                "run",
                "--flat",
                "0x10000",
                &nic,
                "--entry",
                "pm32",
                "--nic",
                "virtio",
                "--nic-pcap",
                &pcap,
                "--json",
            ],
        ),
        (
            "translate",
            vec!["run", "--rom", &cpu, "--tier", "translate", "--json"],
        ),
    ] {
        let report = vmlab(&args);
        assert_eq!(report["ok"], true, "{what}");
        assert!(
            report["mode"].is_string(),
            "{what}: mode is always a string"
        );
        seen.extend(check(&report, &fields, what));
    }
    let unseen: Vec<_> = fields.keys().filter(|f| !seen.contains(f)).collect();
    assert!(
        unseen.is_empty(),
        "documented but never in a report: {unseen:?}"
    );

    let error_fields = &doc["The error object"];
    let err = vmlab(&["run", "--flat", "0xFFFFFFFF", &cpu, "--json"]);
    let seen = check(&err, error_fields, "error");
    assert_eq!(seen.len(), error_fields.len(), "{err}");
}
