//! Bad images are refused with a message naming the byte offset, and no input makes
//! the image code panic: truncations, random bytes, wrong magic, unsupported versions
//! and features, cyclic backing chains, refcount errors, L2 tables past the end.

mod common;

use common::{ok, p, scratch, Rng};
use vmlab_disk::open::open_path;
use vmlab_disk::{DiskError, Format, Image};

/// A small qcow2 image (512-byte clusters) with data, made by qemu-img and qemu-io.
fn small_image(name: &str, opts: &str) -> Vec<u8> {
    let dir = scratch(name);
    let f = dir.join("small.qcow2");
    ok(
        "qemu-img",
        &["create", "-f", "qcow2", "-o", opts, p(&f), "64k"],
    );
    ok(
        "qemu-io",
        &["-f", "qcow2", "-c", "write -P 0x7 0 3000", p(&f)],
    );
    std::fs::read(&f).unwrap()
}

fn refused(bytes: Vec<u8>) -> DiskError {
    let len = bytes.len();
    match Image::from_bytes_as(bytes, Some(Format::Qcow2), false) {
        Ok(_) => panic!("a bad image ({len} bytes) was accepted"),
        Err(e) => e,
    }
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn the_good_image_opens() {
    let good = small_image("good", "compat=1.1,cluster_size=512");
    let mut img = Image::from_bytes(good, false).unwrap();
    let mut buf = [0u8; 3000];
    img.read(0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 7));
}

#[test]
fn wrong_magic_version_and_features_name_their_offset() {
    let good = small_image("hdr", "compat=1.1,cluster_size=512");
    let mut b = good.clone();
    b[0] = b'X';
    let e = refused(b);
    assert_eq!(e.offset, Some(0), "{e}");
    assert!(e.message.contains("magic"), "{e}");
    let mut b = good.clone();
    b[7] = 4;
    let e = refused(b);
    assert_eq!(e.offset, Some(4), "{e}");
    let mut b = good.clone();
    b[79] |= 1; // incompatible bit 0: dirty
    let e = refused(b);
    assert_eq!(e.offset, Some(72), "{e}");
    assert!(e.message.contains("dirty"), "{e}");
    let mut b = good.clone();
    b[35] = 1; // AES encryption
    assert_eq!(refused(b).offset, Some(32));
    let mut b = good;
    b[23] = 30; // cluster_bits
    assert_eq!(refused(b).offset, Some(20));
}

#[test]
fn every_truncation_is_refused_without_panic() {
    let good = small_image("trunc", "compat=1.1,cluster_size=512");
    // Losing the start of the last cluster (data or table) must be refused; a last
    // cluster cut short reads as zeros after the end, as in QEMU.
    for image in [good, small_image("trunc2", "compat=0.10,cluster_size=512")] {
        let last_start = (image.len() - 1) / 512 * 512;
        for len in 0..=last_start {
            let e = refused(image[..len].to_vec());
            assert!(
                e.offset.is_some(),
                "truncated to {len}: {e} names no offset"
            );
        }
        for len in last_start + 1..image.len() {
            let _ = Image::from_bytes_as(image[..len].to_vec(), Some(Format::Qcow2), false);
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let plain = small_image("fuzz", "compat=1.1,cluster_size=512");
    let v2 = small_image("fuzz2", "compat=0.10,cluster_size=512");
    // One with an internal snapshot, so the snapshot table is mutated too.
    let dir = scratch("fuzz-snap");
    let f = dir.join("snap.qcow2");
    std::fs::write(&f, &v2).unwrap();
    ok("qemu-img", &["snapshot", "-c", "s1", p(&f)]);
    let snap = std::fs::read(&f).unwrap();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut opened = 0;
    for round in 0..4500 {
        let good = [&plain, &v2, &snap][round % 3];
        let mut b = good.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(b.len() as u64) as usize;
            b[at] = rng.next() as u8;
        }
        if let Ok(mut img) = Image::from_bytes_as(b, Some(Format::Qcow2), true) {
            opened += 1;
            let mut buf = vec![0u8; 4096];
            let _ = img.read(0, &mut buf);
            let _ = img.write(rng.below(60_000), &buf[..1 + rng.below(4000) as usize]);
            if let Some(q) = img.as_qcow2() {
                let _ = q.check();
                let _ = q.map(0, 200);
                let _ = q.create_snapshot("fuzz", 0);
                let _ = q.read_snapshot(0, 0, &mut buf);
                let _ = q.write(rng.below(60_000), &buf[..100]);
            }
        }
    }
    assert!(
        opened > 0,
        "some mutations (data bytes) leave a valid image"
    );
}

#[test]
fn refcount_errors_and_l2_tables_past_the_end_are_refused() {
    let good = small_image("meta", "compat=1.1,cluster_size=512");
    let l1 = be64(&good, 40) as usize;
    let rt = be64(&good, 48) as usize;
    let block = be64(&good, rt) as usize;
    // Where guest cluster 0's data is: through L1 entry 0 and its L2 table.
    let l2 = (be64(&good, l1) & 0x00ff_ffff_ffff_fe00) as usize;
    let data = be64(&good, l2) & 0x00ff_ffff_ffff_fe00;
    let mut b = good.clone();
    let entry = block + 2 * (data as usize / 512);
    b[entry..entry + 2].copy_from_slice(&0u16.to_be_bytes());
    let e = refused(b);
    assert_eq!(e.offset, Some(data), "{e}");
    assert!(e.message.contains("refcount"), "{e}");
    let mut b = good;
    b[l1..l1 + 8].copy_from_slice(&(0x8000_0000_0100_0000u64).to_be_bytes());
    let e = refused(b);
    assert_eq!(e.offset, Some(l1 as u64), "{e}");
    assert!(e.message.contains("past the end"), "{e}");
}

#[test]
fn cyclic_backing_chains_are_refused() {
    let dir = scratch("cycle");
    let (a, b, c) = (
        dir.join("a.qcow2"),
        dir.join("b.qcow2"),
        dir.join("c.qcow2"),
    );
    ok("qemu-img", &["create", "-f", "qcow2", p(&c), "1M"]);
    for (top, backing) in [(&b, "c.qcow2"), (&a, "b.qcow2")] {
        ok(
            "qemu-img",
            &[
                "create",
                "-f",
                "qcow2",
                "-b",
                backing,
                "-F",
                "qcow2",
                p(top),
            ],
        );
    }
    assert!(open_path(p(&a), None, false).is_ok());
    ok(
        "qemu-img",
        &[
            "rebase",
            "-u",
            "-f",
            "qcow2",
            "-b",
            "a.qcow2",
            "-F",
            "qcow2",
            p(&c),
        ],
    );
    let e = open_path(p(&a), None, false).unwrap_err();
    assert!(e.message.contains("cyclic backing chain"), "{e}");
    assert_eq!(e.offset, Some(8), "{e}");
    assert!(e.file.ends_with("c.qcow2"), "{e}");
}
