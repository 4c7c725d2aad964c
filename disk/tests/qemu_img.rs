//! qcow2 and raw against Debian's qemu-img: images it makes (with backing files and
//! snapshots) read the same in vmlab; images vmlab writes pass `qemu-img check` and
//! `qemu-img compare` equal to the expected content.

mod common;

use common::{ok, p, qemu_raw, run, scratch, Rng};
use std::path::Path;
use vmlab_disk::open::open_path;
use vmlab_disk::{Format, Image};

const MIB: u64 = 1 << 20;

/// The snapshot `name` of `image`, as qemu-img converts it to raw.
fn qemu_snapshot_raw(image: &Path, dir: &Path, name: &str) -> Vec<u8> {
    let out = dir.join(format!("{name}.raw"));
    let sel = format!("snapshot.name={name}");
    let args = ["convert", "-l", &sel, "-O", "raw", p(image), p(&out)];
    ok("qemu-img", &args);
    std::fs::read(&out).unwrap()
}

/// `qemu-img check` finds no error and `qemu-img compare` finds `image` equal to `want`.
fn assert_qemu_agrees(image: &Path, want: &[u8], dir: &Path, what: &str) {
    let (code, text) = run("qemu-img", &["check", p(image)]);
    assert_eq!(code, 0, "{what}: qemu-img check:\n{text}");
    let expected = dir.join("expected.raw");
    std::fs::write(&expected, want).unwrap();
    let (code, text) = run(
        "qemu-img",
        &["compare", "-F", "raw", p(image), p(&expected)],
    );
    assert_eq!(code, 0, "{what}: qemu-img compare:\n{text}");
}

/// vmlab's own check finds neither errors nor leaks, as `qemu-img check` did.
fn assert_vmlab_check_clean(image: &Path, what: &str) {
    let mut img = vmlab_disk::open::open_path_for_check(p(image), None).unwrap();
    let r = img
        .as_qcow2()
        .map(|q| q.check().unwrap())
        .expect("a qcow2 image");
    assert!(r.errors.is_empty() && r.leaks.is_empty(), "{what}: {r:?}");
}

fn read_all(img: &mut Image) -> Vec<u8> {
    let mut buf = vec![0; img.size() as usize];
    img.read(0, &mut buf).expect("vmlab reads the whole disk");
    buf
}

fn qemu_io(fmt: &str, image: &Path, cmd: &str) {
    ok("qemu-io", &["-f", fmt, "-c", cmd, p(image)]);
}

/// A qcow2 base with data written by qemu-io, and an overlay on it with more data.
fn base_and_overlay(dir: &Path, opts: &str) -> std::path::PathBuf {
    let base = dir.join("base.qcow2");
    let top = dir.join("top.qcow2");
    ok(
        "qemu-img",
        &["create", "-f", "qcow2", "-o", opts, p(&base), "3M"],
    );
    qemu_io("qcow2", &base, "write -P 0x11 0 70k");
    qemu_io("qcow2", &base, "write -P 0x33 2M 4k");
    let o = format!("{opts},backing_file=base.qcow2,backing_fmt=qcow2");
    ok(
        "qemu-img",
        &["create", "-f", "qcow2", "-o", &o, p(&top), "4M"],
    );
    qemu_io("qcow2", &top, "write -P 0x22 66048 4k");
    qemu_io("qcow2", &top, "write -z 2M 512");
    top
}

const OPTS: [&str; 5] = [
    "compat=0.10",
    "compat=1.1",
    "compat=1.1,cluster_size=4096",
    "compat=1.1,cluster_size=512,refcount_bits=1",
    "compat=1.1,cluster_size=8192,refcount_bits=64",
];

#[test]
fn qemu_images_with_backing_files_read_the_same() {
    for (i, opts) in OPTS.iter().enumerate() {
        let dir = scratch(&format!("read{i}"));
        let top = base_and_overlay(&dir, opts);
        let want = qemu_raw(&top, &dir);
        let mut img = open_path(p(&top), None, false).unwrap_or_else(|e| panic!("{opts}: {e}"));
        assert_eq!(img.format(), Format::Qcow2);
        assert_eq!(
            img.backing().map(Image::format),
            Some(Format::Qcow2),
            "{opts}"
        );
        let got = read_all(&mut img);
        assert_eq!(got.len(), want.len(), "{opts}");
        assert!(
            got == want,
            "{opts}: vmlab and qemu-img read different bytes"
        );
        assert_eq!(got[66048], 0x22, "{opts}");
        assert_eq!(got[1000], 0x11, "{opts}");
        assert_eq!(
            got[3 * MIB as usize + 5],
            0,
            "{opts}: past the base reads zeros"
        );
    }
}

#[test]
fn vmlab_writes_pass_qemu_check_and_compare() {
    for (i, opts) in OPTS.iter().enumerate() {
        let dir = scratch(&format!("write{i}"));
        let top = base_and_overlay(&dir, opts);
        let mut want = qemu_raw(&top, &dir);
        let mut mid = None;
        {
            let mut img = open_path(p(&top), None, true).unwrap_or_else(|e| panic!("{opts}: {e}"));
            let mut rng = Rng(0x9e37_79b9 + i as u64);
            for n in 0..40 {
                if n == 25 {
                    // An internal snapshot halfway: later writes copy its clusters.
                    let q = img.as_qcow2().unwrap();
                    match q.create_snapshot("mid", 0) {
                        Ok(()) => mid = Some(want.clone()),
                        // One-bit refcounts cannot count a second reference.
                        Err(e) if opts.contains("refcount_bits=1") => {
                            assert!(e.message.contains("cannot grow"), "{e}")
                        }
                        Err(e) => panic!("{opts}: {e}"),
                    }
                }
                let len = 1 + rng.below(20_000) as usize;
                let at = rng.below(img.size() - len as u64);
                let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                img.write(at, &data)
                    .unwrap_or_else(|e| panic!("{opts}: write {n}: {e}"));
                want[at as usize..at as usize + len].copy_from_slice(&data);
            }
            assert!(
                read_all(&mut img) == want,
                "{opts}: vmlab reads back what it wrote"
            );
            img.flush().unwrap();
        }
        assert_qemu_agrees(&top, &want, &dir, opts);
        assert_vmlab_check_clean(&top, opts);
        if let Some(mid) = mid {
            assert!(
                qemu_snapshot_raw(&top, &dir, "mid") == mid,
                "{opts}: the snapshot"
            );
        }
    }
}

#[test]
fn raw_images_read_and_write_in_place() {
    let dir = scratch("raw");
    let img_path = dir.join("disk.raw");
    ok("qemu-img", &["create", "-f", "raw", p(&img_path), "1M"]);
    qemu_io("raw", &img_path, "write -P 0x5a 4096 1024");
    let mut img = open_path(p(&img_path), Some(Format::Raw), true).unwrap();
    assert_eq!(img.size(), MIB);
    let mut buf = [0u8; 1024];
    img.read(4096, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0x5a));
    img.write(8192, &[0xa5; 512]).unwrap();
    assert!(
        img.write(MIB - 10, &[1; 20]).is_err(),
        "a raw disk does not grow"
    );
    drop(img);
    let mut want = vec![0u8; MIB as usize];
    want[4096..5120].fill(0x5a);
    want[8192..8704].fill(0xa5);
    let expected = dir.join("expected.raw");
    std::fs::write(&expected, &want).unwrap();
    let (code, text) = run("qemu-img", &["compare", p(&img_path), p(&expected)]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn internal_snapshots_read_and_survive_writes() {
    for opts in ["compat=0.10", "compat=1.1,cluster_size=4096"] {
        let dir = scratch(&format!("snap{}", opts.len()));
        let img_path = dir.join("snap.qcow2");
        ok(
            "qemu-img",
            &["create", "-f", "qcow2", "-o", opts, p(&img_path), "1M"],
        );
        qemu_io("qcow2", &img_path, "write -P 0x41 0 64k");
        ok("qemu-img", &["snapshot", "-c", "before", p(&img_path)]);
        qemu_io("qcow2", &img_path, "write -P 0x42 4096 4096");
        let snap_want = qemu_snapshot_raw(&img_path, &dir, "before");
        let mut want = qemu_raw(&img_path, &dir);
        {
            let mut img = open_path(p(&img_path), None, true).unwrap();
            let q = img.as_qcow2().unwrap();
            assert_eq!(q.snapshot_names(), ["before"]);
            let mut got = vec![0u8; MIB as usize];
            q.read_snapshot(0, 0, &mut got).unwrap();
            assert!(
                got == snap_want,
                "{opts}: the snapshot reads as qemu-img converts it"
            );
            // Overwrite clusters still shared with the snapshot.
            for at in [100u64, 8192, 30_000, 65_000] {
                img.write(at, &[0x43; 700]).unwrap();
                want[at as usize..at as usize + 700].fill(0x43);
            }
            assert!(read_all(&mut img) == want);
        }
        assert_qemu_agrees(&img_path, &want, &dir, opts);
        assert!(
            qemu_snapshot_raw(&img_path, &dir, "before") == snap_want,
            "{opts}: the snapshot is unchanged"
        );
        // vmlab takes a snapshot, the guest writes on: qemu-img reads both snapshots.
        let after_want = want.clone();
        {
            let mut img = open_path(p(&img_path), None, true).unwrap();
            let q = img.as_qcow2().unwrap();
            q.create_snapshot("vmlab-after", 1_700_000_000).unwrap();
            assert_eq!(q.snapshot_names(), ["before", "vmlab-after"]);
            for at in [0u64, 8000, 65_000, 500_000] {
                img.write(at, &[0x44; 3000]).unwrap();
                want[at as usize..at as usize + 3000].fill(0x44);
            }
        }
        assert_qemu_agrees(&img_path, &want, &dir, opts);
        assert_vmlab_check_clean(&img_path, opts);
        let list = ok("qemu-img", &["snapshot", "-l", p(&img_path)]);
        assert!(list.contains("vmlab-after"), "{list}");
        assert!(
            qemu_snapshot_raw(&img_path, &dir, "vmlab-after") == after_want,
            "{opts}"
        );
        assert!(
            qemu_snapshot_raw(&img_path, &dir, "before") == snap_want,
            "{opts}"
        );
    }
}

#[test]
fn nothing_changes_outside_written_clusters_and_metadata() {
    let dir = scratch("untouched");
    let top = base_and_overlay(&dir, "compat=1.1,cluster_size=4096");
    let before = std::fs::read(&top).unwrap();
    // Opening for writing and reading everything writes nothing.
    read_all(&mut open_path(p(&top), None, true).unwrap());
    assert!(
        std::fs::read(&top).unwrap() == before,
        "a read changed the image"
    );
    let cs = 4096u64;
    let writes = [(5000u64, 100usize), (66048 + 10, 50), (MIB * 3 + 7, 3000)];
    {
        let mut img = open_path(p(&top), None, true).unwrap();
        for (at, len) in writes {
            img.write(at, &vec![0xee; len]).unwrap();
        }
    }
    let after = std::fs::read(&top).unwrap();
    assert!(after.len() >= before.len());
    // Where metadata lives, from the header and tables of the written image.
    let mut img = open_path(p(&top), None, false).unwrap();
    let q = img.as_qcow2().unwrap();
    let h = q.header.clone();
    let mut allowed: Vec<(u64, u64)> = vec![
        (h.l1_table_offset, u64::from(h.l1_size) * 8),
        (
            h.refcount_table_offset,
            u64::from(h.refcount_table_clusters) * cs,
        ),
    ];
    for m in q.map(0, u64::MAX).unwrap() {
        if m.l2_table != 0 {
            allowed.push((m.l2_table, cs));
        }
        let written = writes.iter().any(|&(at, len)| {
            at / cs <= m.guest_cluster && m.guest_cluster <= (at + len as u64 - 1) / cs
        });
        if let (true, vmlab_disk::qcow2::Location::Here(host)) = (written, m.location) {
            allowed.push((host, cs));
        }
    }
    // Refcount blocks: every cluster whose refcount entries changed is one.
    for c in 0..before.len() as u64 / cs {
        let off = c * cs;
        let rc_block = (0..h.refcount_table_clusters as u64 * cs / 8).any(|i| {
            let at = (h.refcount_table_offset + 8 * i) as usize;
            u64::from_be_bytes(after[at..at + 8].try_into().unwrap()) == off
        });
        if rc_block {
            allowed.push((off, cs));
        }
    }
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        if a != b {
            let i = i as u64;
            assert!(
                allowed.iter().any(|&(s, l)| s <= i && i < s + l),
                "byte {i:#x} changed outside written clusters and metadata"
            );
        }
    }
    let (code, text) = run("qemu-img", &["check", p(&top)]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn compressed_images_read_and_take_writes() {
    for opts in ["compat=1.1", "compat=0.10,cluster_size=4096"] {
        let dir = scratch(&format!("comp{}", opts.len()));
        let src = dir.join("src.raw");
        // Compressible content: runs of a byte that changes every 1000 bytes.
        let content: Vec<u8> = (0..3 * MIB as usize).map(|i| (i / 1000) as u8).collect();
        std::fs::write(&src, &content).unwrap();
        let img_path = dir.join("comp.qcow2");
        ok(
            "qemu-img",
            &[
                "convert",
                "-c",
                "-O",
                "qcow2",
                "-o",
                opts,
                p(&src),
                p(&img_path),
            ],
        );
        let map = ok("qemu-img", &["map", "--output=json", p(&img_path)]);
        assert!(
            map.contains("\"compressed\": true"),
            "qemu-img compressed it: {map}"
        );
        let mut want = content;
        {
            let mut img =
                open_path(p(&img_path), None, true).unwrap_or_else(|e| panic!("{opts}: {e}"));
            assert!(
                read_all(&mut img) == want,
                "{opts}: vmlab inflates what qemu-img deflated"
            );
            for at in [10u64, 70_000, MIB + 3] {
                img.write(at, &[0xcc; 5000]).unwrap();
                want[at as usize..at as usize + 5000].fill(0xcc);
            }
            assert!(read_all(&mut img) == want);
        }
        assert_qemu_agrees(&img_path, &want, &dir, opts);
        assert_vmlab_check_clean(&img_path, opts);
    }
}

#[test]
fn the_refcount_table_grows_when_the_image_does() {
    // 512-byte clusters and 16-bit refcounts: qemu-img's one-cluster refcount table
    // covers 64 blocks of 256 clusters, 8 MiB of file; vmlab writes 12 MiB.
    let dir = scratch("grow");
    let img_path = dir.join("grow.qcow2");
    ok(
        "qemu-img",
        &[
            "create",
            "-f",
            "qcow2",
            "-o",
            "cluster_size=512",
            p(&img_path),
            "16M",
        ],
    );
    let mut want = vec![0u8; 16 * MIB as usize];
    {
        let mut img = open_path(p(&img_path), None, true).unwrap();
        let old = img.as_qcow2().unwrap().header.refcount_table_clusters;
        let mut rng = Rng(7);
        let chunk: Vec<u8> = (0..MIB as usize).map(|_| rng.next() as u8).collect();
        for m in 0..12u64 {
            img.write(m * MIB + 512 * m, &chunk)
                .unwrap_or_else(|e| panic!("MiB {m}: {e}"));
            let at = (m * MIB + 512 * m) as usize;
            want[at..at + chunk.len()].copy_from_slice(&chunk);
        }
        let q = img.as_qcow2().unwrap();
        assert!(q.header.refcount_table_clusters > old, "the table grew");
        assert!(q.file_len() > 12 * MIB);
    }
    assert_qemu_agrees(&img_path, &want, &dir, "grown refcount table");
}

#[test]
fn images_vmlab_creates_are_qcow2_to_qemu_img() {
    for bits in [9u32, 12, 16] {
        let dir = scratch(&format!("create{bits}"));
        let base = dir.join("base.raw");
        let mut rng = Rng(u64::from(bits));
        let content: Vec<u8> = (0..2 * MIB as usize).map(|_| rng.next() as u8).collect();
        std::fs::write(&base, &content).unwrap();
        let top = dir.join("top.qcow2");
        let bytes =
            vmlab_disk::qcow2::create(3 * MIB, bits, Some(("base.raw", Format::Raw))).unwrap();
        std::fs::write(&top, bytes).unwrap();
        let info = ok("qemu-img", &["info", "--output=json", p(&top)]);
        assert!(
            info.contains("\"backing-filename\": \"base.raw\""),
            "{info}"
        );
        assert!(
            info.contains(&format!("\"cluster-size\": {}", 1u64 << bits)),
            "{info}"
        );
        let mut want = content.clone();
        want.resize(3 * MIB as usize, 0);
        assert_qemu_agrees(&top, &want, &dir, "fresh overlay");
        // qemu-io writes into it; vmlab reads that; vmlab writes; qemu-img agrees.
        qemu_io("qcow2", &top, "write -P 0x99 1000 9000");
        want[1000..10_000].fill(0x99);
        {
            let mut img = open_path(p(&top), None, true).unwrap();
            assert!(read_all(&mut img) == want, "cluster bits {bits}");
            img.write(2 * MIB - 100, &[0x77; 5000]).unwrap();
            want[2 * MIB as usize - 100..2 * MIB as usize + 4900].fill(0x77);
        }
        assert_qemu_agrees(&top, &want, &dir, "overlay after writes");
        assert!(
            std::fs::read(&base).unwrap() == content,
            "the base is unchanged"
        );
    }
    assert!(
        vmlab_disk::qcow2::create(1 << 40, 9, None).is_err(),
        "too many L1 clusters"
    );
    assert!(vmlab_disk::qcow2::create(MIB, 8, None).is_err());
}
