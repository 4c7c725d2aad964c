//! A host scenario's `[net]` section: the host's virtual switch `br0` joining its VMs' NICs as a learning bridge or behind NAT to a simulated outside host, with flow rules, turned into the network scenario that `vmlab net`'s machine runner plays.

use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use emulator_core::ExecMode;
use serde::Deserialize;
use vmlab_net::scenario::{
    EndpointSpec, FlowSpec, NatSpec, Scenario as NetScenario, ScenarioError, SwitchSpec,
    VmSpec as NetVmSpec, MAX_SLICE, MAX_TICKS,
};
use vmlab_net::scenario_file::{flow_spec, RawFlow};
use vmlab_net::wire::{Ipv4Addr, MacAddr};

/// The host's virtual switch.
pub const SWITCH: &str = "br0";
/// The NAT gateway's node (in `nat` mode): inside 10.0.0.254, outside 198.51.100.1.
pub const NAT: &str = "nat";
/// The simulated outside host behind the NAT, which answers ARP, ICMP and UDP echo.
pub const OUTSIDE: &str = "outside";
/// The outside host's address.
pub const OUTSIDE_IP: [u8; 4] = [203, 0, 113, 7];
/// The guest every networked VM runs (embedded in the lab and the CLI).
pub const GUEST: &str = "guests/net/peer.asm";
/// Most pings a VM sends.
pub const MAX_COUNT: u32 = 100;

/// How the VMs are networked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetMode {
    /// No network.
    None,
    /// The VMs on one learning bridge; each pings the next.
    Bridge,
    /// The VMs on the bridge behind a NAT; each pings the outside host.
    Nat,
}

impl NetMode {
    /// Every mode, in the order the docs list them.
    pub const ALL: [NetMode; 3] = [NetMode::Bridge, NetMode::Nat, NetMode::None];

    /// Its name in scenario files and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            NetMode::None => "none",
            NetMode::Bridge => "bridge",
            NetMode::Nat => "nat",
        }
    }

    /// The mode called `name`.
    pub fn from_name(name: &str) -> Option<NetMode> {
        NetMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// One VM's NIC on the host's switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetVm {
    /// The VM's name.
    pub name: String,
    /// Its NIC: `virtio` (virtio-net) or `ne2000`.
    pub nic: String,
    /// The execution mode its machine runs in (the VM's `mode`).
    pub mode: ExecMode,
    /// Guest instructions its machine runs per tick.
    pub slice: u64,
}

/// The network of a host scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostNet {
    /// Bridge or NAT.
    pub mode: NetMode,
    /// Network ticks to run.
    pub ticks: u64,
    /// Pings each VM sends.
    pub count: u32,
    /// Guest instructions each machine runs per tick (at an equal CPU share).
    pub slice: u64,
    /// Whether each machine's slice follows its CPU share in the host model
    /// ([`HostNet::follow_shares`]).
    pub follow_shares: bool,
    /// The attached VMs, on ports 0, 1, ... of [`SWITCH`] in this order.
    pub vms: Vec<NetVm>,
    /// Flow rules of [`SWITCH`].
    pub flows: Vec<FlowSpec>,
}

/// The `[net]` section as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNet {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    ticks: Option<u64>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    slice: Option<u64>,
    #[serde(default)]
    attach: Option<Vec<String>>,
    #[serde(default)]
    follow_shares: bool,
    #[serde(default)]
    flow: Vec<RawFlow>,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        key: key.into(),
        message: message.into(),
    }
}

/// `v` when it is 1..=`max`, else a mistake about `key`.
fn in_range(key: &str, v: u64, max: u64) -> Result<u64, ScenarioError> {
    if (1..=max).contains(&v) {
        Ok(v)
    } else {
        Err(err(key, format!("is {v}; it must be 1..={max}")))
    }
}

/// The VM on port `i`'s address: 10.0.0.(i + 1).
fn vm_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr([10, 0, 0, (i + 1) as u8])
}

/// The VM on port `i`'s MAC: 52:54:00:00:00:(i + 1).
fn vm_mac(i: usize) -> MacAddr {
    MacAddr([0x52, 0x54, 0, 0, 0, (i + 1) as u8])
}

/// Reads the `[net]` section (`raw`, absent when the file has none) of a scenario
/// whose VMs are `vms` (name, mode, `nic` as written), with `over` (the command
/// line's `--net`) replacing its mode. `None` when the VMs are not networked.
pub(crate) fn convert(
    raw: Option<RawNet>,
    vms: &[(String, ExecMode, Option<String>)],
    over: Option<NetMode>,
) -> Result<Option<HostNet>, ScenarioError> {
    for (i, (_, _, nic)) in vms.iter().enumerate() {
        if let Some(n) = nic {
            if !matches!(n.as_str(), "virtio" | "ne2000") {
                return Err(err(
                    format!("vm[{i}].nic"),
                    format!("{n:?}: the NIC is \"virtio\" or \"ne2000\""),
                ));
            }
        }
    }
    let written = match &raw {
        Some(r) => match &r.mode {
            Some(m) => NetMode::from_name(m).ok_or_else(|| {
                err(
                    "net.mode",
                    format!("{m:?}: the modes are \"bridge\", \"nat\" and \"none\""),
                )
            })?,
            None => NetMode::Bridge,
        },
        None => NetMode::None,
    };
    let mode = over.unwrap_or(written);
    if mode == NetMode::None {
        return Ok(None);
    }
    let raw = raw.unwrap_or_default();
    let ticks = in_range("net.ticks", raw.ticks.unwrap_or(600), MAX_TICKS)?;
    let count = in_range("net.count", raw.count.unwrap_or(4).into(), MAX_COUNT.into())? as u32;
    let slice = in_range("net.slice", raw.slice.unwrap_or(5_000), MAX_SLICE)?;
    let mut attached = Vec::new();
    match &raw.attach {
        None => attached.extend(0..vms.len()),
        Some(names) => {
            for n in names {
                let Some(i) = vms.iter().position(|v| &v.0 == n) else {
                    return Err(err("net.attach", format!("no [[vm]] is called {n:?}")));
                };
                if attached.contains(&i) {
                    return Err(err("net.attach", format!("{n:?} is attached twice")));
                }
                attached.push(i);
            }
        }
    }
    if attached.is_empty() {
        return Err(err("net.attach", "no VM is attached"));
    }
    if mode == NetMode::Bridge && attached.len() < 2 {
        return Err(err(
            "net.mode",
            "a bridge needs two attached VMs to ping each other (nat pings the outside host)",
        ));
    }
    let mut flows = Vec::new();
    for (i, f) in raw.flow.into_iter().enumerate() {
        flows.push(flow_spec(&format!("net.flow[{i}]"), f)?);
    }
    let net = HostNet {
        mode,
        ticks,
        count,
        slice,
        follow_shares: raw.follow_shares,
        vms: attached
            .into_iter()
            .map(|i| NetVm {
                name: vms[i].0.clone(),
                nic: vms[i].2.clone().unwrap_or_else(|| "virtio".to_string()),
                mode: vms[i].1,
                slice,
            })
            .collect(),
        flows,
    };
    net.scenario()?;
    Ok(Some(net))
}

impl HostNet {
    /// The network as a network scenario, checked: the switch [`SWITCH`] with one port
    /// per VM (port `i` for the `i`-th attached VM, 10.0.0.(i+1), MAC
    /// 52:54:00:00:00:(i+1)) and in `nat` mode one more for [`NAT`], whose outside
    /// port leads to [`OUTSIDE`]. Every VM runs [`GUEST`]: on a bridge VM `i` pings
    /// the next VM (the last pings the first), behind NAT it pings the outside host.
    /// A mistake in a flow rule is named `net.flow[N].KEY`.
    pub fn scenario(&self) -> Result<NetScenario, ScenarioError> {
        let n = self.vms.len();
        let nat = self.mode == NetMode::Nat;
        let mut s = NetScenario {
            ticks: self.ticks,
            budget: vmlab_net::scenario::MAX_BUDGET,
            switches: vec![SwitchSpec {
                name: SWITCH.into(),
                ports: (n + usize::from(nat)) as u16,
                ageing: 5_000,
            }],
            flows: self.flows.clone(),
            ..NetScenario::default()
        };
        for (i, v) in self.vms.iter().enumerate() {
            let mut defines = vec![format!("ME={}", i + 1), format!("COUNT={}", self.count)];
            if nat {
                let [a, b, c, d] = OUTSIDE_IP;
                defines.push(format!("PEER={d}"));
                defines.push(format!(
                    "PEER_NET=0x{:06X}",
                    u32::from(a) | u32::from(b) << 8 | u32::from(c) << 16
                ));
                defines.push("GW=254".into());
            } else {
                defines.push(format!("PEER={}", (i + 1) % n + 1));
            }
            s.vms.push(NetVmSpec {
                name: v.name.clone(),
                guest: GUEST.into(),
                defines,
                mac: vm_mac(i),
                mode: v.mode.name().into(),
                slice: v.slice,
                nic: v.nic.clone(),
            });
            s.links.push((v.name.clone(), format!("{SWITCH}:{i}")));
        }
        if nat {
            s.nats.push(NatSpec {
                name: NAT.into(),
                inside_mac: MacAddr([0x52, 0x54, 0, 0, 0, 0xfe]),
                inside_ip: Ipv4Addr([10, 0, 0, 254]),
                inside_prefix: 24,
                outside_mac: MacAddr([0x52, 0x54, 0, 0, 1, 0xfe]),
                outside_ip: Ipv4Addr([198, 51, 100, 1]),
            });
            s.endpoints.push(EndpointSpec {
                name: OUTSIDE.into(),
                mac: MacAddr([0x02, 0, 0, 0, 0x99, 0x99]),
                ip: Ipv4Addr(OUTSIDE_IP),
                prefix: 24,
                gateway: None,
                plan: None,
            });
            s.links.push((format!("{NAT}:0"), format!("{SWITCH}:{n}")));
            s.links.push((format!("{NAT}:1"), OUTSIDE.into()));
        }
        s.build().map_err(|e| {
            if e.key.starts_with("flow[") {
                err(format!("net.{}", e.key), e.message)
            } else if let Some(rest) = e.key.strip_prefix("vm[") {
                let i: usize = rest
                    .split(']')
                    .next()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
                err(
                    "net",
                    format!("VM {:?}: {}", s.vms[i.min(n - 1)].name, e.message),
                )
            } else {
                err("net", e.to_string())
            }
        })?;
        Ok(s)
    }

    /// Scales each machine's slice by its VM's CPU share in the host model
    /// (`share_permille` of a VM's name, from the host's report): at equal shares every
    /// machine runs [`HostNet::slice`] instructions per tick, a VM with twice the share
    /// twice as many (at least 1, at most the network's limit per tick).
    pub fn follow_shares(&mut self, share_permille: impl Fn(&str) -> Option<u64>) {
        let n = self.vms.len() as u64;
        for v in &mut self.vms {
            let share = share_permille(&v.name).unwrap_or(1000 / n.max(1));
            v.slice =
                (self.slice.saturating_mul(share).saturating_mul(n) / 1000).clamp(1, MAX_SLICE);
        }
    }

    /// The address of the VM on port `i`.
    pub fn ip(i: usize) -> Ipv4Addr {
        vm_ip(i)
    }

    /// The MAC of the VM on port `i`.
    pub fn mac(i: usize) -> MacAddr {
        vm_mac(i)
    }
}

/// The 1-based line of `key` in the scenario `text`: `net.flow[N].KEY` in the `N`-th
/// `[[net.flow]]` table, other keys as in every scenario file.
pub fn locate(text: &str, key: &str) -> usize {
    let Some(rest) = key.strip_prefix("net.flow[") else {
        return vmlab_net::scenario_file::locate(text, key);
    };
    let (index, field) = match rest.split_once(']') {
        Some((i, f)) => (i.parse::<usize>().unwrap_or(0), f.trim_start_matches('.')),
        None => (0, ""),
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(head) = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[net.flow]]")
        .nth(index)
        .map(|(i, _)| i)
    else {
        return vmlab_net::scenario_file::locate(text, "net");
    };
    lines[head + 1..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with('['))
        .position(|l| {
            !field.is_empty()
                && l.trim_start()
                    .strip_prefix(field)
                    .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(head + 1, |j| head + 2 + j)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario_file::parse_networked;

    const TWO: &str = "[host]\npool_mib = 16\nduration_ms = 5\n\n[[vm]]\nname = \"a\"\nram_mib = 4\n\n[[vm]]\nname = \"b\"\nram_mib = 4\nnic = \"ne2000\"\n";

    fn net(text: &str, over: Option<NetMode>) -> Result<Option<HostNet>, String> {
        parse_networked("t.toml", text, over)
            .map(|(_, n)| n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn without_a_section_the_vms_are_networked_only_on_request() {
        assert_eq!(net(TWO, None), Ok(None));
        assert_eq!(net(TWO, Some(NetMode::None)), Ok(None));
        let n = net(TWO, Some(NetMode::Bridge)).unwrap().expect("networked");
        assert_eq!(n.mode, NetMode::Bridge);
        let nics: Vec<&str> = n.vms.iter().map(|v| v.nic.as_str()).collect();
        assert_eq!(nics, ["virtio", "ne2000"]);
        let with = format!("{TWO}\n[net]\nmode = \"nat\"\n");
        assert_eq!(net(&with, Some(NetMode::None)), Ok(None));
        assert_eq!(
            net(&with, None).unwrap().map(|n| n.mode),
            Some(NetMode::Nat)
        );
    }

    #[test]
    fn a_bridge_links_each_vm_to_its_port_and_each_pings_the_next() {
        let n = net(TWO, Some(NetMode::Bridge)).unwrap().expect("networked");
        let s = n.scenario().expect("a network");
        assert_eq!(s.switches[0].ports, 2);
        assert!(s.nats.is_empty() && s.endpoints.is_empty());
        assert_eq!(
            s.links,
            [("a".into(), "br0:0".into()), ("b".into(), "br0:1".into())]
        );
        assert!(s.vms[0].defines.contains(&"PEER=2".to_string()));
        assert!(s.vms[1].defines.contains(&"PEER=1".to_string()));
        assert_eq!(
            s.vms[1].guest_defines().last().map(String::as_str),
            Some("NE2000")
        );
    }

    #[test]
    fn nat_adds_the_gateway_and_the_outside_host_on_the_last_port() {
        let n = net(TWO, Some(NetMode::Nat)).unwrap().expect("networked");
        let s = n.scenario().expect("a network");
        assert_eq!(s.switches[0].ports, 3);
        assert!(s.links.contains(&("nat:0".into(), "br0:2".into())));
        assert!(s.links.contains(&("nat:1".into(), "outside".into())));
        assert_eq!(s.endpoints[0].ip, Ipv4Addr(OUTSIDE_IP));
        // The guest's peer network, as it sits in a frame, is the outside host's /24.
        let d = &s.vms[0].defines;
        let pn = d
            .iter()
            .find_map(|x| x.strip_prefix("PEER_NET=0x"))
            .expect("PEER_NET");
        let v = u32::from_str_radix(pn, 16).expect("hex");
        assert_eq!(v.to_le_bytes()[..3], OUTSIDE_IP[..3]);
        assert!(d.contains(&format!("PEER={}", OUTSIDE_IP[3])));
        assert!(d.contains(&"GW=254".to_string()));
    }

    #[test]
    fn mistakes_name_their_line_and_key() {
        let one = "[host]\npool_mib = 16\nduration_ms = 5\n\n[[vm]]\nname = \"a\"\nram_mib = 4\n\n[net]\nmode = \"bridge\"\n";
        let e = net(one, None).unwrap_err();
        assert!(
            e.starts_with("t.toml:10: net.mode: a bridge needs two"),
            "{e}"
        );
        let flow = format!(
            "{TWO}\n[net]\n\n[[net.flow]]\nswitch = \"br0\"\npriority = 1\nactions = [\"jump\"]\n"
        );
        let e = net(&flow, None).unwrap_err();
        assert!(
            e.starts_with("t.toml:19: net.flow[0].actions: \"jump\""),
            "{e}"
        );
        let e = net(&format!("{TWO}\n[net]\ncount = 0\n"), None).unwrap_err();
        assert!(
            e.starts_with("t.toml:15: net.count: is 0; it must be 1..=100"),
            "{e}"
        );
        let nic = TWO.replace("ne2000", "e1000");
        let e = net(&nic, None).unwrap_err();
        assert!(e.starts_with("t.toml:12: vm[1].nic: \"e1000\""), "{e}");
        let other =
            format!("{TWO}\n[net]\n\n[[net.flow]]\nswitch = \"sw9\"\nactions = [\"drop\"]\n");
        let e = net(&other, None).unwrap_err();
        assert!(
            e.starts_with("t.toml:17: net.flow[0].switch: no switch"),
            "{e}"
        );
    }
}
