//! `vmlab run --nic virtio`: the virtio-net guest (`guests/net/virtio_net.asm`) ARPs for
//! and pings the endpoint stub, and `tcpdump -r` reads the `--nic-pcap` capture.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_guest_pings_the_stub_and_the_capture_shows_it() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-nic-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let guests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests");
    let bin = dir.join("virtio_net.bin");
    let vmlab = env!("CARGO_BIN_EXE_vmlab");
    let st = Command::new(vmlab)
        .arg("asm")
        .arg(guests.join("net/virtio_net.asm"))
        .arg("-I")
        .arg(guests.join("include"))
        .arg("-I")
        .arg(guests.join("disk"))
        .arg("-o")
        .arg(&bin)
        .status()
        .expect("vmlab asm");
    assert!(st.success());
    let pcap = dir.join("link.pcap");
    let out = Command::new(vmlab)
        .args(["run", "--flat", "0x10000"])
        .arg(&bin)
        .args(["--entry", "pm32", "--nic", "virtio", "--nic-pcap"])
        .arg(&pcap)
        .args(["--mode", "trap-emulate", "--json"])
        .output()
        .expect("vmlab run");
    let console = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(console.contains("ping reply from 10.0.0.1"), "{console}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(r["exit_status"], 0, "{r}");
    let nic = &r["nic"];
    assert_eq!(
        nic["transport"], "legacy",
        "the driver uses I/O BAR 0: {nic}"
    );
    assert_eq!(
        (
            &nic["frames_sent"],
            &nic["frames_received"],
            &nic["stub_answers"]
        ),
        (&2.into(), &2.into(), &2.into()),
        "{nic}"
    );
    let dump = Command::new("tcpdump")
        .arg("-r")
        .arg(&pcap)
        .args(["-nn", "-e"])
        .output()
        .expect("tcpdump must be installed (cargo xtask test installs it)");
    let text = String::from_utf8_lossy(&dump.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (line, want) in lines.iter().zip([
        "Request who-has 10.0.0.1 tell 10.0.0.2",
        "Reply 10.0.0.1 is-at 02:00:00:00:00:01",
        "10.0.0.2 > 10.0.0.1: ICMP echo request, id 4660, seq 1",
        "10.0.0.1 > 10.0.0.2: ICMP echo reply, id 4660, seq 1",
    ]) {
        assert!(line.contains(want), "{line}\nwanted {want}");
    }
}
