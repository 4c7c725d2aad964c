//! Scenario files in TOML: read into a [`Scenario`] with errors that name the file, line and key, and the run's report as text and JSON (the moves' tables in [`crate::moves_file`]).

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use emulator_core::ExecMode;
use serde::Deserialize;

use crate::guest::{Workload, MIN_RAM_MIB};
use crate::host::{HostConfig, CYCLES_PER_MS};
use crate::net::{HostNet, NetMode, RawNet};
use crate::scenario::{
    Action, HostSpec, LinkSpec, MigrateMode, Placement, Report, Scenario, TimedEvent,
};
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
/// The most hosts in one scenario.
pub const MAX_HOSTS: usize = 8;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    duration_ms: Option<u64>,
    host: RawHosts,
    #[serde(default)]
    link: Vec<RawLink>,
    #[serde(default)]
    vm: Vec<RawVm>,
    #[serde(default)]
    event: Vec<RawEvent>,
    #[serde(default)]
    net: Option<RawNet>,
}

/// One `[host]` table or several `[[host]]` tables.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawHosts {
    One(RawHost),
    Many(Vec<RawHost>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    #[serde(default)]
    name: Option<String>,
    pool_mib: u32,
    #[serde(default)]
    duration_ms: Option<u64>,
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
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    ft: Option<RawFt>,
    #[serde(default)]
    end_ticks: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFt {
    backup: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    hosts: Vec<String>,
    bandwidth: u64,
    latency_us: u64,
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
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    mode: Option<String>,
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

fn convert_host(key: &str, h: &RawHost) -> Result<HostConfig, KeyError> {
    let k = |f: &str| format!("{key}.{f}");
    check_range(&k("pool_mib"), h.pool_mib.into(), 1, MAX_POOL_MIB.into())?;
    check_range(&k("slice_us"), h.slice_us, 10, 100_000)?;
    check_range(&k("period_ms"), h.period_ms, 1, 1000)?;
    check_range(&k("scan_pages"), h.scan_pages.into(), 0, 1 << 20)?;
    let time = match &h.time {
        None => TimePolicy::default(),
        Some(t) => TimePolicy::from_name(t).ok_or_else(|| {
            let names: Vec<&str> = TimePolicy::ALL.iter().map(|p| p.name()).collect();
            err(
                k("time"),
                format!("unknown policy {t:?}; expected one of {}", names.join(", ")),
            )
        })?,
    };
    Ok(HostConfig {
        pool_mib: h.pool_mib,
        sched: CreditScheduler {
            period: h.period_ms * CYCLES_PER_MS,
            slice: h.slice_us * CYCLES_PER_MS / 1000,
        },
        scan_per_slice: h.scan_pages as usize,
        time,
    })
}

/// The hosts, the scenario's name and its duration.
fn convert_hosts(name: &str, raw: &RawFile) -> Result<(Vec<HostSpec>, String, u64), KeyError> {
    let mut hosts = Vec::new();
    let (scenario, duration) = match &raw.host {
        RawHosts::One(h) => {
            if raw.name.is_some() && h.name.is_some() {
                return Err(err(
                    "name",
                    "the scenario is named twice (here and in [host])",
                ));
            }
            hosts.push(HostSpec {
                name: "host".into(),
                config: convert_host("host", h)?,
            });
            let duration = match (raw.duration_ms, h.duration_ms) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        "host.duration_ms",
                        "duration_ms is given twice (here and at the top)",
                    ))
                }
                (a, b) => a
                    .or(b)
                    .ok_or_else(|| err("host", "missing field `duration_ms`"))?,
            };
            let n = raw.name.clone().or_else(|| h.name.clone());
            (n, duration)
        }
        RawHosts::Many(list) => {
            if list.is_empty() || list.len() > MAX_HOSTS {
                return Err(err(
                    "host",
                    format!("{} hosts; a scenario has 1 to {MAX_HOSTS}", list.len()),
                ));
            }
            for (i, h) in list.iter().enumerate() {
                let key = format!("host[{i}]");
                if h.duration_ms.is_some() {
                    return Err(err(
                        format!("{key}.duration_ms"),
                        "with several [[host]] the scenario's duration_ms goes at the top of the file",
                    ));
                }
                let Some(n) = h.name.clone().filter(|n| !n.is_empty() && n.len() <= 32) else {
                    return Err(err(
                        format!("{key}.name"),
                        "each [[host]] needs a name of 1 to 32 characters",
                    ));
                };
                if hosts.iter().any(|o: &HostSpec| o.name == n) {
                    return Err(err(
                        format!("{key}.name"),
                        format!("a host called {n:?} comes before"),
                    ));
                }
                hosts.push(HostSpec {
                    name: n,
                    config: convert_host(&key, h)?,
                });
            }
            let d = raw.duration_ms.ok_or_else(|| {
                err(
                    "host",
                    "with several [[host]] the file starts with duration_ms",
                )
            })?;
            (raw.name.clone(), d)
        }
    };
    let key = if raw.duration_ms.is_some() {
        "duration_ms"
    } else {
        "host.duration_ms"
    };
    check_range(key, duration, 1, MAX_DURATION_MS)?;
    Ok((
        hosts,
        scenario.unwrap_or_else(|| name.to_string()),
        duration,
    ))
}

fn convert_links(raw: &[RawLink], hosts: &[HostSpec]) -> Result<Vec<LinkSpec>, KeyError> {
    let mut links: Vec<LinkSpec> = Vec::new();
    for (i, l) in raw.iter().enumerate() {
        let key = |f: &str| format!("link[{i}].{f}");
        let [a, b] = l.hosts.as_slice() else {
            return Err(err(
                key("hosts"),
                "a link joins two hosts: hosts = [\"A\", \"B\"]",
            ));
        };
        for h in [a, b] {
            if !hosts.iter().any(|x| x.name == *h) {
                return Err(err(key("hosts"), format!("no host is called {h:?}")));
            }
        }
        if a == b {
            return Err(err(key("hosts"), "a link joins two different hosts"));
        }
        if links
            .iter()
            .any(|o| o.hosts.contains(a) && o.hosts.contains(b))
        {
            return Err(err(
                key("hosts"),
                format!("a link between {a} and {b} comes before"),
            ));
        }
        let link = vmlab_migrate::Link::new(l.bandwidth, l.latency_us)
            .map_err(|e| err(key("bandwidth"), e.to_string()))?;
        links.push(LinkSpec {
            hosts: [a.clone(), b.clone()],
            link,
        });
    }
    Ok(links)
}

fn convert(name: &str, raw: RawFile) -> Result<Scenario, KeyError> {
    let (hosts, scenario_name, duration_ms) = convert_hosts(name, &raw)?;
    let links = convert_links(&raw.link, &hosts)?;
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
    let mut placement: Vec<Placement> = Vec::new();
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
        let mut place = Placement::on(&hosts[0].name);
        let kernel = match v.workload.as_deref() {
            None | Some("balloon") => None,
            Some("kernel") => Some(
                crate::introspect_file::kernel_profile().map_err(|e| err(key("workload"), e))?,
            ),
            Some(w) if w.starts_with("migrate:") => {
                let name = &w["migrate:".len()..];
                if !crate::guest::MIGRATE_WORKLOADS
                    .iter()
                    .any(|(n, _)| *n == name)
                {
                    return Err(err(
                        key("workload"),
                        format!("unknown migration workload {name:?}; expected migrate:idle, migrate:moderate or migrate:diabolical"),
                    ));
                }
                let end = v.end_ticks.unwrap_or(256);
                if !(64..=65_536).contains(&end) || end % 64 != 0 {
                    return Err(err(
                        key("end_ticks"),
                        format!("is {end}; it must be a multiple of 64 from 64 to 65536"),
                    ));
                }
                place.migrate_workload = Some((name.to_string(), end));
                None
            }
            Some(other) => {
                return Err(err(
                    key("workload"),
                    format!("unknown workload {other:?}; expected balloon or kernel, or migrate:NAME (idle, moderate, diabolical)"),
                ))
            }
        };
        if v.end_ticks.is_some() && place.migrate_workload.is_none() {
            return Err(err(
                key("end_ticks"),
                "only a migration workload (migrate:NAME) takes end_ticks",
            ));
        }
        let mut w = w;
        if place.migrate_workload.is_some() {
            w.tick_div = crate::guest::MIGRATE_TICK_DIV;
        }
        if let Some(h) = &v.host {
            if !hosts.iter().any(|x| x.name == *h) {
                return Err(err(key("host"), format!("no host is called {h:?}")));
            }
            place.host = h.clone();
        }
        if let Some(ft) = &v.ft {
            let Some(b) = hosts.iter().find(|x| x.name == ft.backup) else {
                return Err(err(
                    key("ft"),
                    format!("backup: no host is called {:?}", ft.backup),
                ));
            };
            if b.name == place.host {
                return Err(err(
                    key("ft"),
                    format!("backup: {} is the host the primary runs on", b.name),
                ));
            }
            let primary = hosts.iter().find(|x| x.name == place.host);
            if primary.is_some_and(|p| p.config.time != TimePolicy::Frozen) {
                return Err(err(
                    key("ft"),
                    format!("the primary's host {} must keep time frozen (time = \"frozen\"): the backup replays by instruction count, and a clock the host moves is input the log does not carry", place.host),
                ));
            }
            place.ft_backup = Some(b.name.clone());
        }
        placement.push(place);
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
    let events = convert_events(raw.event, &vms, &placement, &hosts, &links, duration_ms)?;
    Ok(Scenario {
        name: scenario_name,
        hosts,
        links,
        vms,
        placement,
        events,
        duration_ms,
    })
}

fn convert_events(
    raw: Vec<RawEvent>,
    vms: &[VmSpec],
    placement: &[Placement],
    hosts: &[HostSpec],
    links: &[LinkSpec],
    duration_ms: u64,
) -> Result<Vec<TimedEvent>, KeyError> {
    let mut events = Vec::new();
    for (i, e) in raw.into_iter().enumerate() {
        let key = |f: &str| format!("event[{i}].{f}");
        check_range(&key("at_ms"), e.at_ms, 0, duration_ms)?;
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
            "migrate" => {
                let Some(to) = e.to.clone() else {
                    return Err(err(key("to"), "a migrate event needs to (the destination host)"));
                };
                let mode = match e.mode.as_deref() {
                    None => MigrateMode::Precopy,
                    Some(m) => MigrateMode::from_name(m).ok_or_else(|| {
                        err(key("mode"), format!("unknown mode {m:?}; expected precopy or postcopy"))
                    })?,
                };
                Action::Migrate { to, mode }
            }
            "kill-primary" => Action::KillPrimary,
            other => {
                return Err(err(
                    key("action"),
                    format!("unknown action {other:?}; expected balloon, pause, resume, snapshot, destroy, migrate or kill-primary"),
                ))
            }
        };
        if e.mib.is_some() && !matches!(action, Action::Balloon(_)) {
            return Err(err(key("mib"), "only a balloon event takes mib"));
        }
        if !matches!(action, Action::Migrate { .. }) {
            if e.to.is_some() {
                return Err(err(key("to"), "only a migrate event takes to"));
            }
            if e.mode.is_some() {
                return Err(err(key("mode"), "only a migrate event takes mode"));
            }
        }
        events.push(TimedEvent {
            at_ms: e.at_ms,
            vm: e.vm,
            action,
        });
    }
    check_moves(&events, vms, placement, hosts, links)?;
    Ok(events)
}

/// Follows each VM from host to host through the events in time order: a migration
/// goes to another host over a link, only a fault-tolerant VM's primary is killed.
fn check_moves(
    events: &[TimedEvent],
    vms: &[VmSpec],
    placement: &[Placement],
    hosts: &[HostSpec],
    links: &[LinkSpec],
) -> Result<(), KeyError> {
    let mut at: Vec<(String, Option<String>)> = placement
        .iter()
        .map(|p| (p.host.clone(), p.ft_backup.clone()))
        .collect();
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].at_ms);
    for i in order {
        let e = &events[i];
        let key = |f: &str| format!("event[{i}].{f}");
        let Some(v) = vms.iter().position(|v| v.name == e.vm) else {
            continue;
        };
        let (host, backup) = &mut at[v];
        match &e.action {
            Action::Migrate { to, .. } => {
                if backup.is_some() {
                    return Err(err(key("action"), format!("{} is fault tolerant (its backup runs on another host); it does not migrate", e.vm)));
                }
                if to == host {
                    return Err(err(
                        key("to"),
                        format!("{} is on {to} already at {} ms", e.vm, e.at_ms),
                    ));
                }
                if !hosts.iter().any(|h| h.name == *to) {
                    return Err(err(key("to"), format!("no host is called {to:?}")));
                }
                if !links
                    .iter()
                    .any(|l| l.hosts.contains(host) && l.hosts.contains(to))
                {
                    return Err(err(key("to"), format!("no [[link]] joins {host} and {to}")));
                }
                *host = to.clone();
            }
            Action::KillPrimary => {
                let Some(b) = backup.take() else {
                    return Err(err(key("action"), format!("{} is not fault tolerant (give its [[vm]] ft = {{ backup = \"HOST\" }}), or its primary died before", e.vm)));
                };
                if e.at_ms == 0 {
                    return Err(err(
                        key("at_ms"),
                        "the primary must run before it is killed (at_ms > 0)",
                    ));
                }
                *host = b;
            }
            _ => {}
        }
    }
    Ok(())
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
                "name": v.name, "host": v.host, "state": v.state, "ram_mib": v.ram_mib,
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
                "serial": v.serial,
            })
        })
        .collect();
    let events: Vec<serde_json::Value> = r
        .events
        .iter()
        .map(|e| json!({ "at_ms": ms(e.at), "vm": e.vm, "what": e.what }))
        .collect();
    let hosts: Vec<serde_json::Value> = r
        .hosts
        .iter()
        .map(|h| {
            json!({
                "name": h.name, "time_ms": ms(h.now), "idle_ms": ms(h.idle),
                "time_policy": h.time_policy, "pool_frames": h.pool_frames,
                "frames_in_use": h.frames_in_use, "peak_frames": h.peak_frames,
                "peak_unshared": h.peak_unshared, "scanned": h.scanned, "merged": h.merged,
            })
        })
        .collect();
    let (migrations, failovers) = crate::moves_file::moves_json(r);
    json!({
        "scenario": r.name,
        "host": {
            "time_ms": ms(r.now), "idle_ms": ms(r.idle), "time_policy": r.time_policy,
            "pool_frames": r.pool_frames, "frames_in_use": r.frames_in_use,
            "peak_frames": r.peak_frames, "peak_unshared": r.peak_unshared,
            "scanned": r.scanned, "merged": r.merged,
        },
        "hosts": hosts,
        "vms": vms,
        "events": events,
        "migrations": migrations,
        "failovers": failovers,
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
    if r.hosts.len() > 1 {
        for h in &r.hosts {
            let _ = writeln!(
                o,
                "host {}: pool {:.1} MiB; in use {:.1} MiB, peak {:.1} MiB; idle {:.1} ms, time policy {}",
                h.name,
                mib(h.pool_frames),
                mib(h.frames_in_use),
                mib(h.peak_frames),
                ms(h.idle),
                h.time_policy
            );
        }
    }
    let _ = writeln!(o, "\nmemory (MiB)");
    let _ = writeln!(
        o,
        "{:<10} {:<8} {:>5} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "vm",
        "host",
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
            "{:<10} {:<8} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>8.2} {:>8} {:>8} {:>8}",
            v.name,
            v.host,
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
        "{:<10} {:<8} {:>9} {:>6} {:>4} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7} {:>7}",
        "vm",
        "host",
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
            "{:<10} {:<8} {:>9} {:>6} {:>4} {:>9.1} {:>6.1}% {:>9.1} {:>7} {:>9.1} {:>7} {:>7}",
            v.name,
            v.host,
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
    o.push_str(&crate::moves_file::moves_text(r));
    let _ = writeln!(o, "\ntimeline");
    for e in &r.events {
        let _ = writeln!(o, "{:>9.1} ms  {:<10} {}", ms(e.at), e.vm, e.what);
    }
    o
}
