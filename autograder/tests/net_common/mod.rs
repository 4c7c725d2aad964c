//! What the tests of networks with machines share: a scratch folder, `tcpdump -r` of a capture, and a machine's entry in a report's `vms`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A fresh folder `vmlab-TEST-NAME-PID` under the target's scratch space.
pub fn scratch(test: &str, name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-{test}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

/// What `tcpdump -r -nn -e` prints of `pcap` (it must read it without error).
pub fn tcpdump(pcap: &Path) -> String {
    let td = Command::new("tcpdump")
        .arg("-r")
        .arg(pcap)
        .args(["-nn", "-e"])
        .output()
        .expect("tcpdump is installed");
    assert!(
        td.status.success(),
        "{}",
        String::from_utf8_lossy(&td.stderr)
    );
    String::from_utf8_lossy(&td.stdout).into_owned()
}

/// The entry of the machine `name` in `j["vms"]`.
pub fn vm<'a>(j: &'a Value, name: &str) -> &'a Value {
    j["vms"]
        .as_array()
        .and_then(|v| v.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no vm {name}: {j}"))
}

/// Checks that the peer guest of machine `v` (an entry of a report's `vms`) pinged
/// `peer` as `me` four times, all answered, and left through the debug-exit port
/// with 0.
pub fn assert_pinged(v: &Value, me: &str, peer: &str) {
    assert_eq!(v["stop"], "debug-exit", "{v}");
    assert_eq!(v["debug_exit_value"], 0, "{v}");
    let serial = v["serial"].as_str().unwrap_or("");
    assert!(serial.contains(&format!("{me} pings {peer}\n")), "{serial}");
    assert!(serial.ends_with("4 sent, 4 answered\n"), "{serial}");
}
