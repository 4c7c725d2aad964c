//! The devices panel: the PCI bus (IDs, command register, BARs, interrupt line), each virtio device with its interface (legacy or modern) and capabilities, its status and its virtqueues' descriptor table, available ring and used ring, and an NE2000's DP8390 registers, live.

use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::protocol::{Ne2000View, PciFunctionView, QueueView, VirtioView};

/// The devices panel; absent when the machine has no PCI bus.
#[function_component(Devices)]
pub fn devices() -> Html {
    let ctx = use_ctx();
    let Some(d) = ctx.state.view.as_ref().and_then(|v| v.devices.clone()) else {
        return html! {};
    };
    html! {
        <Panel id="panel-devices" title="Devices" hint="The PCI bus as configuration space shows it, and each virtio device: its status, and the rings the driver and the device share in guest memory.">
            <table class="mono small" data-testid="pci-functions">
                <thead><tr><th>{"slot"}</th><th>{"ID"}</th><th>{"device"}</th><th>{"command"}</th><th>{"BARs"}</th><th>{"IRQ"}</th></tr></thead>
                <tbody>{ for d.functions.iter().map(function) }</tbody>
            </table>
            { for d.virtio.iter().map(virtio) }
            { for d.ne2000.iter().map(ne2000) }
        </Panel>
    }
}

fn function(f: &PciFunctionView) -> Html {
    let mut cmd = Vec::new();
    for (bit, name) in [
        (1, "I/O"),
        (2, "memory"),
        (4, "bus master"),
        (0x400, "INTx off"),
    ] {
        if f.command & bit != 0 {
            cmd.push(name);
        }
    }
    let irq = match f.irq {
        (_, 0) => "—".to_string(),
        (line, pin) => format!(
            "INT{}# → line {line}",
            (b'A' + pin.saturating_sub(1).min(3)) as char
        ),
    };
    html! {
        <tr data-testid="pci-function">
            <td>{ &f.slot }</td>
            <td>{ format!("{:04x}:{:04x}", f.vendor, f.device) }</td>
            <td>{ &f.name }</td>
            <td>{ if cmd.is_empty() { "off".to_string() } else { cmd.join(", ") } }</td>
            <td>{ f.bars.join("; ") }</td>
            <td>{ irq }</td>
        </tr>
    }
}

fn virtio(v: &VirtioView) -> Html {
    html! {
        <section class="virtio" data-testid="virtio-device" data-device={v.name.clone()}>
            <h4>{ &v.name }</h4>
            <p class="small">
                {"status "}
                if v.status.is_empty() { <span class="chip">{"reset"}</span> }
                { for v.status.iter().map(|s| html! { <span class="chip" data-testid="virtio-status">{ s.clone() }</span> }) }
                { format!(" · features offered {:#x}, accepted {:#x} · interrupts {}, suppressed {}", v.features.0, v.features.1, v.interrupts.0, v.interrupts.1) }
            </p>
            <p class="small" data-testid="virtio-transport">{ format!("{} interface in use · capabilities: ", v.transport) }
                { v.caps.iter().map(|(k, b, o, l)| format!("{k} BAR{b} +{o:#x} ({l} bytes)")).collect::<Vec<_>>().join(", ") }</p>
            if let Some(e) = &v.error { <p class="error" data-testid="virtio-error">{ format!("device error: {e}") }</p> }
            { super::virtio_irq::notifications(v) }
            { for v.queues.iter().map(queue) }
        </section>
    }
}

/// The NE2000: every register the driver reaches one port access (one exit) at a
/// time, the receive ring's pages, and its counters.
fn ne2000(n: &Ne2000View) -> Html {
    let mac: Vec<String> = n.par.iter().map(|b| format!("{b:02x}")).collect();
    let (sent, received, dropped, interrupts, dma) = n.counters;
    html! {
        <section class="ne2000" data-testid="ne2000-device">
            <h4>{"NE2000 (RTL8029)"}</h4>
            <p class="small">{ format!(
                "station address {} · {sent} frames sent, {received} received, {dropped} dropped · {interrupts} interrupts · {dma} bytes by remote DMA",
                mac.join(":")
            ) }</p>
            <table class="mono small" data-testid="ne2000-registers">
                <thead><tr>{ for n.registers.iter().map(|(r, _)| html! { <th>{ r.clone() }</th> }) }</tr></thead>
                <tbody><tr>{ for n.registers.iter().map(|(_, v)| html! { <td>{ format!("{v:#04x}") }</td> }) }</tr></tbody>
            </table>
        </section>
    }
}

fn flags(f: u16) -> String {
    let mut out = Vec::new();
    if f & 1 != 0 {
        out.push("NEXT");
    }
    if f & 2 != 0 {
        out.push("WRITE");
    }
    if f & 4 != 0 {
        out.push("INDIRECT");
    }
    out.join("|")
}

fn queue(q: &QueueView) -> Html {
    let Some((desc, avail, used)) = q.layout else {
        return html! {
            <p class="small" data-testid="virtqueue">{ format!("queue {}: {} descriptors, not set up", q.index, q.size) }</p>
        };
    };
    html! {
        <div class="virtqueue" data-testid="virtqueue">
            <p class="small">{ format!(
                "queue {}: {} descriptors at {desc:#x}, available ring at {avail:#x}, used ring at {used:#x} · {} notifies, {} chains completed",
                q.index, q.size, q.notifies, q.completed
            ) }</p>
            <div class="rings">
                <table class="mono small" data-testid="virtq-descriptors">
                    <caption>{"descriptors"}</caption>
                    <thead><tr><th>{"#"}</th><th>{"address"}</th><th>{"length"}</th><th>{"flags"}</th><th>{"next"}</th></tr></thead>
                    <tbody>{ for q.descriptors.iter().map(|(i, a, l, f, n)| html! {
                        <tr><td>{ i }</td><td>{ format!("{a:#x}") }</td><td>{ l }</td><td>{ flags(*f) }</td><td>{ if f & 1 != 0 { n.to_string() } else { String::new() } }</td></tr>
                    }) }</tbody>
                </table>
                <table class="mono small" data-testid="virtq-avail">
                    <caption>{ format!("available: driver at {}, device at {}", q.avail.0, q.avail.1) }</caption>
                    <thead><tr><th>{"entry"}</th><th>{"head"}</th></tr></thead>
                    <tbody>{ for q.avail_ring.iter().map(|(p, h)| html! {
                        <tr class={classes!((*p >= q.avail.1).then_some("pending"))}><td>{ p }</td><td>{ h }</td></tr>
                    }) }</tbody>
                </table>
                <table class="mono small" data-testid="virtq-used">
                    <caption>{ format!("used: index {}", q.used) }</caption>
                    <thead><tr><th>{"entry"}</th><th>{"head"}</th><th>{"written"}</th></tr></thead>
                    <tbody>{ for q.used_ring.iter().map(|(p, id, len)| html! {
                        <tr><td>{ p }</td><td>{ id }</td><td>{ len }</td></tr>
                    }) }</tbody>
                </table>
            </div>
        </div>
    }
}
