//! Network demos (`kind = "net"`): the keys of a step that runs a network scenario (ticks, or until an event), the network-panel parts it is about, its claims, and their checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::kind_host::{check_focus, check_steps, scenario_with, Claim};
use super::{Kind, Manifest};

/// Most ticks one step may run.
pub const MAX_STEP_TICKS: u64 = 100_000;

/// The parts of the network panel a step can focus (the part of its test id after `net-`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetPart {
    /// The picture of the topology: nodes, ports, links, tunnels.
    Topology,
    /// The switches' MAC tables.
    Macs,
    /// The switches' flow tables with their counters.
    Flows,
    /// Packets per port.
    Ports,
    /// The last frames through a port, decoded.
    Frames,
    /// The machines' consoles.
    Consoles,
}

impl NetPart {
    /// Every part.
    pub const ALL: [NetPart; 6] = [
        NetPart::Topology,
        NetPart::Macs,
        NetPart::Flows,
        NetPart::Ports,
        NetPart::Frames,
        NetPart::Consoles,
    ];

    /// The part's `data-testid`.
    pub const fn testid(self) -> &'static str {
        match self {
            NetPart::Topology => "net-topology",
            NetPart::Macs => "net-macs",
            NetPart::Flows => "net-flows",
            NetPart::Ports => "net-ports",
            NetPart::Frames => "net-frames",
            NetPart::Consoles => "net-consoles",
        }
    }
}

/// What a step of a network demo runs, before its claims are checked.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NetStep {
    /// Runs this many ticks from where the previous step stopped.
    pub ticks: Option<u64>,
    /// Runs until a frame summary (`ARP who-has 10.0.0.2`) or a machine's console
    /// contains this text, at most to the scenario's last tick.
    pub to_event: Option<String>,
    /// The panel parts the step is about, most important first.
    #[serde(default)]
    pub focus: Vec<NetPart>,
    /// What the narration claims, by figure name (`mac.sw0.count`,
    /// `flow.sw0.1.packets`, `port.sw0:1.rx`, `vm.a.last-line`, …).
    #[serde(default)]
    pub expect: BTreeMap<String, Claim>,
}

/// Checks a network demo: its guest is a network scenario (TOML with a `[run]`
/// table) whose machines run guests of `guests/`, and every step has a `net` table
/// with parts to focus, one way to run and a claim; machine-only keys are refused.
/// The error starts with the key.
pub fn validate_net(m: &Manifest, scenario: &str) -> Result<(), String> {
    debug_assert_eq!(m.kind, Kind::Net);
    let table = scenario_with(
        m,
        scenario,
        "run",
        "a network demo's guest is a network scenario",
    )?;
    let vms = table.get("vm").and_then(|v| v.as_array());
    for (i, vm) in vms.into_iter().flatten().enumerate() {
        let guest = vm.get("guest").and_then(|g| g.as_str()).unwrap_or_default();
        if !guest.starts_with("../../guests/") || guest.contains("/../../") {
            return Err(format!(
                "guest: {}: vm[{i}].guest: {guest:?} is not a guest of guests/ (../../guests/…)",
                m.guest
            ));
        }
    }
    check_steps(m, "net", "a network demo", |s| s.net.as_ref(), check_step)
}

fn check_step(n: &NetStep) -> Result<(), String> {
    check_focus(&n.focus, "network-panel", |p| p.testid())?;
    match (n.ticks, &n.to_event) {
        (Some(_), Some(_)) => return Err("ticks/to-event: a step runs to one of them".into()),
        (Some(t), None) if t == 0 || t > MAX_STEP_TICKS => {
            return Err(format!("ticks: must be 1..={MAX_STEP_TICKS}"))
        }
        (None, Some(e)) if e.trim().is_empty() => return Err("to-event: empty".into()),
        _ => {}
    }
    if n.expect.is_empty() {
        return Err("expect: a step claims at least one figure".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(step: &str, scenario: &str) -> Result<(), String> {
        let m = Manifest::parse(&format!(
            "title = \"t\"\norder = 1\nkind = \"net\"\nguest = \"s.toml\"\nmode = \"bare\"\n[[step]]\ntitle = \"a\"\ntext = \"b\"\n{step}"
        ))?;
        m.validate(scenario)
    }

    const OK: &str =
        "[step.net]\nticks = 5\nfocus = [\"macs\"]\nexpect = { \"mac.sw0.count\" = { min = 1 } }";

    #[test]
    fn a_net_step_needs_focus_one_run_and_a_claim() {
        let scenario = "[run]\nticks = 9\n[[vm]]\nname = \"a\"\nguest = \"../../guests/net/peer.asm\"\nmac = \"02:00:00:00:00:01\"\n";
        assert_eq!(demo(OK, scenario), Ok(()));
        let e = demo(
            "[step.net]\nticks = 5\nexpect = { \"mac.sw0.count\" = { min = 1 } }",
            scenario,
        );
        assert!(e.unwrap_err().starts_with("step[0].net.focus"));
        let e = demo("[step.net]\nticks = 5\nfocus = [\"macs\"]", scenario);
        assert!(e.unwrap_err().starts_with("step[0].net.expect"));
        let e = demo(
            "[step.net]\nticks = 5\nto-event = \"ARP\"\nfocus = [\"macs\"]\nexpect = { a = \"b\" }",
            scenario,
        );
        assert!(e.unwrap_err().starts_with("step[0].net.ticks/to-event"));
        let e = demo(
            "[step.net]\nticks = 0\nfocus = [\"macs\"]\nexpect = { a = \"b\" }",
            scenario,
        );
        assert!(e.unwrap_err().starts_with("step[0].net.ticks"));
        let e = demo(
            "[step.net]\nfocus = [\"macs\", \"macs\"]\nexpect = { a = \"b\" }",
            scenario,
        );
        assert!(e.unwrap_err().contains("net-macs twice"));
        assert!(demo("", scenario).unwrap_err().starts_with("step[0].net:"));
    }

    #[test]
    fn the_scenario_must_parse_and_name_guests_of_guests() {
        let e = demo(OK, "[host]\n").unwrap_err();
        assert!(e.contains("[run] table"), "{e}");
        let e = demo(OK, "[run\n").unwrap_err();
        assert!(e.starts_with("guest: s.toml:"), "{e}");
        let e = demo(
            OK,
            "[run]\nticks = 9\n[[vm]]\nname = \"a\"\nguest = \"/etc/passwd\"\nmac = \"02:00:00:00:00:01\"\n",
        )
        .unwrap_err();
        assert!(e.contains("vm[0].guest"), "{e}");
    }

    #[test]
    fn a_machine_step_may_not_run_a_network() {
        let m = Manifest::parse(&format!(
            "title = \"t\"\norder = 1\nguest = \"g.asm\"\nmode = \"bare\"\n[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"log\"]\n{OK}"
        ))
        .expect("parses");
        let e = m.validate("start:\n").unwrap_err();
        assert!(e.contains("net: only a network demo's step"), "{e}");
    }
}
