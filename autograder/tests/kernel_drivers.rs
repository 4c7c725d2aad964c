//! The teaching kernel's device layer end to end: `vmlab run --rom kernel.rom` with an
//! ATA or virtio-blk disk and a virtio-net NIC, bare and under each VMM mode. The
//! kernel enumerates PCI bus 0 (one line per function), reads sector 0 through the
//! driver bound to the disk and prints its first bytes and dword sum, and resolves
//! 10.0.0.1 by ARP through the stub. nasm is the oracle for the kernel's build,
//! `tcpdump -r` for the frames on the link.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "vmlab-kernel-drivers-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn vmlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("runs vmlab")
}

/// The kernel ROM by `vmlab asm`, checked byte for byte against nasm's.
fn kernel_rom(dir: &Path) -> PathBuf {
    let guests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests");
    let src = guests.join("kernel/kernel.asm");
    let inc = guests.join("include");
    let ours = dir.join("kernel.rom");
    let o = vmlab(&["asm", s(&src), "-I", s(&inc), "-o", s(&ours)]);
    assert!(o.status.success(), "vmlab asm: {}", text(&o));
    let theirs = dir.join("kernel-nasm.rom");
    let o = Command::new("nasm")
        .args(["-f", "bin", "-I"])
        .arg(format!("{}/", inc.display()))
        .arg("-o")
        .arg(&theirs)
        .arg(&src)
        .output()
        .expect("nasm is installed");
    assert!(o.status.success(), "nasm: {}", text(&o));
    let (a, b) = (
        std::fs::read(&ours).unwrap(),
        std::fs::read(&theirs).unwrap(),
    );
    assert_eq!(a.len(), 0x10000, "a 64 KiB ROM");
    assert!(a == b, "vmlab asm and nasm build different kernels");
    ours
}

/// A 1 MiB raw disk: sector 0 opens with a text line, then pseudo-random bytes.
fn disk(dir: &Path) -> (PathBuf, Vec<u8>) {
    let mut bytes = vec![0u8; 1 << 20];
    let head = b"vmlab kernel disk, sector 0 ok.";
    bytes[..head.len()].copy_from_slice(head);
    let mut x: u32 = 0x2545_f491;
    for b in &mut bytes[head.len()..] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let path = dir.join("disk.raw");
    std::fs::write(&path, &bytes).expect("writes the disk");
    (path, bytes[..512].to_vec())
}

/// What the kernel prints for sector 0: 32 bytes as text (a dot for the unprintable)
/// and the wrapping sum of its 128 little-endian dwords.
fn sector_line(sector: &[u8]) -> String {
    let shown: String = sector[..32]
        .iter()
        .map(|&b| {
            if (32..=126).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    let sum = sector
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .fold(0u32, u32::wrapping_add);
    format!("sector 0: {shown} sum {sum:08x}")
}

/// Runs the kernel with `args` and `--json`: the report and the serial output.
fn run(rom: &Path, args: &[&str]) -> (Value, String) {
    let mut all = vec!["run", "--rom", s(rom), "--json"];
    all.extend_from_slice(args);
    let o = vmlab(&all);
    let report: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("JSON expected ({e}) for {args:?}:\n{}", text(&o)));
    let serial = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(report["stop"], "debug-exit", "{args:?}:\n{serial}");
    assert_eq!(report["debug_exit_value"], 0, "{args:?}:\n{serial}");
    (report, serial)
}

fn assert_processes_ran(serial: &str, what: &str) {
    for p in ["A", "B"] {
        for l in 1..=3 {
            let line = format!("process {p} line {l} from ring 3");
            assert!(serial.contains(&line), "{what}: no `{line}`:\n{serial}");
        }
    }
    assert!(
        serial.contains("kernel: all processes exited; 6 lines written, 4 demand-zero page faults"),
        "{what}:\n{serial}"
    );
}

#[test]
fn the_kernel_enumerates_pci_and_reads_sector_0_through_each_disk_driver_in_every_mode() {
    let dir = scratch("modes");
    let rom = kernel_rom(&dir);
    let (disk, sector0) = disk(&dir);
    let expect_sector = sector_line(&sector0);
    for mode in ["bare", "trap-emulate", "hw-assist"] {
        for (disk_if, slot, driver) in [
            (
                "ata",
                "pci 00:01.1 8086:7010 class 0101 irq 0e bar4 0000c001",
                "kernel: ata: ",
            ),
            (
                "virtio",
                "pci 00:03.0 1af4:1001 class 0100 irq 0b bar0 0000c041 bar4 feb00000",
                "kernel: virtio-blk: ",
            ),
        ] {
            let what = format!("{mode}, --disk-if {disk_if}");
            let (report, serial) = run(
                &rom,
                &[
                    "--mode",
                    mode,
                    "--disk",
                    s(&disk),
                    "--disk-if",
                    disk_if,
                    "--nic",
                    "virtio",
                ],
            );
            let lines: Vec<&str> = serial.lines().collect();
            // The bus, in slot order: the host bridge, the PIIX3, the disk, the NIC.
            assert!(lines.contains(&slot), "{what}: no `{slot}`:\n{serial}");
            let nic = "pci 00:04.0 1af4:1000 class 0200 irq 0a bar0 0000c081 bar4 feb01000";
            assert!(lines.contains(&nic), "{what}:\n{serial}");
            let pci: Vec<&&str> = lines.iter().filter(|l| l.starts_with("pci ")).collect();
            let mut sorted = pci.clone();
            sorted.sort();
            assert_eq!(pci, sorted, "{what}: functions in bus order");
            assert_eq!(
                pci.len(),
                4,
                "{what}: host bridge, ISA bridge, disk, NIC (no IDE function without an ATA disk)"
            );
            // The driver read the sector the test wrote, and the device counted it.
            let line = format!("{driver}{expect_sector}");
            assert!(
                lines.contains(&line.as_str()),
                "{what}: no `{line}`:\n{serial}"
            );
            assert_eq!(report["disk"]["interface"], disk_if, "{what}");
            assert_eq!(report["disk"]["sectors_read"], 1, "{what}");
            // virtio-net: the MAC the device reports, the stub's ARP reply.
            assert!(
                lines.contains(&"kernel: virtio-net: MAC 525400123456"),
                "{what}:\n{serial}"
            );
            assert!(
                serial.contains("kernel: virtio-net: ARP reply: 10.0.0.1 is at "),
                "{what}:\n{serial}"
            );
            assert_eq!(report["nic"]["frames_sent"], 1, "{what}");
            assert_eq!(report["nic"]["stub_answers"], 1, "{what}");
            // The drivers run before the processes start, which still run to the end.
            let drivers_at = serial.find("kernel: virtio-net: ARP").unwrap();
            let paging_at = serial.find("kernel: paging on").expect("paging line");
            assert!(drivers_at < paging_at, "{what}");
            assert_processes_ran(&serial, &what);
            // Under a VMM each configuration access and each port access is an exit.
            if mode != "bare" {
                let io = report["vmm"]["exits"]["by_reason"]["io"]
                    .as_u64()
                    .unwrap_or(0);
                assert!(io > 100, "{what}: {io} I/O exits");
            }
        }
    }
}

#[test]
fn without_devices_the_kernel_prints_no_pci_lines_and_runs_as_before() {
    let dir = scratch("nodevices");
    let rom = kernel_rom(&dir);
    for mode in ["bare", "trap-emulate"] {
        let (report, serial) = run(&rom, &["--mode", mode]);
        assert!(
            !serial.contains("pci "),
            "{mode}: no bus, no lines:\n{serial}"
        );
        assert!(!serial.contains("kernel: ata"), "{mode}:\n{serial}");
        assert!(report["disk"].is_null() && report["nic"].is_null());
        assert!(
            serial.starts_with("vmlab teaching kernel\nkernel: paging on, starting 2 processes\n"),
            "{mode}:\n{serial}"
        );
        assert_processes_ran(&serial, mode);
    }
}

#[test]
fn a_disk_that_fails_a_read_drops_its_driver_and_the_kernel_goes_on() {
    // An empty image has no sector 0: the read fails (ATA ERR, virtio IOERR), the
    // driver says so and the processes still run.
    let dir = scratch("baddisk");
    let rom = kernel_rom(&dir);
    let empty = dir.join("empty.raw");
    std::fs::write(&empty, []).expect("an empty image");
    for (disk_if, driver) in [("ata", "kernel: ata: "), ("virtio", "kernel: virtio-blk: ")] {
        let (_, serial) = run(&rom, &["--disk", s(&empty), "--disk-if", disk_if]);
        let line = format!("{driver}driver failed");
        assert!(serial.lines().any(|l| l == line), "{disk_if}:\n{serial}");
        assert!(!serial.contains("sector 0:"), "{disk_if}:\n{serial}");
        assert_processes_ran(&serial, disk_if);
    }
}

#[test]
fn the_kernels_arp_exchange_is_on_the_link_as_tcpdump_reads_it() {
    let dir = scratch("pcap");
    let rom = kernel_rom(&dir);
    let pcap = dir.join("link.pcap");
    let (report, serial) = run(
        &rom,
        &[
            "--mode",
            "hw-assist",
            "--nic",
            "virtio",
            "--nic-pcap",
            s(&pcap),
        ],
    );
    let dump = Command::new("tcpdump")
        .args(["-r", s(&pcap), "-nn", "-e"])
        .output()
        .expect("tcpdump must be installed (cargo xtask test installs it)");
    assert!(dump.status.success(), "tcpdump -r: {}", text(&dump));
    let frames = String::from_utf8_lossy(&dump.stdout).into_owned();
    let lines: Vec<&str> = frames.lines().collect();
    assert_eq!(lines.len(), 2, "a request and its reply:\n{frames}");
    // The request leaves from the MAC the kernel printed for its NIC.
    let mac = serial
        .lines()
        .find_map(|l| l.strip_prefix("kernel: virtio-net: MAC "))
        .expect("the MAC line");
    let colons: Vec<String> = (0..6).map(|i| mac[2 * i..2 * i + 2].to_string()).collect();
    let mac = colons.join(":");
    assert!(
        lines[0].contains(&format!(" {mac} > ff:ff:ff:ff:ff:ff, ethertype ARP")),
        "{frames}"
    );
    assert!(
        lines[0].contains("Request who-has 10.0.0.1 tell 10.0.0.2"),
        "{frames}"
    );
    // The reply names the MAC address the kernel then printed.
    let peer = serial
        .lines()
        .find_map(|l| l.strip_prefix("kernel: virtio-net: ARP reply: 10.0.0.1 is at "))
        .expect("the ARP line");
    let peer: Vec<String> = (0..6).map(|i| peer[2 * i..2 * i + 2].to_string()).collect();
    assert!(
        lines[1].contains(&format!("Reply 10.0.0.1 is-at {}", peer.join(":"))),
        "{frames}\n{serial}"
    );
    assert_eq!(report["nic"]["frames_received"], 1);
}
