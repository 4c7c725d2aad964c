//! `vmlab run --json` on the virtio interrupt demo guest
//! (`demos/virtio-interrupt-suppression/suppress.asm`) with a raw virtio disk: the
//! disk object reports notifies, interrupts, suppressed interrupts, requests per
//! interrupt and the requests that came without a notify of their own, the same under
//! trap-and-emulate and hardware assist.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn vmlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("the vmlab binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn run_json_reports_the_virtqueue_interrupt_counters() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-virtio-irq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let bin = dir.join("suppress.bin");
    let o = vmlab(&[
        "asm",
        s(&root.join("demos/virtio-interrupt-suppression/suppress.asm")),
        "-I",
        s(&root.join("guests/include")),
        "-o",
        s(&bin),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let disk = dir.join("disk.raw");
    let bytes: Vec<u8> = (0..256 * 512).map(|i: usize| (i * 5 + 1) as u8).collect();
    std::fs::write(&disk, &bytes).expect("the disk image");
    let mut seen = Vec::new();
    for mode in ["trap-emulate", "hw-assist"] {
        let o = vmlab(&[
            "run",
            "--flat",
            "0x10000",
            s(&bin),
            "--entry",
            "pm32",
            "--disk",
            s(&disk),
            "--disk-if",
            "virtio",
            "--mode",
            mode,
            "--json",
        ]);
        let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{mode}: JSON expected ({e}): {}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
        let console = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(
            console.contains("virtio-blk interrupts OK"),
            "{mode}: {console}"
        );
        let q = r["disk"]["virtqueue"].clone();
        let n = |k: &str| {
            q[k].as_u64()
                .unwrap_or_else(|| panic!("{mode}: {k} in {q}"))
        };
        assert_eq!(n("requests"), 64, "{q}");
        assert_eq!(n("notifies") + n("unkicked_requests"), n("requests"), "{q}");
        assert!(n("interrupts") < n("requests"), "coalescing: {q}");
        assert_eq!(n("interrupts"), r["counters"]["irqs"].as_u64().unwrap_or(0));
        assert_eq!(n("suppressed_interrupts"), 16, "{q}");
        let per = q["requests_per_interrupt"]
            .as_f64()
            .expect("interrupts were raised");
        assert!(per > 1.0, "{q}");
        assert_eq!(
            q["event_idx"], true,
            "the last driver negotiated event indexes"
        );
        seen.push(q);
    }
    assert_eq!(seen[0], seen[1], "the same counters in both modes");
}

/// `vmlab run --virtio-service` on the busy-device demo guest
/// (`demos/virtio-busy-device/busy.asm`): with a service time the driver's notifies
/// drop from 16 to 1 in the two phases that consult the device, and the report counts
/// the kicks skipped; without one every write takes its notify.
#[test]
fn virtio_service_makes_the_device_busy_and_the_report_counts_skipped_kicks() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-virtio-busy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let bin = dir.join("busy.bin");
    let o = vmlab(&[
        "asm",
        s(&root.join("demos/virtio-busy-device/busy.asm")),
        "-I",
        s(&root.join("guests/include")),
        "-o",
        s(&bin),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let disk = dir.join("disk.raw");
    let mut counts = Vec::new();
    for service in [Some("50000+32"), None] {
        std::fs::write(&disk, vec![0u8; 256 * 512]).expect("the disk image");
        let mut args = vec![
            "run",
            "--flat",
            "0x10000",
            s(&bin),
            "--entry",
            "pm32",
            "--disk",
            s(&disk),
            "--disk-if",
            "virtio",
            "--mode",
            "trap-emulate",
            "--json",
        ];
        if let Some(t) = service {
            args.extend(["--virtio-service", t]);
        }
        let o = vmlab(&args);
        let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "JSON expected ({e}): {}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("virtio-blk busy device OK"),
            "{service:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let q = r["disk"]["virtqueue"].clone();
        let n = |k: &str| q[k].as_u64().unwrap_or_else(|| panic!("{k} in {q}"));
        assert_eq!(n("requests"), 51, "{q}");
        counts.push((
            n("notifies"),
            n("notifies_skipped"),
            n("busy_notifies"),
            n("service_fixed"),
        ));
        // The last phase's data are on the disk.
        let data = std::fs::read(&disk).expect("the disk");
        assert!(
            (0..0x10000usize).all(|i| data[i] == (0x33 + i / 4096 + i) as u8),
            "{service:?}: the written data"
        );
    }
    assert_eq!(
        counts[0],
        (16 + 1 + 1 + 3, 30, 15, 50_000),
        "busy: {counts:?}"
    );
    assert_eq!(counts[1], (51, 0, 0, 0), "never busy: {counts:?}");
    let o = vmlab(&[
        "run",
        "--flat",
        "0x10000",
        s(&bin),
        "--virtio-service",
        "fast",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a bad --virtio-service is refused"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--virtio-service"));
}
