//! Disks end to end: the ATA PIO guest (`guests/disk/ata_pio.asm`) finds the IDE
//! controller on PCI, reads sector 0 and writes sector 1 of a raw and a qcow2 disk
//! under `vmlab run --disk`, and `qemu-img compare` shows exactly that sector changed;
//! `vmlab disk info|check|map --json` agree with `qemu-img info|check|map`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-disk-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn tool(name: &str, args: &[&str]) -> Output {
    Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed (Debian package qemu-utils): {e}"))
}

fn vmlab(args: &[&str]) -> Output {
    tool(env!("CARGO_BIN_EXE_vmlab"), args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("JSON expected ({e}):\n{}", text(o)))
}

/// The guest `guests/NAME.asm`, assembled by `vmlab asm` into `dir`.
fn guest(dir: &Path, name: &str) -> PathBuf {
    let guests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests");
    let src = guests.join(format!("{name}.asm"));
    let out = dir.join(format!("{}.bin", name.replace('/', "-")));
    let o = vmlab(&[
        "asm",
        s(&src),
        "-I",
        s(&guests.join("include")),
        "-o",
        s(&out),
    ]);
    assert!(o.status.success(), "vmlab asm {name}: {}", text(&o));
    out
}

/// A 2 MiB disk: text in sector 0, pseudo-random bytes after it.
fn disk_bytes() -> Vec<u8> {
    let mut d = vec![0u8; 2 << 20];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for b in d.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let msg = b"vmlab disk: sector zero of the test image";
    d[..msg.len()].copy_from_slice(msg);
    d
}

/// The disk after the guest: sector 1 holds sector 0 with every byte plus one.
fn expected(orig: &[u8]) -> Vec<u8> {
    let mut e = orig.to_vec();
    for i in 0..512 {
        e[512 + i] = orig[i].wrapping_add(1);
    }
    e
}

/// `top.qcow2` in `dir`, made by qemu-img: an empty overlay on `base.raw`.
fn overlay(dir: &Path) -> PathBuf {
    let top = dir.join("top.qcow2");
    let o = tool(
        "qemu-img",
        &[
            "create",
            "-f",
            "qcow2",
            "-b",
            "base.raw",
            "-F",
            "raw",
            s(&top),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    top
}

/// `qemu-img check` finds `top` clean and `qemu-img compare` finds it equal to `want`.
fn check_and_compare(top: &Path, want: &Path) {
    let o = tool("qemu-img", &["check", s(top)]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tool("qemu-img", &["compare", "-F", "raw", s(top), s(want)]);
    assert!(o.status.success(), "{}", text(&o));
}

fn run_guest(bin: &Path, disk: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "run",
        "--flat",
        "0x10000",
        s(bin),
        "--entry",
        "pm32",
        "--disk",
        disk,
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = vmlab(&args);
    let console = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(console.contains("ata: OK"), "the guest failed:\n{console}");
    assert!(
        console.contains("pci 00:01.1 8086:7010 class 0101"),
        "{console}"
    );
    assert!(
        console.contains("sector 0: vmlab disk: sector zero"),
        "{console}"
    );
    let r = json(&o);
    assert_eq!(r["exit_status"], 0, "{r}");
    r
}

#[test]
fn ata_guest_changes_exactly_one_sector_of_raw_and_qcow2_disks() {
    let dir = scratch("ata");
    let bin = guest(&dir, "disk/ata_pio");
    let orig = disk_bytes();
    let want = dir.join("expected.raw");
    std::fs::write(&want, expected(&orig)).unwrap();

    // Raw, on the bare machine.
    let raw = dir.join("disk.raw");
    std::fs::write(&raw, &orig).unwrap();
    run_guest(&bin, &format!("{},format=raw", s(&raw)), &[]);
    let o = tool(
        "qemu-img",
        &["compare", "-f", "raw", "-F", "raw", s(&raw), s(&want)],
    );
    assert!(o.status.success(), "{}", text(&o));
    let base = dir.join("base.raw");
    std::fs::write(&base, &orig).unwrap();
    let o = tool(
        "qemu-img",
        &["compare", "-f", "raw", "-F", "raw", s(&raw), s(&base)],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("Content mismatch at offset 512!"),
        "{}",
        text(&o)
    );

    // A qcow2 overlay on the raw base, under trap-and-emulate: the base is untouched.
    let top = overlay(&dir);
    let r = run_guest(&bin, s(&top), &["--mode", "trap-emulate"]);
    check_and_compare(&top, &want);
    assert!(
        std::fs::read(&base).unwrap() == orig,
        "the backing file is unchanged"
    );
    // Sector 0, sector 1 read back and 2048 sectors (1 MiB) read; one sector written.
    assert_eq!(r["disk"]["sectors_read"], 2 + 2048, "{}", r["disk"]);
    assert_eq!(r["disk"]["sectors_written"], 1);
    // Every word of the 1 MiB read is one I/O exit: at least 2048 × 256 of them.
    let io = r["vmm"]["exits"]["by_reason"]["io"].as_u64().unwrap_or(0);
    assert!(io >= 2048 * 256, "{io} I/O exits");
    // The text summary quotes the exits per MiB moved (the run writes sector 1 again).
    let args = [
        "run",
        "--flat",
        "0x10000",
        s(&bin),
        "--entry",
        "pm32",
        "--disk",
        s(&top),
    ];
    let o = vmlab(&[&args[..], &["--mode", "trap-emulate"]].concat());
    let t = text(&o);
    let line = t
        .lines()
        .find(|l| l.contains("vmlab run: disk: 2050 sectors read, 1 written"))
        .unwrap_or_else(|| panic!("{t}"));
    let per_mib: f64 = line
        .split("I/O exits, ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let expect = io as f64 * 2048.0 / 2051.0;
    assert!((per_mib - expect).abs() < 1.0, "{line}: {expect}");
    eprintln!("{line}");
}

#[test]
fn virtio_guest_changes_exactly_one_sector_of_a_qcow2_overlay() {
    let dir = scratch("virtio");
    let bin = guest(&dir, "disk/virtio_blk");
    let orig = disk_bytes();
    let want = dir.join("expected.raw");
    std::fs::write(&want, expected(&orig)).unwrap();
    let base = dir.join("base.raw");
    std::fs::write(&base, &orig).unwrap();
    let top = overlay(&dir);
    let o = vmlab(&[
        "run",
        "--flat",
        "0x10000",
        s(&bin),
        "--entry",
        "pm32",
        "--disk",
        s(&top),
        "--disk-if",
        "virtio",
        "--mode",
        "trap-emulate",
        "--json",
    ]);
    let console = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(console.contains("virtio-blk OK"), "{console}");
    assert!(
        console.contains("sector 0: vmlab disk: sector zero"),
        "{console}"
    );
    let r = json(&o);
    assert_eq!(r["exit_status"], 0, "{r}");
    check_and_compare(&top, &want);
    assert!(
        std::fs::read(&base).unwrap() == orig,
        "the backing file is unchanged"
    );
    let d = &r["disk"];
    assert_eq!(d["interface"], "virtio", "{d}");
    assert_eq!(d["transport"], "legacy", "{d}");
    assert_eq!(
        (d["sectors_read"].as_u64(), d["sectors_written"].as_u64()),
        (Some(2050), Some(1))
    );
    assert_eq!(d["virtqueue"]["requests"], 19, "{d}");
    assert_eq!(d["virtqueue"]["suppressed_interrupts"], 16, "{d}");
    // One notify per request: a handful of I/O exits per MiB, not one per word.
    let io = r["vmm"]["exits"]["by_reason"]["io"].as_u64().unwrap_or(0);
    assert!(io < 2048, "{io} I/O exits");
}

#[test]
fn modern_virtio_guest_changes_exactly_one_sector_of_a_qcow2_overlay() {
    let dir = scratch("virtio-modern");
    let bin = guest(&dir, "disk/virtio_modern");
    let orig = disk_bytes();
    let want = dir.join("expected.raw");
    std::fs::write(&want, expected(&orig)).unwrap();
    std::fs::write(dir.join("base.raw"), &orig).unwrap();
    let top = overlay(&dir);
    let o = vmlab(&[
        "run",
        "--flat",
        "0x10000",
        s(&bin),
        "--entry",
        "pm32",
        "--disk",
        s(&top),
        "--disk-if",
        "virtio",
        "--mode",
        "trap-emulate",
        "--json",
    ]);
    let console = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(console.contains("virtio-blk modern OK"), "{console}");
    let r = json(&o);
    assert_eq!(r["exit_status"], 0, "{r}");
    check_and_compare(&top, &want);
    let d = &r["disk"];
    assert_eq!(d["transport"], "modern", "{d}");
    assert_eq!(
        (d["sectors_read"].as_u64(), d["sectors_written"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(d["virtqueue"]["notifies"], 3, "{d}");
    // The BAR accesses are exits of their own; the ports only find the device.
    let exits = &r["vmm"]["exits"]["by_reason"];
    assert_eq!(exits["mmio"], 31, "{exits}");
    // The text summary names the interface and the MMIO exits.
    let o = vmlab(&[
        "run",
        "--flat",
        "0x10000",
        s(&bin),
        "--entry",
        "pm32",
        "--disk",
        s(&top),
        "--disk-if",
        "virtio",
        "--mode",
        "hw-assist",
    ]);
    let t = text(&o);
    assert!(
        t.contains("virtio-blk, modern interface: 3 requests"),
        "{t}"
    );
    assert!(t.contains(", 31 MMIO exits"), "{t}");
}

#[test]
fn disk_info_check_and_map_agree_with_qemu_img() {
    let dir = scratch("info");
    let base = dir.join("base.qcow2");
    let top = dir.join("top.qcow2");
    let run = |name: &str, args: &[&str]| {
        let o = tool(name, args);
        assert!(o.status.success(), "{name} {args:?}: {}", text(&o));
        o
    };
    let create = ["create", "-f", "qcow2", "-o", "cluster_size=4096"];
    run("qemu-img", &[&create[..], &[s(&base), "1M"]].concat());
    run(
        "qemu-io",
        &["-f", "qcow2", "-c", "write -P 1 0 12k", s(&base)],
    );
    let backing = ["-b", "base.qcow2", "-F", "qcow2", s(&top)];
    run("qemu-img", &[&create[..], &backing[..]].concat());
    run(
        "qemu-io",
        &["-f", "qcow2", "-c", "write -P 2 4k 4k", s(&top)],
    );
    run("qemu-img", &["snapshot", "-c", "first", s(&top)]);

    let q = json(&run("qemu-img", &["info", "--output=json", s(&top)]));
    let v = json(&vmlab(&["disk", "info", s(&top), "--json"]));
    assert_eq!(v["virtual_size"], q["virtual-size"]);
    assert_eq!(v["qcow2"]["cluster_size"], q["cluster-size"]);
    assert_eq!(v["qcow2"]["backing_file"], q["backing-filename"]);
    assert_eq!(v["qcow2"]["backing_format"], q["backing-filename-format"]);
    assert_eq!(
        v["qcow2"]["snapshots"][0]["name"],
        q["snapshots"][0]["name"]
    );
    assert_eq!(
        v["qcow2"]["refcount_bits"],
        q["format-specific"]["data"]["refcount-bits"]
    );
    assert_eq!(v["backing_chain"].as_array().map(Vec::len), Some(1));

    let o = vmlab(&["disk", "check", s(&top), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["errors"].as_array().map(Vec::len), Some(0));

    // The map against qemu-img map: depth and host offset of every data cluster.
    let qm = json(&run("qemu-img", &["map", "--output=json", s(&top)]));
    let vm = json(&vmlab(&["disk", "map", s(&top), "--json"]));
    let clusters = vm["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 256);
    for c in clusters {
        let at = c["guest_offset"].as_u64().unwrap();
        let r = qm
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                let (st, len) = (r["start"].as_u64().unwrap(), r["length"].as_u64().unwrap());
                st <= at && at < st + len
            })
            .expect("qemu-img maps every byte");
        let loc = &c["location"];
        if r["data"] == true {
            let off = r["offset"].as_u64().unwrap() + (at - r["start"].as_u64().unwrap());
            assert_eq!(loc["host_offset"], off, "cluster {at:#x}: {c} vs {r}");
            let depth = if loc["kind"] == "data" {
                0
            } else {
                loc["depth"].as_u64().unwrap()
            };
            assert_eq!(r["depth"], depth, "cluster {at:#x}");
            assert_eq!(c["shared_with_backing"], depth > 0);
        } else {
            assert!(
                loc["kind"] == "unallocated" || loc["kind"] == "zero",
                "{c} vs {r}"
            );
        }
    }
    assert_eq!(clusters[1]["location"]["kind"], "data");
    assert_eq!(clusters[0]["shared_with_backing"], true);

    // A snapshot taken by vmlab is listed by qemu-img, and the image stays clean.
    let o = vmlab(&["disk", "snapshot", s(&top), "second", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(json(&o)["id"], "2");
    let q = json(&run("qemu-img", &["info", "--output=json", s(&top)]));
    assert_eq!(q["snapshots"][1]["name"], "second");
    run("qemu-img", &["check", s(&top)]);

    // An overlay vmlab creates on top: qemu-img follows the chain and finds it equal.
    let over = dir.join("over.qcow2");
    let o = vmlab(&[
        "disk",
        "create",
        s(&over),
        "--backing",
        "top.qcow2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(json(&o)["backing_format"], "qcow2");
    run("qemu-img", &["check", s(&over)]);
    run("qemu-img", &["compare", s(&over), s(&top)]);
    let o = vmlab(&["disk", "create", s(&over), "--size", "1M"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an existing file is not overwritten"
    );

    // A refcount set to zero under a data cluster: check names it and exits 2.
    let mut bytes = std::fs::read(&top).unwrap();
    let be = |b: &[u8], at: usize| u64::from_be_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    let host = clusters[1]["location"]["host_offset"].as_u64().unwrap() as usize;
    let block = be(&bytes, be(&bytes, 48));
    bytes[block + 2 * (host / 4096)..][..2].copy_from_slice(&[0, 0]);
    let bad = dir.join("bad.qcow2");
    std::fs::write(&bad, &bytes).unwrap();
    let o = vmlab(&["disk", "check", s(&bad), "--json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let errors = json(&o)["errors"].clone();
    assert!(
        errors
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["offset"] == host as u64),
        "{errors}"
    );
    let o = tool("qemu-img", &["check", s(&bad)]);
    assert_eq!(o.status.code(), Some(2), "qemu-img agrees: {}", text(&o));
    // And `vmlab run --disk` refuses it, naming the offset.
    let o = vmlab(&[
        "run",
        "--flat",
        "0x10000",
        s(&bad),
        "--entry",
        "pm32",
        "--disk",
        s(&bad),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains(&format!("at byte {host}")),
        "{}",
        text(&o)
    );
}
