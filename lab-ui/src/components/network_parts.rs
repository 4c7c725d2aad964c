//! The network panel's parts: the topology picture (machines, switches, tunnel endpoints, links, the overlay tunnel), the MAC and flow tables, packets per port with pcap downloads, the last frames and the machines' consoles.

use std::fmt::Write as _;

use vmlab_net::network::Node;
use vmlab_netlab::NetLab;
use yew::prelude::*;

use super::pictures::svg::esc;

/// Frames the "last frames" part lists.
pub const LAST_FRAMES: usize = 12;

const BOX_W: f64 = 190.0;
const BOX_H: f64 = 64.0;
const COL_W: f64 = 300.0;
const ROW_H: f64 = 130.0;

/// The picture's column of a node kind: machines and endpoints left, switches in
/// the middle, tunnel endpoints and NATs right.
fn column(kind: &str) -> usize {
    match kind {
        "vm" | "endpoint" => 0,
        "switch" => 1,
        _ => 2,
    }
}

fn colour(kind: &str) -> &'static str {
    match kind {
        "vm" => "#d7ecff",
        "endpoint" => "#e8e8e8",
        "switch" => "#ffe9c7",
        "vtep" => "#dff5d8",
        _ => "#f3dcf5",
    }
}

/// The topology as SVG: a box per node (name, kind, MAC or VNI), a line per link
/// with its port numbers; a link between two tunnel endpoints is drawn as the
/// underlay with the VXLAN tunnel inside it.
pub fn topology(lab: &NetLab) -> Html {
    let net = lab.network();
    let nodes = lab.nodes();
    let mut rows = [0usize; 3];
    let mut at: Vec<(f64, f64)> = Vec::new();
    for n in &nodes {
        let c = column(n.kind);
        at.push((20.0 + c as f64 * COL_W, 20.0 + rows[c] as f64 * ROW_H));
        rows[c] += 1;
    }
    let height = 40.0 + rows.iter().max().copied().unwrap_or(1) as f64 * ROW_H;
    // room right of the last column for the tunnel and its label
    let width = 40.0 + 2.0 * COL_W + BOX_W + 80.0;
    let index = |name: &str| nodes.iter().position(|n| n.name == name);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 {width} {height}\" role=\"img\" aria-labelledby=\"net-topo-title net-topo-desc\" class=\"net-topology\" data-testid=\"net-topology-svg\">"
    );
    let desc: Vec<String> = lab
        .links()
        .iter()
        .map(|(a, b)| format!("{a} to {b}"))
        .collect();
    let _ = write!(
        svg,
        "<title id=\"net-topo-title\">The network's topology</title><desc id=\"net-topo-desc\">{} nodes; links: {}</desc>",
        nodes.len(),
        esc(&desc.join("; "))
    );
    for (a, b) in lab.links() {
        let split = |p: &str| {
            let (n, port) = p.rsplit_once(':').unwrap_or((p, "0"));
            (index(n), port.to_string())
        };
        let ((Some(ia), pa), (Some(ib), pb)) = (split(&a), split(&b)) else {
            continue;
        };
        let (ax, ay) = (at[ia].0 + BOX_W / 2.0, at[ia].1 + BOX_H / 2.0);
        let (bx, by) = (at[ib].0 + BOX_W / 2.0, at[ib].1 + BOX_H / 2.0);
        let tunnel = nodes[ia].kind == "vtep" && nodes[ib].kind == "vtep";
        if tunnel {
            let vni = match net.node(&nodes[ia].name) {
                Some(Node::Vtep(v)) => v.vni,
                _ => 0,
            };
            let (x, y1, y2) = (at[ia].0 + BOX_W + 30.0, ay, by);
            let _ = write!(
                svg,
                "<path d=\"M{} {ay} H{x} V{y2} H{}\" fill=\"none\" stroke=\"#8a8a8a\" stroke-width=\"14\" data-link=\"underlay\"/>\
                 <path d=\"M{} {ay} H{x} V{y2} H{}\" fill=\"none\" stroke=\"#2e8b57\" stroke-width=\"4\" stroke-dasharray=\"10 6\" data-link=\"tunnel\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"16\" transform=\"rotate(90 {} {})\" text-anchor=\"middle\">VXLAN VNI {vni} in UDP:4789</text>",
                at[ia].0 + BOX_W,
                at[ib].0 + BOX_W,
                at[ia].0 + BOX_W,
                at[ib].0 + BOX_W,
                x + 18.0,
                (y1 + y2) / 2.0,
                x + 18.0,
                (y1 + y2) / 2.0,
            );
        } else {
            let _ = write!(
                svg,
                "<line x1=\"{ax}\" y1=\"{ay}\" x2=\"{bx}\" y2=\"{by}\" stroke=\"#555\" stroke-width=\"3\" data-link=\"{}\"/>",
                esc(&format!("{a}-{b}"))
            );
            // the port numbers beside each end
            for (x, y, ox, oy, p) in [(ax, ay, bx, by, &pa), (bx, by, ax, ay, &pb)] {
                let (lx, ly) = (x + (ox - x) * 0.3, y + (oy - y) * 0.3 - 6.0);
                let _ = write!(
                    svg,
                    "<text x=\"{lx}\" y=\"{ly}\" font-size=\"15\" fill=\"#333\">:{}</text>",
                    esc(p)
                );
            }
        }
    }
    for (n, (x, y)) in nodes.iter().zip(&at) {
        let detail = match net.node(&n.name) {
            Some(Node::Vtep(v)) => format!("{} VNI {}", v.ip, v.vni),
            Some(Node::Switch(s)) => format!("{} ports", s.ports()),
            Some(Node::Endpoint(e)) => e.ip.to_string(),
            Some(Node::Vm(_)) => lab
                .machines()
                .vm(&n.name)
                .map(|v| format!("{} · {}", v.mode, v.stop_name()))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let _ = write!(
            svg,
            "<g data-node=\"{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"{}\" stroke=\"#333\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"20\" font-weight=\"bold\">{} <tspan font-weight=\"normal\" font-size=\"15\">{}</tspan></text>\
             <text x=\"{}\" y=\"{}\" font-size=\"15\">{}</text></g>",
            esc(&n.name),
            colour(n.kind),
            x + 8.0,
            y + 24.0,
            esc(&n.name),
            n.kind,
            x + 8.0,
            y + 50.0,
            esc(&detail)
        );
    }
    svg.push_str("</svg>");
    Html::from_html_unchecked(AttrValue::from(svg))
}

/// Every switch's MAC table: MAC, port, age in ticks.
pub fn macs(lab: &NetLab) -> Html {
    let net = lab.network();
    let now = net.now();
    html! {
        <div data-testid="net-mac-tables">
            { for net.nodes().filter_map(|(name, n)| match n { Node::Switch(s) => Some((name, s)), _ => None }).map(|(name, s)| {
                let entries = s.macs().entries(now);
                html! {
                    <table class="small" data-switch={name.to_string()} data-testid={format!("net-macs-{name}")}>
                        <caption>{ format!("{name}: {} learned", entries.len()) }</caption>
                        <tr><th>{"MAC"}</th><th>{"port"}</th><th>{"age"}</th></tr>
                        { for entries.iter().map(|e| html! {
                            <tr data-mac={e.mac.to_string()}><td><code>{ e.mac.to_string() }</code></td><td>{ e.port }</td><td>{ now.saturating_sub(e.seen) }</td></tr>
                        }) }
                    </table>
                }
            }) }
        </div>
    }
}

/// Every switch's flow table: priority, match, actions, packet and byte counters.
pub fn flows(lab: &NetLab) -> Html {
    let net = lab.network();
    html! {
        <div data-testid="net-flow-tables">
            { for net.nodes().filter_map(|(name, n)| match n { Node::Switch(s) => Some((name, s)), _ => None }).map(|(name, s)| {
                let flows = s.flows().flows();
                html! {
                    <table class="small" data-testid={format!("net-flows-{name}")}>
                        <caption>{ format!("{name}: {} flows{}", flows.len(), if flows.is_empty() { " (every frame takes the learning bridge)" } else { "" }) }</caption>
                        <tr><th>{"id"}</th><th>{"priority"}</th><th>{"match"}</th><th>{"actions"}</th><th>{"packets"}</th><th>{"bytes"}</th></tr>
                        { for flows.iter().map(|f| html! {
                            <tr data-flow={f.id.to_string()}>
                                <td>{ f.id }</td><td>{ f.priority }</td><td><code>{ f.matches.to_string() }</code></td>
                                <td><code>{ f.actions.iter().map(ToString::to_string).collect::<Vec<_>>().join(",") }</code></td>
                                <td data-testid={format!("net-flow-{name}-{}-packets", f.id)}>{ f.packets }</td><td>{ f.bytes }</td>
                            </tr>
                        }) }
                    </table>
                }
            }) }
        </div>
    }
}

/// Packets per switch port (received, sent, dropped), and for every port of every
/// node the frames captured there with a pcap download.
pub fn ports(lab: &NetLab, download: &Callback<String>) -> Html {
    let net = lab.network();
    let captured: Vec<(String, u64)> = net
        .captures()
        .iter()
        .map(|c| (net.port_name(c.at), c.pcap.records()))
        .collect();
    html! {
        <div data-testid="net-port-counters">
            { for net.nodes().filter_map(|(name, n)| match n { Node::Switch(s) => Some((name, s)), _ => None }).map(|(name, s)| html! {
                <table class="small" data-testid={format!("net-ports-{name}")}>
                    <caption>{ format!("{name}: packets per port") }</caption>
                    <tr><th>{"port"}</th><th>{"received"}</th><th>{"sent"}</th><th>{"dropped"}</th></tr>
                    { for s.counters().iter().enumerate().map(|(p, c)| html! {
                        <tr data-port={format!("{name}:{p}")}><td>{ p }</td><td>{ c.rx_packets }</td><td>{ c.tx_packets }</td><td>{ c.dropped }</td></tr>
                    }) }
                </table>
            }) }
            <table class="small" data-testid="net-captures">
                <caption>{"captured on every port (pcap, for tcpdump -r or Wireshark)"}</caption>
                <tr><th>{"port"}</th><th>{"frames"}</th><th></th></tr>
                { for captured.into_iter().map(|(p, n)| {
                    let click = { let (d, p) = (download.clone(), p.clone()); Callback::from(move |_: MouseEvent| d.emit(p.clone())) };
                    html! {
                        <tr><td><code>{ p.clone() }</code></td><td>{ n }</td>
                        <td><button class="small" data-testid={format!("net-pcap-{}", p.replace(':', "-"))} onclick={click}>{"pcap"}</button></td></tr>
                    }
                }) }
            </table>
        </div>
    }
}

/// The last frames through `port`, decoded to one line each.
pub fn frames(lab: &NetLab, port: &str, pick: &Callback<Event>) -> Html {
    let net = lab.network();
    let names: Vec<String> = net.captures().iter().map(|c| net.port_name(c.at)).collect();
    let last = lab.last_frames(port, LAST_FRAMES);
    html! {
        <div>
            <label>{"port "}<select data-testid="net-frames-port" onchange={pick.clone()}>
                { for names.iter().map(|n| html! { <option value={n.clone()} selected={n == port}>{ n.clone() }</option> }) }
            </select></label>
            <ol class="small net-frames" data-testid="net-frame-list">
                { for last.iter().map(|(t, s)| html! {
                    <li><code>{ format!("{:>4}.{:03} ms  {s}", t / 1000, t % 1000) }</code></li>
                }) }
            </ol>
            if last.is_empty() { <p class="small">{"no frames yet"}</p> }
        </div>
    }
}

/// Each machine's state and console, with a button that opens it in the lab's panels.
pub fn consoles(lab: &NetLab, open_vm: &Callback<String>) -> Html {
    html! {
        <div class="net-consoles">
            { for lab.machines().vms().iter().map(|v| {
                let click = { let (o, n) = (open_vm.clone(), v.name.clone()); Callback::from(move |_: MouseEvent| o.emit(n.clone())) };
                html! {
                    <div class="net-console" data-vm={v.name.clone()}>
                        <div class="row">
                            <strong>{ v.name.clone() }</strong>
                            <span class="small">{ format!(" {} · {} · {} instructions", v.mode, v.stop_name(), v.machine.icount()) }</span>
                            <button class="small" data-testid={format!("net-open-vm-{}", v.name)} onclick={click}>{"Open in the lab's panels"}</button>
                        </div>
                        <pre class="small" data-testid={format!("net-console-{}", v.name)}>{ v.console() }</pre>
                    </div>
                }
            }) }
        </div>
    }
}
