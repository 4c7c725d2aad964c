//! The figures of the Host view by name (`host.shared-permille`, `vm.b.swapped`, `migration.stop-rule`, `ft.lost-bytes`…): what host demos claim and the view labels.

use vmlab_host::scenario::{Report, VmReport};

use crate::session::HostLab;

/// The names of the host-wide figures.
pub const HOST_FIGURES: [&str; 8] = [
    "host.frames",
    "host.peak-frames",
    "host.pool-frames",
    "host.merged",
    "host.shared",
    "host.swapped",
    "host.ballooned",
    "host.shared-permille",
];
/// The names of a VM's figures (after `vm.NAME.`).
pub const VM_FIGURES: [&str; 14] = [
    "private",
    "shared",
    "shared-permille",
    "zero",
    "ballooned",
    "swapped",
    "share-permille",
    "steal-ms",
    "run-ms",
    "clock-ticks",
    "drift-ticks",
    "ticks-missed",
    "swap-outs",
    "double-paged",
];

fn vm_figure(v: &VmReport, name: &str) -> Option<i64> {
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    let ms = |c: u64| n(c / vmlab_host::host::CYCLES_PER_MS);
    Some(match name {
        "private" => n(v.mem.private),
        "shared" => n(v.mem.shared),
        "zero" => n(v.mem.zero),
        "shared-permille" => n((v.mem.shared * 1000)
            .checked_div(v.mem.shared + v.mem.private)
            .unwrap_or(0)),
        "ballooned" => n(v.mem.ballooned),
        "swapped" => n(v.mem.swapped),
        "share-permille" => n(v.cpu_share_permille),
        "steal-ms" => ms(v.cpu.steal),
        "run-ms" => ms(v.cpu.run),
        "clock-ticks" => n(v.guest_ticks),
        "drift-ticks" => n(v.host_ticks) - n(v.guest_ticks),
        "ticks-missed" => n(v.cpu.ticks_missed),
        "swap-outs" => n(v.mem_events.swap_outs),
        "double-paged" => n(v.mem_events.double_paged),
        _ => return None,
    })
}

fn host_figure(r: &Report, name: &str) -> Option<i64> {
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    let sum = |f: fn(&VmReport) -> u64| n(r.vms.iter().map(f).sum());
    Some(match name {
        "host.frames" => n(r.frames_in_use),
        "host.peak-frames" => n(r.peak_frames),
        "host.pool-frames" => n(r.pool_frames),
        "host.merged" => n(r.merged),
        "host.shared" => sum(|v| v.mem.shared),
        "host.swapped" => sum(|v| v.mem.swapped),
        "host.ballooned" => sum(|v| v.mem.ballooned),
        "host.shared-permille" => {
            let shared = sum(|v| v.mem.shared);
            let backed = sum(|v| v.mem.shared + v.mem.private);
            (shared * 1000).checked_div(backed).unwrap_or(0)
        }
        _ => return None,
    })
}

/// A figure's text and, for a number, its value; `None` for a name the view does not have.
pub fn figure(lab: &HostLab, name: &str) -> Option<(String, Option<i64>)> {
    let num = |v: i64| Some((v.to_string(), Some(v)));
    if let Some(rest) = name.strip_prefix("vm.") {
        let (vm, what) = rest.rsplit_once('.')?;
        let r = lab.report();
        let v = r.vms.iter().find(|v| v.name == vm)?;
        return num(vm_figure(v, what)?);
    }
    if name.starts_with("host.") {
        return num(host_figure(&lab.report(), name)?);
    }
    if let Some(what) = name.strip_prefix("migration.") {
        let m = lab.migration.as_ref()?;
        let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        let v = match what {
            "stop-rule" => return Some((m.stop_rule.clone(), None)),
            "workload" => return Some((m.workload.clone(), None)),
            "rounds" => n(m.rounds.len() as u64),
            "first-sent" => n(m.rounds.first().map_or(0, |r| r.sent)),
            "last-sent" => n(m.rounds.last().map_or(0, |r| r.sent)),
            "final-pages" => n(m.final_pages),
            "downtime-us" => n(m.downtime_us),
            "all-memory-us" => n(m.all_memory_us),
            "pages-sent" => n(m.pages_sent),
            "memory-pages" => n(m.memory_pages),
            "demand-faults" => n(m.demand_faults),
            "continued" => i64::from(m.continued),
            _ => return None,
        };
        return num(v);
    }
    if let Some(what) = name.strip_prefix("ft.") {
        let f = lab.ft.as_ref()?;
        let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        let v = match what {
            "lost-bytes" => n(f.lost_bytes()),
            "extra-bytes" => n(f.extra_bytes()),
            "same-output" => i64::from(f.output == f.reference),
            "took-over" => i64::from(f.takeover_at.is_some()),
            "released-by-backup" => n(f.released_by_backup),
            "withheld-bytes" => n(f.withheld_bytes),
            _ => return None,
        };
        return num(v);
    }
    None
}
