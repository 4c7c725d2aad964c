//! The Host view's pictures: VM cards (CPU share, steal time, clock), memory bars split into private / shared / zero / ballooned / swapped, the timeline, the migration chart (pages sent and dirtied per round, downtime) and the fault-tolerant pair.

use yew::prelude::*;

use vmlab_host::host::CYCLES_PER_MS;
use vmlab_host::scenario::{Report, Scenario, VmReport};
use vmlab_hostlab::moves::{self, FtView, MigrationView};

/// The memory kinds of a bar, in drawing order: name, CSS class, colour.
const KINDS: [(&str, &str, &str); 5] = [
    ("private", "mem-private", "#3a9d5d"),
    ("shared", "mem-shared", "#3b6fd8"),
    ("zero", "mem-zero", "#d9dde3"),
    ("ballooned", "mem-ballooned", "#8a8f98"),
    ("swapped", "mem-swapped", "#d8453b"),
];

fn pages(v: &VmReport) -> [u64; 5] {
    [
        v.mem.private,
        v.mem.shared,
        v.mem.zero,
        v.mem.ballooned,
        v.mem.swapped,
    ]
}

fn ms(cycles: u64) -> f64 {
    cycles as f64 / CYCLES_PER_MS as f64
}

/// One card per VM: state, weight and cap, CPU share and steal time, its clock
/// against host time; `open` loads a VM into the lab's panels (offered for VMs of
/// `open_mib` MiB).
pub fn cards(r: &Report, open_mib: u32, open: &Callback<String>) -> Html {
    html! {
        <div class="host-cards" data-testid="host-cards">
            { for r.vms.iter().map(|v| {
                let share = v.cpu_share_permille as f64 / 10.0;
                let drift = v.host_ticks as i64 - v.guest_ticks as i64;
                let name = v.name.clone();
                let onclick = open.reform(move |_: MouseEvent| name.clone());
                let fits = v.ram_mib == open_mib && v.state != "destroyed";
                let cap = if v.cap == 0 { String::new() } else { format!(", cap {}%", v.cap) };
                html! {
                    <div class={classes!("host-card", format!("vm-{}", v.state))} data-testid={format!("host-vm-{}", v.name)}>
                        <div class="host-card-head"><strong>{ v.name.clone() }</strong>
                            <span class="small">{ format!(" {} · {} MiB · weight {}{cap}", v.state, v.ram_mib, v.weight) }</span></div>
                        <div class="host-share" title="share of the CPU time the VMs used">
                            <div class="host-share-fill" style={format!("width: {share:.1}%")}></div>
                        </div>
                        <div class="small" data-testid={format!("host-vm-{}-cpu", v.name)}>
                            { format!("CPU {share:.1}% · ran {:.1} ms · steal {:.1} ms · {} slices", ms(v.cpu.run), ms(v.cpu.steal), v.cpu.slices) }
                        </div>
                        <div class="small" data-testid={format!("host-vm-{}-clock", v.name)}>
                            { format!("clock {} ticks of {} · drift {drift} · missed {}", v.guest_ticks, v.host_ticks, v.cpu.ticks_missed) }
                        </div>
                        <div class="small">{ format!("balloon {} / {} pages · cache {} pages", v.balloon_pages, v.balloon_target, v.filled_pages) }</div>
                        <div class="small" data-testid={format!("host-vm-{}-sharing", v.name)} title="pages merged into shared machine frames, and guest stores to them that took a share-break exit">
                            { format!("sharing {} pages shared · {} merged · {} share breaks", v.mem.shared, v.mem_events.merged, v.mem_events.share_breaks) }
                        </div>
                        { super::host_procs::processes(v) }
                        <button class="small" data-testid={format!("host-open-{}", v.name)} disabled={!fits} {onclick}
                                title={ if fits { "load this VM's machine into the lab's panels".to_string() } else { format!("the lab's panels hold a {open_mib} MiB machine") } }>
                            {"Open in panels"}</button>
                    </div>
                }
            }) }
        </div>
    }
}

/// The memory picture as SVG text: one bar per VM (its guest pages by kind), and
/// the host pool's frames in use.
pub fn memory_svg(r: &Report) -> String {
    let w = 640.0;
    let row = 26.0;
    let left = 70.0;
    let most = r
        .vms
        .iter()
        .map(|v| pages(v).iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(r.pool_frames)
        .max(1) as f64;
    let scale = (w - left - 10.0) / most;
    let h = row * (r.vms.len() as f64 + 2.0) + 24.0;
    let mut s = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {w} {h}' width='100%' role='img' aria-label='guest memory by kind'>"
    );
    for (i, v) in r.vms.iter().enumerate() {
        let y = row * i as f64 + 4.0;
        s += &format!(
            "<text x='0' y='{}' font-size='12'>{}</text>",
            y + 14.0,
            escape(&v.name)
        );
        let mut x = left;
        for ((name, class, colour), n) in KINDS.iter().zip(pages(v)) {
            if n == 0 {
                continue;
            }
            let width = n as f64 * scale;
            s += &format!(
                "<rect class='{class}' x='{x:.1}' y='{y}' width='{width:.1}' height='18' fill='{colour}'><title>{}: {n} {name} pages</title></rect>",
                escape(&v.name)
            );
            x += width;
        }
    }
    let y = row * r.vms.len() as f64 + 12.0;
    let used = r.frames_in_use as f64 * scale;
    s += &format!(
        "<text x='0' y='{}' font-size='12'>pool</text><rect x='{left}' y='{y}' width='{:.1}' height='18' fill='none' stroke='#333'/><rect class='pool-used' x='{left}' y='{y}' width='{used:.1}' height='18' fill='#6b4fa8'><title>{} of {} host frames in use (peak {})</title></rect>",
        y + 14.0,
        r.pool_frames as f64 * scale,
        r.frames_in_use,
        r.pool_frames,
        r.peak_frames
    );
    let ly = y + 38.0;
    for (i, (name, _, colour)) in KINDS.iter().enumerate() {
        let x = left + i as f64 * 100.0;
        s += &format!(
            "<rect x='{x}' y='{}' width='12' height='12' fill='{colour}'/><text x='{}' y='{ly}' font-size='12'>{name}</text>",
            ly - 10.0,
            x + 16.0
        );
    }
    s += "</svg>";
    s
}

/// The memory panel: the bars and a table of the figures.
pub fn memory(r: &Report) -> Html {
    let shared: u64 = r.vms.iter().map(|v| v.mem.shared).sum();
    let swapped: u64 = r.vms.iter().map(|v| v.mem.swapped).sum();
    let ballooned: u64 = r.vms.iter().map(|v| v.mem.ballooned).sum();
    let breaks: u64 = r.vms.iter().map(|v| v.mem_events.share_breaks).sum();
    html! {
        <div class="host-memory" data-testid="host-memory">
            <div data-testid="host-memory-bars">{ Html::from_html_unchecked(AttrValue::from(memory_svg(r))) }</div>
            <p class="small" data-testid="host-memory-summary">
                { format!("pool {} frames: {} in use (peak {}, {} without sharing) · {} merged · {shared} shared · {breaks} share breaks · {ballooned} ballooned · {swapped} swapped pages",
                    r.pool_frames, r.frames_in_use, r.peak_frames, r.peak_unshared, r.merged) }
            </p>
        </div>
    }
}

/// The timeline: each entry as a mark on a time axis, and the newest as a list.
pub fn timeline(r: &Report) -> Html {
    let end = r.now.max(1) as f64;
    let w = 640.0;
    let names: Vec<&str> = r.vms.iter().map(|v| v.name.as_str()).collect();
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {w} 40' width='100%' role='img' aria-label='host events in time'><line x1='0' y1='20' x2='{w}' y2='20' stroke='#555'/>"
    );
    for e in &r.events {
        let x = e.at as f64 / end * (w - 4.0) + 2.0;
        let lane = names.iter().position(|n| *n == e.vm).unwrap_or(0);
        let colour = if e.what.contains("swap") {
            "#d8453b"
        } else if e.what.contains("balloon") {
            "#8a8f98"
        } else {
            "#3b6fd8"
        };
        svg += &format!(
            "<circle cx='{x:.1}' cy='{}' r='3' fill='{colour}'><title>{:.1} ms {}: {}</title></circle>",
            8 + (lane % 5) * 6,
            ms(e.at),
            escape(&e.vm),
            escape(&e.what)
        );
    }
    svg += &format!(
        "<text x='0' y='38' font-size='10'>0 ms</text><text x='{}' y='38' font-size='10' text-anchor='end'>{:.0} ms</text></svg>",
        w,
        ms(r.now)
    );
    html! {
        <div class="host-timeline" data-testid="host-timeline">
            { Html::from_html_unchecked(AttrValue::from(svg)) }
            <ol class="host-events small" data-testid="host-events">
                { for r.events.iter().rev().take(40).map(|e| html! {
                    <li><span class="num">{ format!("{:8.1} ms ", ms(e.at)) }</span><strong>{ e.vm.clone() }</strong>{ format!(" {}", e.what) }</li>
                }) }
            </ol>
        </div>
    }
}

/// The migration chart as SVG text: per pre-copy round, pages sent and pages dirtied
/// as a pair of bars; then the downtime against sending all memory at once.
pub fn migration_svg(m: &MigrationView) -> String {
    let w = 640.0;
    let h = 200.0;
    let base = 150.0;
    let most = m
        .rounds
        .iter()
        .map(|r| r.sent.max(r.dirtied))
        .max()
        .unwrap_or(0)
        .max(m.final_pages)
        .max(1) as f64;
    let n = m.rounds.len() + 1;
    let slot = ((w - 40.0) / n as f64).min(60.0);
    let bar = slot * 0.4;
    let mut s = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {w} {h}' width='100%' role='img' aria-label='pages sent and dirtied per round'>"
    );
    s += &format!("<line x1='30' y1='{base}' x2='{w}' y2='{base}' stroke='#555'/>");
    s += &format!("<text x='0' y='12' font-size='10'>{most} pages</text>");
    let height = |p: u64| p as f64 / most * (base - 20.0);
    for (i, r) in m.rounds.iter().enumerate() {
        let x = 34.0 + i as f64 * slot;
        let hs = height(r.sent);
        let hd = height(r.dirtied);
        s += &format!(
            "<rect class='round-sent' x='{x:.1}' y='{:.1}' width='{bar:.1}' height='{hs:.1}' fill='#3b6fd8'><title>round {i}: {} pages sent</title></rect>",
            base - hs,
            r.sent
        );
        s += &format!(
            "<rect class='round-dirtied' x='{:.1}' y='{:.1}' width='{bar:.1}' height='{hd:.1}' fill='#e69b2e'><title>round {i}: {} pages dirtied</title></rect>",
            x + bar,
            base - hd,
            r.dirtied
        );
        s += &format!(
            "<text x='{:.1}' y='{}' font-size='10' text-anchor='middle'>{i}</text>",
            x + bar,
            base + 12.0
        );
    }
    if !m.rounds.is_empty() {
        let x = 34.0 + m.rounds.len() as f64 * slot;
        let hf = height(m.final_pages);
        s += &format!(
            "<rect class='round-final' x='{x:.1}' y='{:.1}' width='{bar:.1}' height='{hf:.1}' fill='#d8453b'><title>stop-and-copy: {} pages</title></rect><text x='{:.1}' y='{}' font-size='10'>stop</text>",
            base - hf,
            m.final_pages,
            x,
            base + 12.0
        );
    }
    let longest = m.all_memory_us.max(m.downtime_us).max(1) as f64;
    let span = w - 140.0;
    for (i, (label, us, colour)) in [
        ("downtime", m.downtime_us, "#d8453b"),
        ("all memory", m.all_memory_us, "#8a8f98"),
    ]
    .iter()
    .enumerate()
    {
        let y = base + 20.0 + i as f64 * 13.0;
        s += &format!(
            "<text x='0' y='{}' font-size='10'>{label}</text><rect class='time-{}' x='70' y='{y}' width='{:.1}' height='10' fill='{colour}'/><text x='{:.1}' y='{}' font-size='10'>{:.2} ms</text>",
            y + 9.0,
            label.replace(' ', "-"),
            (*us as f64 / longest * span).max(1.0),
            75.0 + (*us as f64 / longest * span).max(1.0),
            y + 9.0,
            *us as f64 / 1000.0
        );
    }
    s += "</svg>";
    s
}

/// The migration panel: the chart, the stop rule and the guest's output on both sides.
pub fn migration(m: Option<&MigrationView>) -> Html {
    let Some(m) = m else {
        return html! {
            <div class="host-migration" data-testid="host-migration">
                <p class="small">{"No migration yet: pick a mode and a workload and press Migrate."}</p>
            </div>
        };
    };
    let what = if m.mode == "precopy" {
        format!(
            "pre-copy of the {} workload: {} rounds, stopped by {}; stop-and-copy {} pages; downtime {:.3} ms (all memory at once {:.3} ms); {} of {} pages sent",
            m.workload,
            m.rounds.len(),
            m.stop_rule,
            m.final_pages,
            m.downtime_us as f64 / 1000.0,
            m.all_memory_us as f64 / 1000.0,
            m.pages_sent,
            m.memory_pages
        )
    } else {
        format!(
            "post-copy of the {} workload: downtime {:.3} ms; {} demand faults, {} pages pre-paged; {} of {} pages sent",
            m.workload,
            m.downtime_us as f64 / 1000.0,
            m.demand_faults,
            m.prepaged,
            m.pages_sent,
            m.memory_pages
        )
    };
    html! {
        <div class="host-migration" data-testid="host-migration">
            <p data-testid="host-migration-summary">{ what }</p>
            if m.mode == "precopy" {
                <div data-testid="host-migration-chart">{ Html::from_html_unchecked(AttrValue::from(migration_svg(m))) }</div>
                <p class="small">{"Blue: pages sent in the round; orange: pages the guest dirtied meanwhile; red: the stop-and-copy phase."}</p>
            }
            <div class="row">
                <pre class="console" data-testid="host-migration-before" aria-label="serial output on the source">{ m.serial_before.clone() }</pre>
                <pre class="console" data-testid="host-migration-after" aria-label="serial output on the destination">{ m.serial_after.clone() }</pre>
            </div>
            <p class="small" data-testid="host-migration-continued">
                { if m.continued { "the guest went on on the destination where it left off" } else { "the guest did not go on on the destination" } }
            </p>
        </div>
    }
}

/// The scenario's own migration and fail-over events: per migration its summary
/// and round chart, per fail-over its output check (nothing without such events).
pub fn scenario_moves(s: &Scenario, r: &Report) -> Html {
    if r.migrations.is_empty() && r.failovers.is_empty() {
        return html! {};
    }
    let serial = |vm: &str| {
        r.vms
            .iter()
            .find(|v| v.name == vm)
            .map_or(String::new(), |v| v.serial.clone())
    };
    let workload = |vm: &str| {
        s.vms
            .iter()
            .zip(&s.placement)
            .find(|(v, _)| v.name == vm)
            .and_then(|(_, p)| p.migrate_workload.as_ref())
            .map_or("balloon".to_string(), |(w, _)| w.clone())
    };
    html! {
        <div class="host-scenario-moves" data-testid="host-scenario-moves">
            <h4>{"The scenario's moves"}</h4>
            { for r.migrations.iter().map(|m| {
                let v = moves::view_of(m, &workload(&m.vm), &serial(&m.vm));
                html! {
                    <div data-testid="host-scenario-migration">
                        <p>{ format!("{} from {} to {} at {} ms; runs again at {:.1} ms; {} bytes sent", m.vm, m.from, m.to, m.at_ms, m.resumed_at as f64 / CYCLES_PER_MS as f64, m.bytes_sent()) }</p>
                        { migration(Some(&v)) }
                    </div>
                }
            }) }
            { for r.failovers.iter().map(|f| html! {
                <p data-testid="host-scenario-failover" class={classes!(if f.output_ok() { "ok" } else { "error" })}>
                    { format!("{}: primary on {} killed at {} ms (instruction {}); the backup on {} took over at instruction {}; {} epochs of {} instructions; output {} bytes, {}",
                        f.vm, f.from, f.at_ms, f.ft.killed_at.unwrap_or(0), f.to, f.ft.takeover_at.unwrap_or(0),
                        f.ft.epochs, f.epoch, f.ft.output.len(),
                        if f.output_ok() { "no gap, no duplicate".to_string() } else { format!("{} bytes lost, {} duplicated", f.lost, f.duplicated) }) }
                </p>
            }) }
        </div>
    }
}

/// The fault-tolerant pair: who ran when, and the output the world saw against a
/// run that never failed.
pub fn ft(f: Option<&FtView>) -> Html {
    let Some(f) = f else {
        return html! {
            <div class="host-ft" data-testid="host-ft">
                <p class="small">{"No fault-tolerant run yet: pick an instruction and press Kill the primary."}</p>
            </div>
        };
    };
    let take = f.takeover_at.unwrap_or(f.kill_at);
    let end = f.kill_at.max(take).max(1) as f64 * 1.5;
    let x = |i: u64| i as f64 / end * 600.0 + 20.0;
    let svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 640 60' width='100%' role='img' aria-label='primary and backup'>\
<text x='0' y='14' font-size='10'>P</text><rect x='20' y='4' width='{:.1}' height='14' fill='#3a9d5d'><title>the primary ran to instruction {}</title></rect>\
<text x='{:.1}' y='15' font-size='12' fill='#d8453b'>✕ killed</text>\
<text x='0' y='40' font-size='10'>B</text><rect x='20' y='30' width='{:.1}' height='14' fill='#a7c7e7'><title>the backup replayed to instruction {take}</title></rect>\
<rect x='{:.1}' y='30' width='{:.1}' height='14' fill='#3b6fd8'><title>the backup runs live from instruction {take}</title></rect></svg>",
        x(f.kill_at) - 20.0,
        f.kill_at,
        x(f.kill_at) + 2.0,
        x(take) - 20.0,
        x(take),
        620.0 - x(take)
    );
    let same = f.output == f.reference;
    html! {
        <div class="host-ft" data-testid="host-ft">
            { Html::from_html_unchecked(AttrValue::from(svg)) }
            <p data-testid="host-ft-summary">
                { format!("primary killed at instruction {}; backup took over at {}; {} epochs, {} interrupts logged; released {} bytes by the primary and {} by the backup ({} withheld and made again)",
                    f.kill_at, f.takeover_at.map_or("—".to_string(), |t| t.to_string()), f.epochs, f.logged_interrupts,
                    f.released_by_primary, f.released_by_backup, f.withheld_bytes) }
            </p>
            <p data-testid="host-ft-verdict" class={classes!(if same { "ok" } else { "error" })}>
                { if same { "the world saw exactly the output of a run that never failed: no gap, no duplicate".to_string() }
                  else { format!("output differs from a run that never failed: {} bytes missing, {} extra", f.lost_bytes(), f.extra_bytes()) } }
            </p>
            <pre class="console" data-testid="host-ft-output" aria-label="the output the world saw">{ f.output.clone() }</pre>
        </div>
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}
