//! Network demos (`kind = "net"` in `demos/`): their scenario started, each step run (ticks, or until an event), and each claim checked against the named figures of the network and its machines.

pub use vmlab_demos::manifest::kind_host::Checked;
use vmlab_demos::manifest::kind_net::NetStep;
use vmlab_demos::{Demo, Kind};
use vmlab_net::network::Node;

use crate::session::NetLab;

/// The network demos, in lecture order.
pub fn all() -> Vec<&'static Demo> {
    vmlab_demos::of_kind(Kind::Net).collect()
}

/// The network demo with this id.
pub fn find(id: &str) -> Option<&'static Demo> {
    vmlab_demos::of_kind(Kind::Net).find(|d| d.id == id)
}

/// The demo's scenario at tick 0, its machines booted.
pub fn start(demo: &Demo) -> Result<NetLab, String> {
    NetLab::parse(
        &format!("demos/{}/{}", demo.id, demo.manifest.guest),
        demo.source,
    )
}

/// Runs step `s` on `lab`: its ticks, or until its event (an error when the event
/// never came).
pub fn step(lab: &mut NetLab, s: &NetStep) -> Result<(), String> {
    if let Some(t) = s.ticks {
        lab.step(t)?;
    }
    if let Some(e) = &s.to_event {
        if !lab.run_until(e)? {
            return Err(format!(
                "to-event: {e:?} did not happen by tick {}",
                lab.now()
            ));
        }
    }
    Ok(())
}

/// Checks step `s`'s claims against `lab` as it stands.
pub fn check(lab: &NetLab, s: &NetStep) -> Vec<Checked> {
    s.expect
        .iter()
        .map(|(name, claim)| {
            let (shown, value) = figure(lab, name).unwrap_or_default();
            Checked {
                figure: name.clone(),
                holds: claim.holds(&shown, value),
                shown,
            }
        })
        .collect()
}

fn num(v: u64) -> Option<(String, Option<i64>)> {
    Some((v.to_string(), i64::try_from(v).ok()))
}

/// A named figure: its text and, for a number, its value.
///
/// - `ticks`, `delivered`, `lost`;
/// - `mac.SWITCH.count`, `mac.SWITCH.MAC` (the port it was learned on);
/// - `flow.SWITCH.ID.packets`, `flow.SWITCH.ID.bytes`, `flow.SWITCH.count`;
/// - `port.SWITCH:P.rx`, `.tx`, `.dropped` (packets);
/// - `vtep.NAME.encapsulated`, `.decapsulated`;
/// - `vm.NAME.sent`, `.received` (frames), `.stop`, `.exit`, `.last-line`,
///   `.console-lines`;
/// - `frames.PORT` (frames captured on any node's port).
pub fn figure(lab: &NetLab, name: &str) -> Option<(String, Option<i64>)> {
    let net = lab.network();
    let now = net.now();
    let parts: Vec<&str> = name.split('.').collect();
    let switch = |n: &str| match net.node(n) {
        Some(Node::Switch(sw)) => Some(sw),
        _ => None,
    };
    match parts.as_slice() {
        ["ticks"] => num(lab.now()),
        ["delivered"] => num(net.delivered),
        ["lost"] => num(net.lost),
        ["mac", sw, "count"] => num(switch(sw)?.macs().entries(now).len() as u64),
        ["mac", sw, mac] => {
            let mac = vmlab_net::MacAddr::parse(mac)?;
            let e = switch(sw)?.macs().entries(now);
            let port = e.iter().find(|e| e.mac == mac).map(|e| e.port);
            Some(port.map_or((String::from("absent"), None), |p| {
                (p.to_string(), Some(i64::from(p)))
            }))
        }
        ["flow", sw, "count"] => num(switch(sw)?.flows().flows().len() as u64),
        ["flow", sw, id, what] => {
            let id: u32 = id.parse().ok()?;
            let f = switch(sw)?.flows().get(id)?;
            match *what {
                "packets" => num(f.packets),
                "bytes" => num(f.bytes),
                _ => None,
            }
        }
        ["port", at, what] => {
            let (sw, p) = at.split_once(':')?;
            let c = switch(sw)?.counters().get(p.parse::<usize>().ok()?)?;
            match *what {
                "rx" => num(c.rx_packets),
                "tx" => num(c.tx_packets),
                "dropped" => num(c.dropped),
                _ => None,
            }
        }
        ["vtep", n, what] => match net.node(n) {
            Some(Node::Vtep(v)) => match *what {
                "encapsulated" => num(v.counters.encapsulated),
                "decapsulated" => num(v.counters.decapsulated),
                _ => None,
            },
            _ => None,
        },
        ["vm", n, what] => {
            let vm = lab.machines().vm(n)?;
            let port = match net.node(n) {
                Some(Node::Vm(p)) => p,
                _ => return None,
            };
            let console = vm.console();
            match *what {
                "sent" => num(port.sent),
                "received" => num(port.received),
                "stop" => Some((vm.stop_name().to_string(), None)),
                "exit" => vm.exit_value().and_then(|x| num(u64::from(x))),
                "last-line" => Some((console.lines().last().unwrap_or("").to_string(), None)),
                "console-lines" => num(console.lines().count() as u64),
                _ => None,
            }
        }
        ["frames", port] => {
            let frames = lab.pcap(port).and_then(|b| vmlab_net::pcap::read(b).ok())?;
            num(frames.len() as u64)
        }
        _ => None,
    }
}

/// The demo started and played through step `upto` (each step from the one before),
/// with that step's claims checked.
pub fn play(demo: &Demo, upto: usize) -> Result<(NetLab, Vec<Checked>), String> {
    let mut lab = start(demo)?;
    let mut checked = Vec::new();
    for (i, s) in demo.steps().iter().enumerate().take(upto.saturating_add(1)) {
        let n = s
            .net
            .as_ref()
            .ok_or_else(|| format!("step[{i}]: no [step.net] table"))?;
        step(&mut lab, n).map_err(|e| format!("step[{i}].net.{e}"))?;
        checked = check(&lab, n);
    }
    Ok((lab, checked))
}
