//! `vmlab net` with real machines: two copies of the virtio-net peer guest
//! (`guests/net/peer.asm`) ping each other through a learning bridge, `tcpdump -r`
//! reads the ARP and ICMP exchange from the switch port's pcap, a flow that drops ICMP
//! stops the pings and counts them, and a VXLAN overlay carries the guests' frames
//! between two hosts inside UDP.

mod common;
mod net_common;

use std::path::{Path, PathBuf};

use common::vmlab;
use net_common::{assert_pinged, vm};
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    net_common::scratch("net-vms", name)
}

/// Runs `net/scenarios/NAME` with a capture of `port` into `dir`: the JSON report and
/// what `tcpdump -r -nn -e` prints of the capture.
fn run(name: &str, port: &str, dir: &Path) -> (Value, String) {
    let s = common::scenario("net/scenarios", name);
    let pcap = dir.join("port.pcap");
    let (code, out, err) = vmlab(&[
        "net",
        s.to_str().expect("utf-8"),
        "--json",
        "--pcap",
        &format!("{port}={}", pcap.display()),
    ]);
    assert_eq!(code, 0, "{err}\n{out}");
    let j: Value = serde_json::from_str(&out).expect("JSON");
    (j, net_common::tcpdump(&pcap))
}

#[test]
fn two_machines_ping_each_other_through_the_bridge() {
    let dir = scratch("ping");
    let (j, dump) = run("vm-ping.toml", "sw0:0", &dir);
    for (name, mode, me, peer) in [("a", "bare", 1, 2), ("b", "trap-emulate", 2, 1)] {
        let v = vm(&j, name);
        assert_eq!(v["mode"], mode);
        assert_pinged(v, &format!("10.0.0.{me}"), &format!("10.0.0.{peer}"));
        assert_eq!(
            (v["sent"].as_u64(), v["received"].as_u64()),
            (Some(10), Some(10))
        );
    }
    // The bridge learnt both machines' MACs on their ports.
    let macs = &j["switches"][0]["mac_table"];
    assert_eq!(macs[0]["mac"], "52:54:00:00:00:0a");
    assert_eq!(macs[0]["port"], 0);
    assert_eq!(macs[1]["mac"], "52:54:00:00:00:0b");
    assert_eq!(macs[1]["port"], 1);
    // tcpdump reads the whole exchange on a's port.
    for (what, n) in [
        ("Request who-has 10.0.0.2 tell 10.0.0.1", 1),
        ("Request who-has 10.0.0.1 tell 10.0.0.2", 1),
        ("Reply 10.0.0.1 is-at 52:54:00:00:00:0a", 1),
        ("Reply 10.0.0.2 is-at 52:54:00:00:00:0b", 1),
        ("10.0.0.1 > 10.0.0.2: ICMP echo request", 4),
        ("10.0.0.2 > 10.0.0.1: ICMP echo reply", 4),
        ("10.0.0.2 > 10.0.0.1: ICMP echo request", 4),
        ("10.0.0.1 > 10.0.0.2: ICMP echo reply", 4),
    ] {
        assert_eq!(dump.matches(what).count(), n, "{what}:\n{dump}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flow_that_drops_icmp_stops_the_pings_and_counts_them() {
    let dir = scratch("drop");
    let (j, dump) = run("vm-drop-icmp.toml", "sw0:0", &dir);
    for name in ["a", "b"] {
        let v = vm(&j, name);
        assert_eq!(v["debug_exit_value"], 1, "a lost ping fails the guest: {v}");
        let serial = v["serial"].as_str().unwrap_or("");
        assert!(serial.ends_with("4 sent, 1 answered\n"), "{serial}");
    }
    // Pings 2 to 4 of each machine met the flow.
    let flow = &j["switches"][0]["flows"][0];
    assert_eq!(flow["actions"][0], "drop");
    assert_eq!(flow["packets"], 6, "{flow}");
    // a's port saw its three lost requests go in and nothing come back for them.
    assert_eq!(
        dump.matches("10.0.0.1 > 10.0.0.2: ICMP echo request")
            .count(),
        4
    );
    assert_eq!(
        dump.matches("10.0.0.2 > 10.0.0.1: ICMP echo reply").count(),
        1
    );
    assert_eq!(
        dump.matches("10.0.0.2 > 10.0.0.1: ICMP echo request")
            .count(),
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_overlay_carries_the_machines_frames_inside_vxlan() {
    let dir = scratch("overlay");
    let (j, dump) = run("vm-overlay.toml", "vtep1:1", &dir);
    for name in ["a", "b"] {
        let v = vm(&j, name);
        assert_eq!(v["debug_exit_value"], 0, "{v}");
    }
    assert_eq!(vm(&j, "b")["mode"], "hw-assist");
    // Every guest frame crossed the underlay once, inside UDP to port 4789, VNI 42.
    let outer = dump.matches("> 192.168.0.2.4789: VXLAN").count()
        + dump.matches("> 192.168.0.1.4789: VXLAN").count();
    assert_eq!(outer, 20, "{dump}");
    assert_eq!(dump.matches("vni 42").count(), 20);
    assert_eq!(dump.matches("ICMP echo request").count(), 8);
    assert_eq!(dump.matches("ICMP echo reply").count(), 8);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_machine_is_refused_with_its_line_and_key() {
    let dir = scratch("bad");
    let text = std::fs::read_to_string(common::scenario("net/scenarios", "vm-ping.toml"))
        .expect("scenario");
    let guests = common::scenario("guests", "net");
    // The guest path is relative to the scenario file: point it at the real guest.
    let text = text.replace("../../guests/net", guests.to_str().expect("utf-8"));
    for (from, to, want) in [
        (
            "mode = \"trap-emulate\"",
            "mode = \"turbo\"",
            "vm[1].mode: ",
        ),
        (
            "defines = [\"ME=1\", \"PEER=2\"]",
            "defines = [\"ME=1\", \"PEER=2\", \"COUNT=\"]",
            "vm[0].guest: ",
        ),
        (
            "peer.asm\"\ndefines = [\"ME=2\"",
            "nowhere.asm\"\ndefines = [\"ME=2\"",
            "vm[1].guest: cannot read",
        ),
        (
            "mac = \"52:54:00:00:00:0a\"",
            "mac = \"52:54:00\"",
            "vm[0].mac",
        ),
        (
            "mode = \"trap-emulate\"",
            "mode = \"trap-emulate\"\nnic = \"rtl8139\"",
            "vm[1].nic: \"rtl8139\"",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = dir.join("bad.toml");
        let changed = text.replace(from, to);
        std::fs::write(&bad, &changed).expect("write");
        let (code, _, err) = vmlab(&["net", bad.to_str().expect("utf-8")]);
        assert_eq!(code, 2, "{to}: {err}");
        assert!(err.contains(want), "{to}: {err}");
        assert!(err.contains(&format!("{}:", bad.display())), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_virtio_machine_and_an_ne2000_machine_ping_each_other() {
    let dir = scratch("ne2000");
    let (j, dump) = run("vm-ping-ne2000.toml", "sw0:0", &dir);
    for name in ["a", "b"] {
        let v = vm(&j, name);
        assert_eq!(v["debug_exit_value"], 0, "{v}");
        let serial = v["serial"].as_str().unwrap_or("");
        assert!(serial.ends_with("4 sent, 4 answered\n"), "{serial}");
    }
    assert_eq!(
        dump.matches("10.0.0.2 > 10.0.0.1: ICMP echo reply").count(),
        4,
        "{dump}"
    );
    // The NE2000 pads its 42-byte ARP frames to the 60-byte minimum.
    assert!(
        dump.contains("52:54:00:00:00:0b > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60"),
        "{dump}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
