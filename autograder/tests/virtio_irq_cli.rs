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
