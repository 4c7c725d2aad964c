//! Scenario files: the shipped ones load and run, mistakes are reported with file, line and key, and mangled files never panic.

use vmlab_host::scenario_file::{parse, FileError};

const FILES: [(&str, &str); 3] = [
    (
        "esx-memory.toml",
        include_str!("../scenarios/esx-memory.toml"),
    ),
    (
        "balloon-vs-swap.toml",
        include_str!("../scenarios/balloon-vs-swap.toml"),
    ),
    (
        "credit-time.toml",
        include_str!("../scenarios/credit-time.toml"),
    ),
];

#[test]
fn the_shipped_scenarios_load() {
    for (name, text) in FILES {
        let s = parse(name, text).unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.vms.is_empty(), "{name}");
    }
}

#[test]
fn the_credit_scenario_runs_to_a_report_with_tables() {
    let s = parse("credit-time.toml", FILES[2].1).unwrap();
    let (_, report) = s.run().unwrap();
    let text = vmlab_host::scenario_file::report_text(&report);
    for needle in ["memory (MiB)", "cpu", "timeline", "heavy", "capped"] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    let json = vmlab_host::scenario_file::report_json(&report);
    assert_eq!(json["vms"].as_array().map(Vec::len), Some(3));
    let heavy = json["vms"][0]["cpu"]["share_permille"].as_u64().unwrap();
    let light = json["vms"][1]["cpu"]["share_permille"].as_u64().unwrap();
    assert!(heavy > light, "weight 512 ran more than weight 256");
}

fn error(text: &str) -> FileError {
    match parse("bad.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

const HOST: &str = "[host]\npool_mib = 16\nduration_ms = 10\n";
const VM: &str = "\n[[vm]]\nname = \"a\"\nram_mib = 4\n";

#[test]
fn mistakes_are_located() {
    let cases: [(String, usize, &str, &str); 9] = [
        (format!("{HOST}{VM}ram_mib = 5\n"), 0, "", "duplicate key"),
        (HOST.to_string(), 1, "host", "no [[vm]]"),
        (
            format!("[host]\npool_mib = 0\nduration_ms = 10\n{VM}"),
            2,
            "host.pool_mib",
            "between 1 and",
        ),
        (
            format!("{HOST}time = \"sideways\"\n{VM}"),
            4,
            "host.time",
            "unknown policy",
        ),
        (
            format!("{HOST}{VM}mode = \"bare\"\n"),
            8,
            "vm[0].mode",
            "no VMM",
        ),
        (format!("{HOST}{VM}{VM}"), 10, "vm[1].name", "comes before"),
        (
            format!("{HOST}{VM}shared_pages = 900\n"),
            8,
            "vm[0].shared_pages",
            "holds at most",
        ),
        (
            format!("{HOST}{VM}\n[[event]]\nat_ms = 5\nvm = \"z\"\naction = \"pause\"\n"),
            11,
            "event[0].vm",
            "no [[vm]]",
        ),
        (
            format!("{HOST}{VM}\n[[event]]\nat_ms = 5\nvm = \"a\"\naction = \"balloon\"\n"),
            9,
            "event[0].mib",
            "needs mib",
        ),
    ];
    for (text, line, key, message) in cases {
        let e = error(&text);
        assert!(e.message.contains(message), "{e} (wanted {message})");
        assert_eq!(e.key, key, "{e}");
        if line > 0 {
            assert_eq!(e.line, line, "{e}\n{text}");
        }
        assert!(e.to_string().starts_with("bad.toml:"), "{e}");
    }
}

#[test]
fn mangled_scenario_files_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut loaded = 0;
    for round in 0..600 {
        let (_, text) = FILES[round % FILES.len()];
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..1 + next() % 4 {
            if bytes.is_empty() {
                break;
            }
            let at = (next() as usize) % bytes.len();
            match next() % 4 {
                0 => bytes[at] = b"0123456789=[]\"x-.\n"[(next() % 18) as usize],
                1 => {
                    bytes.remove(at);
                }
                2 => bytes.insert(at, b'9'),
                _ => bytes.truncate(at),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(mut s) = parse("fuzz.toml", &text) {
            loaded += 1;
            s.duration_ms = 1;
            s.events.retain(|e| e.at_ms <= 1);
            let _ = s.run();
        }
    }
    assert!(loaded > 0, "some mangled files still load and run");
}
