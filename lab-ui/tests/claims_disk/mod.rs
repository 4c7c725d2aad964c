//! The disk claims of a demo step (`[step.expect.disk]`) against the disk panel's
//! view and the counters' growth during the step.

use std::collections::BTreeMap;

use lab_ui::diskview::Where;
use lab_ui::protocol::View;
use vmlab_demos::kind_disk::DiskExpect;

/// The claims of `e` the lab does not show; `grew` gives a counter's growth.
pub fn broken(e: &DiskExpect, v: &View, grew: impl Fn(&str) -> i64) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, n) in &e.counters_at_least {
        let seen = grew(name);
        if seen < *n {
            bad.push(format!(
                "disk.counters-at-least: {name} grew by {seen}, under {n}"
            ));
        }
    }
    for (name, n) in &e.counters_at_most {
        let seen = grew(name);
        if seen > *n {
            bad.push(format!(
                "disk.counters-at-most: {name} grew by {seen}, over {n}"
            ));
        }
    }
    let Some(d) = v.disks.first() else {
        let claims = e.allocated.is_some() || e.sectors_read.is_some() || e.snapshots.is_some();
        if claims {
            bad.push("disk: the view shows no disk".into());
        }
        return bad;
    };
    let mut check = |key: &str, claim: Option<u64>, seen: u64| {
        if let Some(n) = claim {
            if n != seen {
                bad.push(format!("disk.{key}: {n} claimed, the panel shows {seen}"));
            }
        }
    };
    check("allocated", e.allocated, d.count(Where::Allocated));
    check("from-backing", e.from_backing, d.count(Where::Backing));
    let written = d.clusters.iter().filter(|c| c.written).count() as u64;
    check("copied-on-write", e.copied_on_write, written);
    let shared = d.refcounts.iter().filter(|(_, n)| *n >= 2).count() as u64;
    check("shared-clusters", e.shared_clusters, shared);
    check("snapshots", e.snapshots, d.snapshots.len() as u64);
    check("sectors-read", e.sectors_read, d.sectors_read);
    check("sectors-written", e.sectors_written, d.sectors_written);
    bad
}

/// A counter's growth between two counter maps.
pub fn growth<'a>(
    now: &'a BTreeMap<String, u64>,
    then: &'a BTreeMap<String, u64>,
) -> impl Fn(&str) -> i64 + 'a {
    move |name| {
        let get = |m: &BTreeMap<String, u64>| m.get(name).copied().unwrap_or(0) as i64;
        get(now) - get(then)
    }
}
