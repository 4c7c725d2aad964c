//! A network scenario in the lab: parsed, its machines booted, every port captured, run tick by tick or until an event, with the report, the topology, the last frames and the pcap of each port.

use serde_json::Value;
use vmlab_net::network::{Network, PortRef};
use vmlab_net::scenario::{Running, Scenario};
use vmlab_net::{pcap, scenario_file, wire};

use crate::guests;
use crate::machines::GuestMachines;

/// A scenario being run in the lab.
#[derive(Debug)]
pub struct NetLab {
    /// The scenario file's name, for messages.
    pub file: String,
    scenario: Scenario,
    run: Running,
    machines: GuestMachines,
    images: Vec<Vec<u8>>,
}

/// A node of the topology picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopoNode {
    /// Its name.
    pub name: String,
    /// `switch`, `endpoint`, `nat`, `vtep` or `vm`.
    pub kind: &'static str,
    /// How many ports it has.
    pub ports: u16,
}

impl NetLab {
    /// Parses scenario `text` (named `file` in messages), assembles and boots its
    /// machines, and captures every port. The error names the file, line and key.
    pub fn parse(file: &str, text: &str) -> Result<NetLab, String> {
        let scenario = scenario_file::parse(file, text).map_err(|e| e.to_string())?;
        NetLab::boot(file, scenario, &|key: &str, message: String| {
            format!(
                "{file}:{}: {key}: {message}",
                scenario_file::locate(text, key)
            )
        })
    }

    /// A scenario built elsewhere (a host scenario's network, named `file` in
    /// messages), its machines booted and every port captured; errors name the key.
    pub fn from_scenario(file: &str, scenario: Scenario) -> Result<NetLab, String> {
        NetLab::boot(file, scenario, &|key: &str, message: String| {
            format!("{file}: {key}: {message}")
        })
    }

    /// Assembles and boots `scenario`'s machines and captures every port; `at` words
    /// a mistake about a key.
    fn boot(
        file: &str,
        scenario: Scenario,
        at: &dyn Fn(&str, String) -> String,
    ) -> Result<NetLab, String> {
        let images = guests::images(&scenario).map_err(|e| {
            let (key, msg) = e.split_once(": ").unwrap_or(("vm", &e));
            at(key, msg.to_string())
        })?;
        let machines = GuestMachines::boot(&scenario, &images)
            .map_err(|e| at(&format!("vm[{}].{}", e.vm, e.key), e.message))?;
        let run = scenario
            .start(&mut |net: &mut Network| {
                let ports: Vec<PortRef> = net
                    .nodes()
                    .enumerate()
                    .flat_map(|(node, (_, n))| {
                        (0..n.ports()).map(move |port| PortRef { node, port })
                    })
                    .collect();
                for p in ports {
                    net.capture(p);
                }
            })
            .map_err(|e| at(&e.key, e.message))?;
        Ok(NetLab {
            file: file.to_string(),
            scenario,
            run,
            machines,
            images,
        })
    }

    /// Runs up to `ticks` ticks; returns how many ran (fewer at the scenario's end).
    pub fn step(&mut self, ticks: u64) -> Result<u64, String> {
        let mut ran = 0;
        while ran < ticks && self.tick()? {
            ran += 1;
        }
        Ok(ran)
    }

    fn tick(&mut self) -> Result<bool, String> {
        self.run
            .tick(&self.scenario, &mut self.machines)
            .map_err(|e| format!("{}: {e}", self.file))
    }

    /// Runs until a frame crossing any port (as its one-line summary) or a machine's
    /// console contains `text`, at most to the scenario's end. Returns whether it
    /// was seen.
    pub fn run_until(&mut self, text: &str) -> Result<bool, String> {
        let mut seen: Vec<u64> = self.captured_counts();
        let consoles_had = self.console_has(text);
        while self.tick()? {
            let counts = self.captured_counts();
            for (c, (&now, &before)) in self
                .network()
                .captures()
                .iter()
                .zip(counts.iter().zip(&seen))
            {
                if now > before {
                    let frames = pcap::read(c.pcap.bytes()).unwrap_or_default();
                    let new = frames.iter().skip(before as usize);
                    if new
                        .into_iter()
                        .any(|(_, f)| wire::describe(f).contains(text))
                    {
                        return Ok(true);
                    }
                }
            }
            seen = counts;
            if !consoles_had && self.console_has(text) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn captured_counts(&self) -> Vec<u64> {
        self.network()
            .captures()
            .iter()
            .map(|c| c.pcap.records())
            .collect()
    }

    fn console_has(&self, text: &str) -> bool {
        self.machines
            .vms()
            .iter()
            .any(|v| v.console().contains(text))
    }

    /// Ticks run so far.
    pub fn now(&self) -> u64 {
        self.run.ticks()
    }

    /// The scenario's length in ticks.
    pub fn last_tick(&self) -> u64 {
        self.scenario.ticks
    }

    /// Whether the run is over (its last tick ran or its delivery budget is spent).
    pub fn is_over(&self) -> bool {
        self.run.is_over(&self.scenario)
    }

    /// The network now.
    pub fn network(&self) -> &Network {
        &self.run.network
    }

    /// The machines.
    pub fn machines(&self) -> &GuestMachines {
        &self.machines
    }

    /// The assembled guest of machine `name` (loaded at [`crate::machines::LOAD_AT`]).
    pub fn image(&self, name: &str) -> Option<&[u8]> {
        let i = self.machines.vms().iter().position(|v| v.name == name)?;
        self.images.get(i).map(Vec::as_slice)
    }

    /// The report `vmlab net --json` prints, as it stands now.
    pub fn report(&self) -> Value {
        let mut report = scenario_file::network_json(
            self.network(),
            self.run.budget_left() > 0,
            self.run.controller_flows(),
        );
        crate::merge_guests(&mut report, &self.machines);
        report
    }

    /// The nodes in the order the scenario made them, with their kinds and ports.
    pub fn nodes(&self) -> Vec<TopoNode> {
        self.network()
            .nodes()
            .map(|(name, n)| TopoNode {
                name: name.to_string(),
                kind: n.kind(),
                ports: n.ports(),
            })
            .collect()
    }

    /// The links as port names (`NAME:PORT`).
    pub fn links(&self) -> Vec<(String, String)> {
        let net = self.network();
        net.links()
            .iter()
            .map(|&(a, b)| (net.port_name(a), net.port_name(b)))
            .collect()
    }

    /// The pcap file of port `port` (`NAME` or `NAME:PORT`): every frame sent or
    /// received there so far.
    pub fn pcap(&self, port: &str) -> Option<&[u8]> {
        let net = self.network();
        let at = net.port(port).ok()?;
        net.capture_of(at).map(|p| p.bytes())
    }

    /// The last `n` frames through `port`, oldest first: time in µs and a one-line
    /// summary.
    pub fn last_frames(&self, port: &str, n: usize) -> Vec<(u64, String)> {
        let frames = self
            .pcap(port)
            .and_then(|b| pcap::read(b).ok())
            .unwrap_or_default();
        let skip = frames.len().saturating_sub(n);
        frames
            .into_iter()
            .skip(skip)
            .map(|(t, f)| (t, wire::describe(&f)))
            .collect()
    }
}
