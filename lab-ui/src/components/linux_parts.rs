//! The process VM's run, part by part, each a panel a demo step can focus: the
//! container (root, host name, pids, mounts, memory and CPU limits, with bars), the
//! process table, the system calls as strace lists them, and the four-way table.

use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::worker::linux::LinuxReport;
use crate::worker::linux_setup::ContainerView;

/// A bar `part / whole` wide, labelled, as an SVG picture.
fn bar(testid: &'static str, label: String, part: u64, whole: u64) -> Html {
    let frac = if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).clamp(0.0, 1.0)
    };
    let w = format!("{:.1}", 400.0 * frac);
    html! {
        <figure class="linux-bar-box">
            <svg class="picture linux-bar" data-testid={testid} viewBox="0 0 400 18" preserveAspectRatio="none" role="img" aria-label={label.clone()}
                 data-part={part.to_string()} data-whole={whole.to_string()}>
                <rect x="0" y="2" width="400" height="14" class="whole"/>
                <rect x="0" y="2" width={w} height="14" class="part"/>
            </svg>
            <figcaption>{ label }</figcaption>
        </figure>
    }
}

/// MiB with one decimal.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// The container the program ran in, as the program sees it and as the host does.
fn container(c: &ContainerView) -> Html {
    let (host_pid, inside) = c.pid;
    let memory = match c.mem_limit {
        Some(cap) => bar(
            "linux-mem-bar",
            format!(
                "memory: {} mapped at most of a {} cap",
                mib(c.peak_bytes),
                mib(cap)
            ),
            c.peak_bytes,
            cap,
        ),
        None => {
            html! { <p class="small">{ format!("memory: {} mapped at most, no cap", mib(c.peak_bytes)) }</p> }
        }
    };
    let cpu = match c.cpu_quota {
        Some((quota, period)) => bar(
            "linux-cpu-bar",
            format!(
                "CPU: {quota} instructions per {period} ns; held back {} of {} ns in {} periods",
                c.throttled.0, c.elapsed_ns, c.throttled.1
            ),
            c.throttled.0,
            c.elapsed_ns,
        ),
        None => {
            html! { <p class="small">{ format!("CPU: no quota; {} virtual ns", c.elapsed_ns) }</p> }
        }
    };
    html! {
        <div data-testid="linux-container">
            <table class="strace">
                <caption>{"What the program sees, and what the host sees"}</caption>
                <tbody>
                    <tr><th scope="row">{"host name"}</th><td><code data-testid="linux-view-hostname">{ c.hostname.clone() }</code></td></tr>
                    <tr><th scope="row">{"root"}</th><td><code data-testid="linux-view-root">{ c.root.clone() }</code>{ format!(" of the host ({} chroot)", c.chroot) }</td></tr>
                    <tr><th scope="row">{"pid"}</th><td data-testid="linux-view-pid">{ match inside {
                        Some(n) => format!("{n} inside its PID namespace, {host_pid} on the host"),
                        None => format!("{host_pid}, the host's (no PID namespace)"),
                    } }</td></tr>
                </tbody>
            </table>
            if !c.mounts.is_empty() {
                <table class="strace" data-testid="linux-mounts-table">
                    <caption>{"Mounts"}</caption>
                    <thead><tr><th scope="col">{"at (host path)"}</th><th scope="col">{"from"}</th><th scope="col">{"mode"}</th></tr></thead>
                    <tbody>
                        { for c.mounts.iter().map(|(at, from, ro)| html! {
                            <tr><td><code>{ at.clone() }</code></td><td><code>{ from.clone() }</code></td><td>{ if *ro { "read-only" } else { "read-write" } }</td></tr>
                        }) }
                    </tbody>
                </table>
            }
            { memory }
            { cpu }
        </div>
    }
}

/// The same program as a process, in a container and as a unikernel.
fn ways_table(r: &LinuxReport) -> Html {
    if r.ways.is_empty() {
        return html! { <p class="small">{"Tick “compare” and run, or open the container-vs-vm demo: the program runs as a process, in the container, as a unikernel and as a VM."}</p> };
    }
    html! {
        <div class="strace-wrap"><table class="strace" data-testid="linux-ways">
            <caption>{"The same program four ways: a process, a container, a unikernel, a VM"}</caption>
            <thead><tr>
                <th scope="col">{"way"}</th><th scope="col">{"isolation"}</th>
                <th scope="col">{"status"}</th><th scope="col">{"instructions"}</th>
                <th scope="col">{"system calls"}</th><th scope="col">{"ring switches"}</th>
                <th scope="col">{"VM exits"}</th>
                <th scope="col">{"context switches"}</th><th scope="col">{"pages at load / most"}</th>
                <th scope="col">{"virtual ns (throttled)"}</th><th scope="col">{"same output"}</th>
            </tr></thead>
            <tbody>
                { for r.ways.iter().map(|w| html! {
                    <tr data-way={w.way.clone()}>
                        <th scope="row">{ w.way.clone() }</th><td>{ w.isolation.clone() }</td>
                        <td class="num">{ w.status }</td><td class="num">{ w.instructions }</td>
                        <td class="num">{ w.syscalls }</td><td class="num">{ w.ring_switches }</td>
                        <td class="num">{ w.vm_exits }</td>
                        <td class="num">{ w.switches }</td>
                        <td class="num">{ format!("{} / {}", w.load_pages, w.peak_pages) }</td>
                        <td class="num">{ format!("{} ({})", w.elapsed_ns, w.throttled_ns) }</td>
                        <td>{ if w.same_output { "yes" } else { "no" } }</td>
                    </tr>
                }) }
            </tbody>
        </table></div>
    }
}

/// The process table: the host's pids beside the namespace's.
fn process_table(r: &LinuxReport) -> Html {
    let ns = r.processes.iter().any(|p| p.ns_pid.is_some());
    html! {
        <div class="strace-wrap"><table class="strace" data-testid="linux-processes">
            <caption>{"Processes, as the host sees them"}</caption>
            <thead><tr>
                <th scope="col">{"pid"}</th>
                if ns { <th scope="col">{"pid inside"}</th> }
                <th scope="col">{"parent"}</th><th scope="col">{"program"}</th>
                <th scope="col">{"state"}</th><th scope="col">{"end"}</th>
                <th scope="col">{"instructions"}</th><th scope="col">{"calls"}</th>
            </tr></thead>
            <tbody>
                { for r.processes.iter().map(|p| html! {
                    <tr>
                        <td class="num">{ p.pid }</td>
                        if ns { <td class="num">{ p.ns_pid.map(|n| n.to_string()).unwrap_or_default() }</td> }
                        <td class="num">{ p.ppid }</td><td><code>{ p.program.clone() }</code></td>
                        <td>{ p.state.clone() }</td><td>{ p.end.clone() }</td>
                        <td class="num">{ p.instructions }</td><td class="num">{ p.syscalls }</td>
                    </tr>
                }) }
            </tbody>
        </table></div>
    }
}

/// The system calls, the newest marked.
fn strace(r: &LinuxReport) -> Html {
    let last = r.calls.len().checked_sub(1);
    let caption = if r.paused {
        format!(
            "System calls, as strace shows them: {} of {}",
            r.calls.len(),
            r.total_calls
        )
    } else {
        "System calls, as strace shows them".to_string()
    };
    html! {
        <div class="strace-wrap"><table class="strace" data-testid="linux-strace">
            <caption>{ caption }</caption>
            <thead><tr><th scope="col">{"at instruction"}</th><th scope="col">{"pid"}</th><th scope="col">{"call"}</th><th scope="col">{"result"}</th></tr></thead>
            <tbody>
                { for r.calls.iter().enumerate().map(|(i, c)| html! {
                    <tr class={classes!((Some(i) == last && r.paused).then_some("newest"))}>
                        <td class="num">{ c.icount }</td><td class="num">{ c.pid }</td><td><code>{ c.call.clone() }</code></td><td><code>{ c.result.clone() }</code></td>
                    </tr>
                }) }
            </tbody>
        </table></div>
    }
}

/// The four parts of a Linux run, each its own panel.
#[function_component(LinuxParts)]
pub fn linux_parts() -> Html {
    let ctx = use_ctx();
    let report = match ctx.state.linux.as_deref() {
        Some(Ok(r)) => Some(r),
        _ => None,
    };
    // A paused step's newest call scrolls into the strace list's view.
    let newest = report.filter(|r| r.paused).map(|r| r.calls.len());
    use_effect_with(newest, |newest| {
        if newest.is_some() {
            let row = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| {
                    d.query_selector("[data-testid=linux-strace] tr.newest")
                        .ok()
                })
                .flatten();
            if let Some(row) = row {
                let opts = web_sys::ScrollIntoViewOptions::new();
                opts.set_block(web_sys::ScrollLogicalPosition::Nearest);
                row.scroll_into_view_with_scroll_into_view_options(&opts);
            }
        }
    });
    let part = |f: fn(&LinuxReport) -> Html| {
        report.map_or_else(
            || html! { <p class="small">{"Run a program in the Linux process VM panel."}</p> },
            f,
        )
    };
    html! {
        <>
            <Panel id="panel-linux-container" title="Container" hint="The program's root, host name and pids as it sees them and as the host does; its mounts, memory cap and CPU share.">
                { part(|r| container(&r.container)) }
            </Panel>
            <Panel id="panel-linux-processes" title="Process table" hint="Every process of the run: the host's pid, the pid inside a PID namespace, its state and how it ended.">
                { part(process_table) }
            </Panel>
            <Panel id="panel-linux-strace" title="System calls" hint="Each int 0x80 with its decoded arguments and result, as strace prints them.">
                { part(strace) }
            </Panel>
            <Panel id="panel-linux-ways" title="Process, container, unikernel, VM" hint="The same program four ways, side by side: instructions, system calls, ring switches, VM exits, pages and virtual time.">
                { part(ways_table) }
            </Panel>
        </>
    }
}
