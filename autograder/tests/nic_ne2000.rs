//! `vmlab run --nic ne2000`: the NE2000 guest (`guests/net/ne2000.asm`) ARPs for and
//! pings the endpoint stub through the RTL8029's data port, `tcpdump -r` reads the
//! capture, NASM builds the same bytes as `vmlab asm`, and with `-D NIC_IRQ` the guest
//! sleeps until the card's receive interrupt. The same pings on virtio-net take far
//! fewer exits per MiB.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-nic-ne2000-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Builds `guests/net/<guest>.asm` with `defines` by `vmlab asm` and by NASM, checks
/// the bytes are the same, and returns the image.
fn build_guest(dir: &Path, guest: &str, defines: &[&str]) -> PathBuf {
    let guests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests");
    let src = guests.join(format!("net/{guest}.asm"));
    let ours = dir.join(format!("{guest}{}.bin", defines.len()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmlab"));
    cmd.arg("asm")
        .arg(&src)
        .arg("-I")
        .arg(guests.join("include"))
        .arg("-o")
        .arg(&ours);
    let mut nasm = Command::new("nasm");
    let theirs = dir.join(format!("{guest}{}.nasm.bin", defines.len()));
    nasm.args(["-f", "bin", "-I"])
        .arg(format!("{}/", guests.join("include").display()))
        .arg("-o")
        .arg(&theirs)
        .arg(&src);
    for d in defines {
        cmd.args(["-D", d]);
        nasm.args(["-D", d]);
    }
    assert!(cmd.status().expect("vmlab asm").success());
    assert!(nasm.status().expect("nasm must be installed").success());
    let a = std::fs::read(&ours).expect("vmlab asm's image");
    let b = std::fs::read(&theirs).expect("nasm's image");
    assert_eq!(a, b, "vmlab asm and nasm differ on {guest}.asm {defines:?}");
    ours
}

fn build(dir: &Path, defines: &[&str]) -> PathBuf {
    build_guest(dir, "ne2000", defines)
}

/// Runs the image under trap-and-emulate with the card on the stub's link.
fn run(bin: &Path, pcap: &Path) -> (String, serde_json::Value) {
    run_nic(bin, pcap, "ne2000")
}

/// Runs the image under trap-and-emulate with NIC `nic` on the stub's link.
fn run_nic(bin: &Path, pcap: &Path, nic: &str) -> (String, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["run", "--flat", "0x10000"])
        .arg(bin)
        .args(["--entry", "pm32", "--nic", nic, "--nic-pcap"])
        .arg(pcap)
        .args(["--mode", "trap-emulate", "--json"])
        .output()
        .expect("vmlab run");
    let console = String::from_utf8_lossy(&out.stderr).to_string();
    let r = serde_json::from_slice(&out.stdout).expect("a JSON report");
    (console, r)
}

/// `tcpdump -r -nn -e` of `pcap`, line by line.
fn tcpdump(pcap: &Path) -> Vec<String> {
    let dump = Command::new("tcpdump")
        .arg("-r")
        .arg(pcap)
        .args(["-nn", "-e"])
        .output()
        .expect("tcpdump must be installed (cargo xtask test installs it)");
    String::from_utf8_lossy(&dump.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_ne2000_guest_pings_the_stub_and_tcpdump_reads_the_capture() {
    let dir = scratch();
    let bin = build(&dir, &[]);
    let pcap = dir.join("ne2000.pcap");
    let (console, r) = run(&bin, &pcap);
    assert!(console.contains("MAC 525400123456"), "{console}");
    assert!(console.contains("ping reply from 10.0.0.1"), "{console}");
    assert_eq!(r["exit_status"], 0, "{r}");
    let nic = &r["nic"];
    assert_eq!(nic["kind"], "ne2000", "{nic}");
    assert_eq!(nic["transport"], serde_json::Value::Null, "{nic}");
    let counts = ["frames_sent", "frames_received", "stub_answers"].map(|k| &nic[k]);
    assert_eq!(counts, [&serde_json::Value::from(2); 3], "{nic}");
    // Polling the ring: no interrupt unmasked.
    assert_eq!(nic["interrupts"], 0, "{nic}");
    let lines = tcpdump(&pcap);
    let wanted = [
        "52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff, ethertype ARP",
        "Reply 10.0.0.1 is-at 02:00:00:00:00:01",
        "10.0.0.2 > 10.0.0.1: ICMP echo request, id 4660, seq 1",
        "10.0.0.1 > 10.0.0.2: ICMP echo reply, id 4660, seq 1",
    ];
    assert_eq!(lines.len(), wanted.len(), "{lines:#?}");
    for (line, want) in lines.iter().zip(wanted) {
        assert!(line.contains(want), "{line}\nwanted {want}");
    }
    // The card pads the 42-byte ARP request to the 60-byte minimum, as hardware does.
    assert!(lines[0].contains("length 60"), "{}", lines[0]);
}

#[test]
fn with_interrupts_the_guest_sleeps_until_each_frame_arrives() {
    let dir = scratch();
    let bin = build(&dir, &["NIC_IRQ", "PINGS=3", "PAYLOAD=1000"]);
    let pcap = dir.join("ne2000-irq.pcap");
    let (console, r) = run(&bin, &pcap);
    assert_eq!(r["exit_status"], 0, "{console}\n{r}");
    let nic = &r["nic"];
    // One receive interrupt per frame: the ARP reply and three echo replies.
    assert_eq!(
        (&nic["frames_received"], &nic["interrupts"]),
        (&4.into(), &4.into()),
        "{nic}"
    );
    assert_eq!(r["counters"]["irqs"], 4, "{r}");
    assert_eq!(r["vmm"]["exits"]["by_reason"]["hlt"], 4, "{r}");
    // Each 1042-byte echo frame crosses the data port as 521 words each way: at least
    // that many I/O exits per ping, plus the register accesses.
    let io = r["vmm"]["exits"]["by_reason"]["io"]
        .as_u64()
        .expect("io exits");
    assert!(io > 3 * 2 * 521, "{io} I/O exits");
    let text = tcpdump(&pcap).join("\n");
    assert_eq!(text.matches("ICMP echo reply").count(), 3, "{text}");
    assert!(text.contains("seq 3, length 1008"), "{text}");
}

#[test]
fn virtio_net_moves_the_same_frames_with_far_fewer_exits_and_quiet_transmits() {
    let dir = scratch();
    let defines = ["NIC_IRQ", "PINGS=40", "PAYLOAD=1472"];
    let mut per_mib = Vec::new();
    for (guest, nic) in [("ne2000", "ne2000"), ("virtio_net", "virtio")] {
        let bin = build_guest(&dir, guest, &defines);
        let (console, r) = run_nic(&bin, &dir.join(format!("{nic}-40.pcap")), nic);
        assert_eq!(r["exit_status"], 0, "{console}\n{r}");
        let nic = &r["nic"];
        assert_eq!(nic["stub_answers"], 41, "{nic}");
        // One receive interrupt per frame reaches the guest either way.
        assert_eq!(r["counters"]["irqs"], 41, "{r}");
        let mib = nic["bytes_moved"].as_f64().expect("bytes") / f64::from(1 << 20);
        let exits = r["vmm"]["exits"]["total"].as_f64().expect("exits");
        per_mib.push((exits / mib, nic["suppressed_interrupts"].clone()));
    }
    let (ne, vio) = (&per_mib[0], &per_mib[1]);
    // Every word of every NE2000 frame is an exit: 757 words out and in per ping.
    assert!(ne.0 > 20.0 * vio.0, "NE2000 {ne:?}, virtio-net {vio:?}");
    assert!(ne.0 > 500_000.0, "{ne:?}");
    assert_eq!(ne.1, serde_json::Value::Null);
    // The virtio guest asked for no transmit interrupts: one suppressed per frame sent.
    assert_eq!(vio.1, 41, "{vio:?}");
}
