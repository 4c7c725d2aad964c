//! Scenario files: mistakes are refused with the file, line and key they are at.

use vmlab_net::scenario_file::parse;

const GOOD: &str = include_str!("../scenarios/drop-icmp.toml");

fn error_of(text: &str) -> String {
    match parse("s.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_shipped_scenario_parses() {
    for f in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios")).expect("dir") {
        let p = f.expect("entry").path();
        let text = std::fs::read_to_string(&p).expect("read");
        parse(&p.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_bad_mac_names_line_and_key() {
    let text = GOOD.replace("mac = \"02:00:00:00:00:0b\"", "mac = \"02:00:00:00:0b\"");
    let line = text
        .lines()
        .position(|l| l.contains("02:00:00:00:0b\""))
        .expect("line")
        + 1;
    assert_eq!(
        error_of(&text),
        format!("s.toml:{line}: endpoint[1].mac: \"02:00:00:00:0b\" is not a MAC address (aa:bb:cc:dd:ee:ff)")
    );
}

#[test]
fn a_link_to_a_missing_port_names_line_and_key() {
    let text = GOOD.replace("b = \"sw0:1\"", "b = \"sw0:7\"");
    let line = text
        .lines()
        .position(|l| l.contains("sw0:7"))
        .expect("line")
        + 1;
    let e = error_of(&text);
    assert!(
        e.starts_with(&format!(
            "s.toml:{line}: link[1].b: \"sw0:7\": sw0 (switch) has ports 0..1"
        )),
        "{e}"
    );
}

#[test]
fn a_bad_action_and_an_unknown_key_are_located() {
    let text = GOOD.replace("actions = [\"drop\"]", "actions = [\"dorp\"]");
    let line = text.lines().position(|l| l.contains("dorp")).expect("line") + 1;
    assert!(error_of(&text).starts_with(&format!(
        "s.toml:{line}: flow[0].actions: \"dorp\" is not an action"
    )));
    let text = GOOD.replace("ports = 2", "ports = 2\ncolour = \"red\"");
    let line = text
        .lines()
        .position(|l| l.contains("colour"))
        .expect("line")
        + 1;
    let e = error_of(&text);
    assert!(
        e.starts_with(&format!("s.toml:{line}: unknown field `colour`")),
        "{e}"
    );
    let e = error_of(&GOOD.replace("ticks = 20", "ticks = 1000000"));
    assert!(e.contains(": run.ticks: at most 100000 ticks"), "{e}");
}

/// SplitMix64, so the mutations are the same on every run.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn mutated_scenarios_are_refused_or_run_without_panicking() {
    let texts = [
        GOOD,
        include_str!("../scenarios/vxlan-overlay.toml"),
        include_str!("../scenarios/nat-outside.toml"),
    ];
    let pieces = [
        "0",
        "65535",
        "-1",
        "\"x\"",
        "\"sw0:99\"",
        "\"a\"",
        "=",
        "[",
        "]",
        "{",
        "\n",
        "ü",
        "99999999999",
        "\"ff:ff:ff:ff:ff:ff\"",
        "\"10.0.0.0/40\"",
    ];
    let mut seed = 5;
    let (mut refused, mut ran) = (0, 0);
    for round in 0..1500 {
        let base = texts[round % texts.len()];
        let mut text = base.to_string();
        for _ in 0..1 + next(&mut seed) % 3 {
            let mut at = (next(&mut seed) as usize) % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let cut = ((next(&mut seed) % 6) as usize).min(text.len() - at);
            let mut end = at + cut;
            while !text.is_char_boundary(end) {
                end += 1;
            }
            let piece = pieces[(next(&mut seed) as usize) % pieces.len()];
            text.replace_range(at..end, piece);
        }
        match parse("m.toml", &text) {
            Err(e) => {
                refused += 1;
                assert!(e.line >= 1 && e.line <= text.lines().count().max(1), "{e}");
            }
            Ok(s) => {
                ran += 1;
                let out = s.run().expect("a parsed scenario builds");
                assert!(out.network.now() <= s.ticks);
            }
        }
    }
    assert!(refused > 100 && ran > 100, "refused {refused}, ran {ran}");
}
