//! `vmlab disk info|check|map`: what an image is, whether its refcounts hold, and
//! where each guest cluster lives (L1 → L2 → host offset, or the backing file).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use vmlab_disk::open::{open_path, open_path_for_check};
use vmlab_disk::qcow2::{ClusterMap, Location};
use vmlab_disk::{Format, Image};

/// Exit status of `check` when the image has errors (as `qemu-img check`).
const EXIT_CORRUPT: u8 = 2;
/// Exit status of `check` when the image only leaks clusters (as `qemu-img check`).
const EXIT_LEAKS: u8 = 3;
/// Exit status for an image that cannot be opened.
const EXIT_BAD_IMAGE: u8 = 1;

/// `vmlab disk`.
#[derive(Args, Debug)]
pub struct DiskArgs {
    #[command(subcommand)]
    command: DiskCommand,
}

#[derive(Subcommand, Debug)]
enum DiskCommand {
    /// Format, sizes, qcow2 header fields, backing chain and snapshots.
    Info(ImageArgs),
    /// Count every reference to every cluster and compare with the refcounts.
    Check(ImageArgs),
    /// Each guest cluster: its L1 and L2 entries and where its bytes are.
    Map(MapArgs),
    /// Take an internal snapshot of a qcow2 image (as `qemu-img snapshot -c`).
    Snapshot(SnapshotArgs),
    /// Create a qcow2 v3 image, empty or as an overlay on a backing file.
    Create(CreateArgs),
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// The new image (an existing file is not overwritten).
    file: String,
    /// The virtual size (bytes, or with K, M, G); the backing file's size by default.
    #[arg(long)]
    size: Option<String>,
    /// The cluster size in bytes (a power of two, 512 to 2M).
    #[arg(long, default_value = "65536")]
    cluster_size: String,
    /// The backing file, as the image stores it (relative to the image's folder).
    #[arg(long)]
    backing: Option<String>,
    /// The backing file's format (probed when not given).
    #[arg(long, value_parser = ["raw", "qcow2"])]
    backing_format: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct SnapshotArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// The snapshot's name.
    name: String,
}

#[derive(Args, Debug)]
struct ImageArgs {
    /// The image file.
    file: String,
    /// The image format (probed from the magic when not given).
    #[arg(long, value_parser = ["raw", "qcow2"])]
    format: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct MapArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// The first guest cluster.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// How many clusters (all when not given).
    #[arg(long)]
    count: Option<u64>,
}

fn format_of(a: &ImageArgs) -> Result<Option<Format>, String> {
    a.format
        .as_deref()
        .map(Format::parse)
        .transpose()
        .map_err(|e| e.to_string())
}

/// `vmlab disk …`.
pub fn main(args: DiskArgs) -> ExitCode {
    let (json_out, r) = match &args.command {
        DiskCommand::Info(a) => (a.json, info(a)),
        DiskCommand::Check(a) => (a.json, check(a)),
        DiskCommand::Map(a) => (a.image.json, map(a)),
        DiskCommand::Snapshot(a) => (a.image.json, snapshot(a)),
        DiskCommand::Create(a) => (a.json, create(a)),
    };
    match r {
        Ok((out, status)) => {
            println!("{out}");
            ExitCode::from(status)
        }
        Err(e) => {
            if json_out {
                println!("{}", json!({ "error": e }));
            }
            eprintln!("vmlab disk: {e}");
            ExitCode::from(EXIT_BAD_IMAGE)
        }
    }
}

fn chain(img: &Image) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cur = img.backing();
    while let Some(b) = cur {
        out.push(json!({ "format": b.format().name(), "size": b.size() }));
        cur = b.backing();
    }
    out
}

fn info(a: &ImageArgs) -> Result<(String, u8), String> {
    let mut img = open_path(&a.file, format_of(a)?, false).map_err(|e| e.to_string())?;
    let backing_chain = chain(&img);
    let mut v = json!({
        "file": a.file,
        "format": img.format().name(),
        "virtual_size": img.size(),
        "backing_chain": backing_chain,
    });
    if let Some(q) = img.as_qcow2() {
        let h = q.header.clone();
        let report = q.check().map_err(|e| e.to_string())?;
        let snapshots: Vec<Value> = q
            .snapshots
            .iter()
            .map(|s| {
                json!({ "id": s.id, "name": s.name, "date_sec": s.date_sec,
                        "vm_state_size": s.vm_state_size, "disk_size": s.disk_size,
                        "l1_table_offset": s.l1_table_offset, "l1_size": s.l1.len() })
            })
            .collect();
        v["qcow2"] = json!({
            "version": h.version,
            "cluster_size": h.cluster_size(),
            "refcount_bits": 1u64 << h.refcount_order,
            "l1_size": h.l1_size,
            "l1_table_offset": h.l1_table_offset,
            "refcount_table_offset": h.refcount_table_offset,
            "refcount_table_clusters": h.refcount_table_clusters,
            "backing_file": h.backing_file,
            "backing_format": h.backing_format,
            "file_size": q.file_len(),
            "allocated_clusters": report.allocated_clusters,
            "guest_clusters": report.guest_clusters,
            "snapshots": snapshots,
        });
    }
    if a.json {
        return Ok((serde_json::to_string_pretty(&v).unwrap_or_default(), 0));
    }
    let mut t = format!(
        "image: {}\nformat: {}\nvirtual size: {} bytes\n",
        a.file,
        img.format().name(),
        img.size()
    );
    if let Some(q) = v.get("qcow2") {
        for key in [
            "version",
            "cluster_size",
            "refcount_bits",
            "l1_size",
            "file_size",
            "allocated_clusters",
            "guest_clusters",
            "backing_file",
            "backing_format",
        ] {
            t.push_str(&format!("{key}: {}\n", q[key]));
        }
        for s in q["snapshots"].as_array().into_iter().flatten() {
            t.push_str(&format!(
                "snapshot {} {}: disk size {}\n",
                s["id"], s["name"], s["disk_size"]
            ));
        }
    }
    t.push_str(&format!("backing chain: {}", img.describe()));
    Ok((t, 0))
}

fn check(a: &ImageArgs) -> Result<(String, u8), String> {
    let mut img = open_path_for_check(&a.file, format_of(a)?).map_err(|e| e.to_string())?;
    let Some(q) = img.as_qcow2() else {
        let v = json!({ "file": a.file, "format": "raw", "errors": [], "leaks": [] });
        let t = format!("{}: a raw image has no metadata to check", a.file);
        return Ok((if a.json { v.to_string() } else { t }, 0));
    };
    let r = q.check().map_err(|e| e.to_string())?;
    let status = if !r.errors.is_empty() {
        EXIT_CORRUPT
    } else if !r.leaks.is_empty() {
        EXIT_LEAKS
    } else {
        0
    };
    let msgs = |v: &[vmlab_disk::DiskError]| -> Vec<Value> {
        v.iter()
            .map(|e| json!({ "offset": e.offset, "message": e.message }))
            .collect()
    };
    if a.json {
        let v = json!({
            "file": a.file,
            "format": "qcow2",
            "errors": msgs(&r.errors),
            "leaks": msgs(&r.leaks),
            "allocated_clusters": r.allocated_clusters,
            "guest_clusters": r.guest_clusters,
            "file_clusters": r.file_clusters,
        });
        return Ok((serde_json::to_string_pretty(&v).unwrap_or_default(), status));
    }
    let mut t = String::new();
    for e in &r.errors {
        t.push_str(&format!("ERROR {e}\n"));
    }
    for e in &r.leaks {
        t.push_str(&format!("Leaked {e}\n"));
    }
    if status == 0 {
        t.push_str("No errors were found on the image.\n");
    } else {
        t.push_str(&format!(
            "{} errors, {} leaked clusters\n",
            r.errors.len(),
            r.leaks.len()
        ));
    }
    t.push_str(&format!(
        "{}/{} guest clusters allocated in this file",
        r.allocated_clusters, r.guest_clusters
    ));
    Ok((t, status))
}

fn location(m: &ClusterMap) -> (String, Value) {
    match m.location {
        Location::Here(h) => (
            format!("data at {h:#x}"),
            json!({ "kind": "data", "host_offset": h }),
        ),
        Location::Zero => ("zeros (zero flag)".into(), json!({ "kind": "zero" })),
        Location::Compressed => ("compressed".into(), json!({ "kind": "compressed" })),
        Location::Unallocated => (
            "unallocated (zeros)".into(),
            json!({ "kind": "unallocated" }),
        ),
        Location::Backing { depth, host } => (
            match host {
                Some(h) => format!("backing file {depth} at {h:#x}"),
                None => format!("backing file {depth}, zeros"),
            },
            json!({ "kind": "backing", "depth": depth, "host_offset": host }),
        ),
    }
}

fn map(a: &MapArgs) -> Result<(String, u8), String> {
    let mut img =
        open_path(&a.image.file, format_of(&a.image)?, false).map_err(|e| e.to_string())?;
    let Some(q) = img.as_qcow2() else {
        let t = format!("{}: raw: guest byte N is file byte N", a.image.file);
        let v = json!({ "file": a.image.file, "format": "raw", "clusters": [] });
        return Ok((if a.image.json { v.to_string() } else { t }, 0));
    };
    let cs = q.cluster_size();
    let rows = q
        .map(a.first, a.count.unwrap_or(u64::MAX))
        .map_err(|e| e.to_string())?;
    if a.image.json {
        let clusters: Vec<Value> = rows
            .iter()
            .map(|m| {
                json!({
                    "guest_cluster": m.guest_cluster,
                    "guest_offset": m.guest_offset,
                    "first_sector": m.guest_offset / 512,
                    "l1_index": m.l1_index,
                    "l1_entry_offset": m.l1_entry_offset,
                    "l2_table": m.l2_table,
                    "l2_index": m.l2_index,
                    "l2_entry_offset": m.l2_entry_offset,
                    "location": location(m).1,
                    "shared_with_backing": m.shared_with_backing(),
                })
            })
            .collect();
        let v = json!({ "file": a.image.file, "format": "qcow2", "cluster_size": cs, "clusters": clusters });
        return Ok((serde_json::to_string_pretty(&v).unwrap_or_default(), 0));
    }
    let mut t = format!(
        "{}: qcow2, {cs}-byte clusters ({} sectors each)\n{:>8} {:>10} {:>5} {:>10} {:>5} {:>10}  location\n",
        a.image.file,
        cs / 512,
        "cluster",
        "sector",
        "L1",
        "L2 table",
        "L2",
        "L2 entry"
    );
    for m in &rows {
        let l2e = m
            .l2_entry_offset
            .map_or_else(|| "-".to_string(), |o| format!("{o:#x}"));
        t.push_str(&format!(
            "{:>8} {:>10} {:>5} {:>10} {:>5} {:>10}  {}{}\n",
            m.guest_cluster,
            m.guest_offset / 512,
            m.l1_index,
            format!("{:#x}", m.l2_table),
            m.l2_index,
            l2e,
            location(m).0,
            if m.shared_with_backing() {
                " (shared with backing)"
            } else {
                ""
            }
        ));
    }
    Ok((t.trim_end().to_string(), 0))
}

fn snapshot(a: &SnapshotArgs) -> Result<(String, u8), String> {
    let mut img =
        open_path(&a.image.file, format_of(&a.image)?, true).map_err(|e| e.to_string())?;
    let Some(q) = img.as_qcow2() else {
        return Err(format!("{}: a raw image has no snapshots", a.image.file));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().min(u64::from(u32::MAX)) as u32);
    q.create_snapshot(&a.name, now)
        .map_err(|e| e.in_file(&a.image.file).to_string())?;
    q.flush().map_err(|e| e.to_string())?;
    let s = q.snapshots.last().cloned();
    let id = s.as_ref().map(|s| s.id.clone()).unwrap_or_default();
    let v = json!({ "file": a.image.file, "id": id, "name": a.name,
                    "l1_table_offset": s.map(|s| s.l1_table_offset) });
    let t = format!("{}: snapshot {id} {:?} taken", a.image.file, a.name);
    Ok((if a.image.json { v.to_string() } else { t }, 0))
}

/// Bytes from `N`, `NK`, `NM` or `NG`.
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, shift) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 10),
        Some((i, 'M' | 'm')) => (&s[..i], 20),
        Some((i, 'G' | 'g')) => (&s[..i], 30),
        _ => (s, 0),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("bad size {s:?}: a number of bytes, or with K, M or G"))
}

fn create(a: &CreateArgs) -> Result<(String, u8), String> {
    let path = std::path::Path::new(&a.file);
    if path.exists() {
        return Err(format!(
            "{}: exists; vmlab disk create does not overwrite",
            a.file
        ));
    }
    let cluster = parse_size(&a.cluster_size)?;
    if !cluster.is_power_of_two() {
        return Err(format!("--cluster-size {cluster} is not a power of two"));
    }
    let mut backing = None;
    let mut size = a.size.as_deref().map(parse_size).transpose()?;
    if let Some(b) = &a.backing {
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let at = dir.join(b);
        let forced = a
            .backing_format
            .as_deref()
            .map(Format::parse)
            .transpose()
            .map_err(|e| e.to_string())?;
        let img = open_path(&at.display().to_string(), forced, false).map_err(|e| e.to_string())?;
        size = size.or(Some(img.size()));
        backing = Some((b.as_str(), img.format()));
    }
    let size = size.ok_or("give --size, or --backing to take its size")?;
    let bytes = vmlab_disk::qcow2::create(size, cluster.trailing_zeros(), backing)
        .map_err(|e| e.in_file(&a.file).to_string())?;
    std::fs::write(path, &bytes).map_err(|e| format!("{}: cannot write: {e}", a.file))?;
    let v = json!({ "file": a.file, "format": "qcow2", "virtual_size": size,
                    "cluster_size": cluster, "backing_file": a.backing,
                    "backing_format": backing.map(|b| b.1.name()) });
    let t = format!(
        "{}: qcow2, {size} bytes, {cluster}-byte clusters{}",
        a.file,
        a.backing
            .as_deref()
            .map(|b| format!(", backed by {b}"))
            .unwrap_or_default()
    );
    Ok((if a.json { v.to_string() } else { t }, 0))
}
