//! Scenario files in TOML: read into a [`Scenario`] with errors that name the file, line and key, and the run's report as text and JSON.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use emulator_core::ExecMode;
use serde::Deserialize;

use crate::guest::{Workload, MIN_RAM_MIB};
use crate::host::{HostConfig, CYCLES_PER_MS};
use crate::net::{HostNet, NetMode, RawNet};
use crate::scenario::{Action, Report, Scenario, TimedEvent};
use crate::sched::CreditScheduler;
use crate::time::TimePolicy;
use crate::vm::VmSpec;

pub use vmlab_net::scenario_file::FileError;

/// The longest scenario, in ms of host time (every run is bounded).
pub const MAX_DURATION_MS: u64 = 60_000;
/// The most VMs on one host.
pub const MAX_VMS: usize = 16;
/// The largest pool, in MiB.
pub const MAX_POOL_MIB: u32 = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    host: RawHost,
    #[serde(default)]
    vm: Vec<RawVm>,
    #[serde(default)]
    event: Vec<RawEvent>,
    #[serde(default)]
    net: Option<RawNet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    #[serde(default)]
    name: Option<String>,
    pool_mib: u32,
    duration_ms: u64,
    #[serde(default = "default_slice")]
    slice_us: u64,
    #[serde(default = "default_period")]
    period_ms: u64,
    #[serde(default = "default_scan")]
    scan_pages: u32,
    #[serde(default)]
    time: Option<String>,
}

fn default_slice() -> u64 {
    1000
}
fn default_period() -> u64 {
    30
}
fn default_scan() -> u32 {
    256
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVm {
    name: String,
    ram_mib: u32,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default = "default_weight")]
    weight: u32,
    #[serde(default)]
    cap: u32,
    #[serde(default)]
    shared_pages: Option<u32>,
    #[serde(default)]
    private_pages: Option<u32>,
    #[serde(default)]
    dirty_pages: u32,
    #[serde(default)]
    work: Option<u32>,
    #[serde(default)]
    tick_div: Option<u32>,
    #[serde(default)]
    nic: Option<String>,
    workload: Option<String>,
}

fn default_weight() -> u32 {
    256
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    at_ms: u64,
    vm: String,
    action: String,
    #[serde(default)]
    mib: Option<u32>,
}

struct KeyError {
    key: String,
    message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> KeyError {
    KeyError {
        key: key.into(),
        message: message.into(),
    }
}

fn check_range(key: &str, v: u64, lo: u64, hi: u64) -> Result<(), KeyError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(err(
            key,
            format!("is {v}; it must be between {lo} and {hi}"),
        ))
    }
}

fn convert(name: &str, raw: RawFile) -> Result<Scenario, KeyError> {
    let h = raw.host;
    check_range("host.pool_mib", h.pool_mib.into(), 1, MAX_POOL_MIB.into())?;
    check_range("host.duration_ms", h.duration_ms, 1, MAX_DURATION_MS)?;
    check_range("host.slice_us", h.slice_us, 10, 100_000)?;
    check_range("host.period_ms", h.period_ms, 1, 1000)?;
    check_range("host.scan_pages", h.scan_pages.into(), 0, 1 << 20)?;
    let time = match &h.time {
        None => TimePolicy::default(),
        Some(t) => TimePolicy::from_name(t).ok_or_else(|| {
            let names: Vec<&str> = TimePolicy::ALL.iter().map(|p| p.name()).collect();
            err(
                "host.time",
                format!("unknown policy {t:?}; expected one of {}", names.join(", ")),
            )
        })?,
    };
    let host = HostConfig {
        pool_mib: h.pool_mib,
        sched: CreditScheduler {
            period: h.period_ms * CYCLES_PER_MS,
            slice: h.slice_us * CYCLES_PER_MS / 1000,
        },
        scan_per_slice: h.scan_pages as usize,
        time,
    };
    if raw.vm.is_empty() {
        return Err(err("host", "the scenario has no [[vm]]"));
    }
    if raw.vm.len() > MAX_VMS {
        return Err(err(
            format!("vm[{MAX_VMS}]"),
            format!("{} VMs; a host runs at most {MAX_VMS}", raw.vm.len()),
        ));
    }
    let mut vms: Vec<VmSpec> = Vec::new();
    for (i, v) in raw.vm.into_iter().enumerate() {
        let key = |f: &str| format!("vm[{i}].{f}");
        if v.name.is_empty() || v.name.len() > 32 {
            return Err(err(key("name"), "must be 1 to 32 characters"));
        }
        if vms.iter().any(|o| o.name == v.name) {
            return Err(err(
                key("name"),
                format!("a VM called {:?} comes before", v.name),
            ));
        }
        check_range(&key("ram_mib"), v.ram_mib.into(), MIN_RAM_MIB.into(), 1024)?;
        let mode = match &v.mode {
            None => ExecMode::HW_ASSIST,
            Some(m) => m
                .parse::<ExecMode>()
                .map_err(|e| err(key("mode"), e.to_string()))?,
        };
        if mode == ExecMode::Bare {
            return Err(err(
                key("mode"),
                "bare has no VMM; a VM runs under trap-emulate or hw-assist",
            ));
        }
        check_range(&key("weight"), v.weight.into(), 1, 65_535)?;
        check_range(&key("cap"), v.cap.into(), 0, 100)?;
        let region = Workload::region_pages(v.ram_mib);
        let d = Workload::default();
        let w = Workload {
            shared_pages: v.shared_pages.unwrap_or(d.shared_pages.min(region / 2)),
            private_pages: v.private_pages.unwrap_or(d.private_pages.min(region / 2)),
            dirty_pages: v.dirty_pages,
            work: v.work.unwrap_or(d.work),
            tick_div: v.tick_div.unwrap_or(d.tick_div),
        };
        let pages = u64::from(w.shared_pages) + u64::from(w.private_pages);
        if pages > region.into() {
            return Err(err(
                key("shared_pages"),
                format!(
                    "shared_pages + private_pages is {pages}; a {} MiB VM's cache holds at most {region}",
                    v.ram_mib
                ),
            ));
        }
        check_range(&key("dirty_pages"), w.dirty_pages.into(), 0, region.into())?;
        check_range(&key("work"), w.work.into(), 1, 1_000_000)?;
        check_range(&key("tick_div"), w.tick_div.into(), 0, 65_535)?;
        if (1..100).contains(&w.tick_div) {
            return Err(err(
                key("tick_div"),
                format!(
                    "is {}; a timer faster than 12 kHz would drown the guest (0 turns it off)",
                    w.tick_div
                ),
            ));
        }
        let kernel = match v.workload.as_deref() {
            None | Some("balloon") => None,
            Some("kernel") => Some(
                crate::introspect_file::kernel_profile().map_err(|e| err(key("workload"), e))?,
            ),
            Some(other) => {
                return Err(err(
                    key("workload"),
                    format!("unknown workload {other:?}; expected balloon or kernel"),
                ))
            }
        };
        vms.push(VmSpec {
            kernel,
            name: v.name,
            ram_mib: v.ram_mib,
            mode,
            weight: v.weight,
            cap: v.cap,
            workload: w,
        });
    }
    let mut events = Vec::new();
    for (i, e) in raw.event.into_iter().enumerate() {
        let key = |f: &str| format!("event[{i}].{f}");
        check_range(&key("at_ms"), e.at_ms, 0, h.duration_ms)?;
        let Some(vm) = vms.iter().find(|v| v.name == e.vm) else {
            return Err(err(key("vm"), format!("no [[vm]] is called {:?}", e.vm)));
        };
        let action = match e.action.as_str() {
            "balloon" => {
                let Some(mib) = e.mib else {
                    return Err(err(key("mib"), "a balloon event needs mib (the balloon's size)"));
                };
                check_range(&key("mib"), mib.into(), 0, vm.ram_mib.into())?;
                Action::Balloon(mib)
            }
            "pause" => Action::Pause,
            "resume" => Action::Resume,
            "snapshot" => Action::Snapshot,
            "destroy" => Action::Destroy,
            other => {
                return Err(err(
                    key("action"),
                    format!("unknown action {other:?}; expected balloon, pause, resume, snapshot or destroy"),
                ))
            }
        };
        if e.mib.is_some() && !matches!(action, Action::Balloon(_)) {
            return Err(err(key("mib"), "only a balloon event takes mib"));
        }
        events.push(TimedEvent {
            at_ms: e.at_ms,
            vm: e.vm,
            action,
        });
    }
    Ok(Scenario {
        name: h.name.unwrap_or_else(|| name.to_string()),
        host,
        vms,
        events,
        duration_ms: h.duration_ms,
    })
}

/// Reads a scenario from `text` (the contents of `file`).
pub fn parse(file: &str, text: &str) -> Result<Scenario, FileError> {
    parse_networked(file, text, None).map(|(s, _)| s)
}

/// Reads a scenario and its network (the `[net]` section, see [`crate::net`]) from
/// `text` (the contents of `file`); `net` (the command line's `--net`) replaces the
/// section's mode, or networks the VMs of a file without one. The network is `None`
/// when the VMs are not networked.
pub fn parse_networked(
    file: &str,
    text: &str,
    net: Option<NetMode>,
) -> Result<(Scenario, Option<HostNet>), FileError> {
    let mut raw: RawFile = vmlab_net::toml_de::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start.min(text.len()));
        FileError {
            file: file.into(),
            line: text.get(..at).map_or(1, |t| t.matches('\n').count() + 1),
            key: String::new(),
            message: e.message().trim().to_string(),
        }
    })?;
    let located = |key: String, message: String| FileError {
        file: file.into(),
        line: crate::net::locate(text, &key),
        key,
        message,
    };
    let raw_net = raw.net.take();
    let nics: Vec<Option<String>> = raw.vm.iter_mut().map(|v| v.nic.take()).collect();
    let scenario = convert(file, raw).map_err(|e| located(e.key, e.message))?;
    let vms: Vec<(String, ExecMode, Option<String>)> = scenario
        .vms
        .iter()
        .zip(nics)
        .map(|(v, nic)| (v.name.clone(), v.mode, nic))
        .collect();
    let network = crate::net::convert(raw_net, &vms, net).map_err(|e| located(e.key, e.message))?;
    Ok((scenario, network))
}

fn ms(cycles: u64) -> f64 {
    cycles as f64 / CYCLES_PER_MS as f64
}

fn mib(pages: u64) -> f64 {
    pages as f64 / 256.0
}

/// A VM's processes read from outside: the view, `{"error": ...}` when its memory
/// does not match the profile, `null` when it does not run the teaching kernel.
fn processes_json(v: &crate::scenario::VmReport) -> serde_json::Value {
    match &v.processes {
        Some(Ok(view)) => crate::introspect_file::view_json(view),
        Some(Err(e)) => serde_json::json!({ "error": e }),
        None => serde_json::Value::Null,
    }
}

/// The report as JSON.
pub fn report_json(r: &Report) -> serde_json::Value {
    use serde_json::json;
    let vms: Vec<serde_json::Value> = r
        .vms
        .iter()
        .map(|v| {
            json!({
                "name": v.name, "state": v.state, "ram_mib": v.ram_mib,
                "weight": v.weight, "cap": v.cap,
                "memory": {
                    "private": v.mem.private, "shared": v.mem.shared, "zero": v.mem.zero,
                    "ballooned": v.mem.ballooned, "swapped": v.mem.swapped,
                    "merged": v.mem_events.merged, "share_breaks": v.mem_events.share_breaks,
                    "swap_outs": v.mem_events.swap_outs, "swap_ins": v.mem_events.swap_ins,
                    "double_paged": v.mem_events.double_paged,
                    "balloon_reclaimed": v.mem_events.balloon_reclaimed,
                    "balloon_returned": v.mem_events.balloon_returned,
                    "balloon_pages": v.balloon_pages, "balloon_target": v.balloon_target,
                    "filled_pages": v.filled_pages,
                },
                "cpu": {
                    "run_ms": ms(v.cpu.run), "steal_ms": ms(v.cpu.steal),
                    "share_permille": v.cpu_share_permille, "slices": v.cpu.slices,
                    "tsc_offset_ms": ms(v.cpu.tsc_offset), "ticks_missed": v.cpu.ticks_missed,
                    "guest_ticks": v.guest_ticks, "host_ticks": v.host_ticks,
                    "work": v.work,
                },
                "processes": processes_json(v),
            })
        })
        .collect();
    let events: Vec<serde_json::Value> = r
        .events
        .iter()
        .map(|e| json!({ "at_ms": ms(e.at), "vm": e.vm, "what": e.what }))
        .collect();
    json!({
        "scenario": r.name,
        "host": {
            "time_ms": ms(r.now), "idle_ms": ms(r.idle), "time_policy": r.time_policy,
            "pool_frames": r.pool_frames, "frames_in_use": r.frames_in_use,
            "peak_frames": r.peak_frames, "peak_unshared": r.peak_unshared,
            "scanned": r.scanned, "merged": r.merged,
        },
        "vms": vms,
        "events": events,
    })
}

/// The report as text: the host line, a memory table, a CPU table and the timeline.
pub fn report_text(r: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "host {}: {:.1} ms, idle {:.1} ms, time policy {}",
        r.name,
        ms(r.now),
        ms(r.idle),
        r.time_policy
    );
    let _ = writeln!(
        o,
        "pool {:.1} MiB; in use {:.1} MiB, peak {:.1} MiB (without sharing {:.1} MiB); scanned {}, merged {}",
        mib(r.pool_frames),
        mib(r.frames_in_use),
        mib(r.peak_frames),
        mib(r.peak_unshared),
        r.scanned,
        r.merged
    );
    let _ = writeln!(o, "\nmemory (MiB)");
    let _ = writeln!(
        o,
        "{:<10} {:>5} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "vm",
        "ram",
        "private",
        "shared",
        "zero",
        "ballooned",
        "swapped",
        "breaks",
        "swap-in",
        "2x-page"
    );
    for v in &r.vms {
        let _ = writeln!(
            o,
            "{:<10} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>8.2} {:>8} {:>8} {:>8}",
            v.name,
            v.ram_mib,
            mib(v.mem.private),
            mib(v.mem.shared),
            mib(v.mem.zero),
            mib(v.mem.ballooned),
            mib(v.mem.swapped),
            v.mem_events.share_breaks,
            v.mem_events.swap_ins,
            v.mem_events.double_paged
        );
    }
    let _ = writeln!(o, "\ncpu");
    let _ = writeln!(
        o,
        "{:<10} {:>9} {:>6} {:>4} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7} {:>7}",
        "vm",
        "state",
        "weight",
        "cap",
        "run ms",
        "share",
        "steal ms",
        "slices",
        "tsc+ ms",
        "ticks",
        "should"
    );
    for v in &r.vms {
        let _ = writeln!(
            o,
            "{:<10} {:>9} {:>6} {:>4} {:>9.1} {:>6.1}% {:>9.1} {:>7} {:>9.1} {:>7} {:>7}",
            v.name,
            v.state,
            v.weight,
            v.cap,
            ms(v.cpu.run),
            v.cpu_share_permille as f64 / 10.0,
            ms(v.cpu.steal),
            v.cpu.slices,
            ms(v.cpu.tsc_offset),
            v.guest_ticks,
            v.host_ticks
        );
    }
    for v in &r.vms {
        match &v.processes {
            Some(Ok(view)) => {
                let _ = writeln!(o, "\nprocesses of {}, read from outside", v.name);
                o.push_str(&crate::introspect_file::view_text(view));
            }
            Some(Err(e)) => {
                let _ = writeln!(o, "\nprocesses of {}: {e}", v.name);
            }
            None => {}
        }
    }
    let _ = writeln!(o, "\ntimeline");
    for e in &r.events {
        let _ = writeln!(o, "{:>9.1} ms  {:<10} {}", ms(e.at), e.vm, e.what);
    }
    o
}
