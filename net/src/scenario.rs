//! A scenario as data: the nodes, links, flows and captures of a network and how long it runs; checked into a [`Network`] with errors that name the key.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::endpoint::{Endpoint, Plan};
use crate::flow::{Action, Match};
use crate::nat::Nat;
use crate::network::{Controller, L2Controller, Machines, Network, NoController, NoMachines, Node};
use crate::switch::Switch;
use crate::vmport::VmPort;
use crate::vxlan::Vtep;
use crate::wire::{Ipv4Addr, MacAddr};

/// Most ticks a scenario may ask for.
pub const MAX_TICKS: u64 = 100_000;
/// Most frame deliveries a scenario may ask for.
pub const MAX_BUDGET: u64 = 10_000_000;
/// Most instructions a machine may run per tick.
pub const MAX_SLICE: u64 = 1_000_000;
/// Most ports a switch may have.
pub const MAX_PORTS: u16 = 64;

/// A scenario mistake: the key it is about (`endpoint[1].mac`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The key path.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl core::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

fn err(key: String, message: String) -> ScenarioError {
    ScenarioError { key, message }
}

/// A switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchSpec {
    /// Its name.
    pub name: String,
    /// How many ports.
    pub ports: u16,
    /// MAC ageing time in ticks.
    pub ageing: u64,
}

/// An endpoint (a guest stand-in or the outside host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointSpec {
    /// Its name.
    pub name: String,
    /// Its MAC.
    pub mac: MacAddr,
    /// Its IP.
    pub ip: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// Its router.
    pub gateway: Option<Ipv4Addr>,
    /// What it sends.
    pub plan: Option<Plan>,
}

/// A NAT gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatSpec {
    /// Its name.
    pub name: String,
    /// Inside MAC.
    pub inside_mac: MacAddr,
    /// Inside (gateway) IP.
    pub inside_ip: Ipv4Addr,
    /// Inside prefix length.
    pub inside_prefix: u8,
    /// Outside MAC.
    pub outside_mac: MacAddr,
    /// Outside IP.
    pub outside_ip: Ipv4Addr,
}

/// A VXLAN tunnel endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VtepSpec {
    /// Its name.
    pub name: String,
    /// Underlay MAC.
    pub mac: MacAddr,
    /// Underlay IP.
    pub ip: Ipv4Addr,
    /// The VNI it carries.
    pub vni: u32,
    /// Its peers' underlay IP and MAC.
    pub peers: Vec<(Ipv4Addr, MacAddr)>,
}

/// A real machine on the network: a guest with a virtio-net NIC, run by the host
/// program (`vmlab net`) through [`Machines`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSpec {
    /// Its name.
    pub name: String,
    /// The guest's assembly source, relative to the scenario file.
    pub guest: String,
    /// Preprocessor definitions for the guest (`NAME` or `NAME=VALUE`).
    pub defines: Vec<String>,
    /// Its NIC's MAC address.
    pub mac: MacAddr,
    /// The execution mode it runs in (`bare`, `trap-emulate`, `hw-assist`...).
    pub mode: String,
    /// Instructions it runs per tick.
    pub slice: u64,
    /// Its NIC: `virtio` (virtio-net) or `ne2000` (an RTL8029).
    pub nic: String,
}

impl VmSpec {
    /// The guest's definitions, with `NE2000` added when its NIC is one: the guest
    /// builds the driver its NIC needs.
    pub fn guest_defines(&self) -> Vec<String> {
        let mut d = self.defines.clone();
        if self.nic == "ne2000" {
            d.push("NE2000".into());
        }
        d
    }
}

/// A flow installed at a tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSpec {
    /// The switch.
    pub switch: String,
    /// Priority.
    pub priority: u16,
    /// Match.
    pub matches: Match,
    /// Actions.
    pub actions: Vec<Action>,
    /// The tick at which the controller installs it.
    pub at: u64,
}

/// Which controller program handles packet-ins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ControllerKind {
    /// None: packet-ins are dropped.
    #[default]
    None,
    /// The reactive layer-2 controller.
    L2,
}

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scenario {
    /// Ticks to run.
    pub ticks: u64,
    /// Frame deliveries allowed in all.
    pub budget: u64,
    /// The controller.
    pub controller: ControllerKind,
    /// Switches.
    pub switches: Vec<SwitchSpec>,
    /// Endpoints.
    pub endpoints: Vec<EndpointSpec>,
    /// NATs.
    pub nats: Vec<NatSpec>,
    /// Tunnel endpoints.
    pub vteps: Vec<VtepSpec>,
    /// Machines.
    pub vms: Vec<VmSpec>,
    /// Links: two port names (`NAME` or `NAME:PORT`).
    pub links: Vec<(String, String)>,
    /// Flows.
    pub flows: Vec<FlowSpec>,
    /// Ports to capture.
    pub captures: Vec<String>,
}

/// A scenario after its run.
#[derive(Debug)]
pub struct Outcome {
    /// The network in its final state.
    pub network: Network,
    /// False when the delivery budget ran out with frames still queued.
    pub finished: bool,
    /// Flows the controller program installed.
    pub controller_flows: u64,
}

impl Scenario {
    /// Builds the network (flows at tick 0 installed), naming the key of any mistake.
    pub fn build(&self) -> Result<Network, ScenarioError> {
        if self.ticks > MAX_TICKS {
            return Err(err(
                "run.ticks".into(),
                format!("at most {MAX_TICKS} ticks"),
            ));
        }
        if self.budget == 0 || self.budget > MAX_BUDGET {
            return Err(err(
                "run.budget".into(),
                format!("must be 1..={MAX_BUDGET}"),
            ));
        }
        let mut net = Network::new();
        for (i, s) in self.switches.iter().enumerate() {
            if s.ports == 0 || s.ports > MAX_PORTS {
                return Err(err(
                    format!("switch[{i}].ports"),
                    format!("must be 1..={MAX_PORTS}"),
                ));
            }
            if s.ageing == 0 {
                return Err(err(
                    format!("switch[{i}].ageing"),
                    "must be at least 1 tick".into(),
                ));
            }
            net.add(&s.name, Node::Switch(Switch::new(s.ports, s.ageing)))
                .map_err(|e| err(format!("switch[{i}].name"), e.0))?;
        }
        for (i, e) in self.endpoints.iter().enumerate() {
            if e.prefix > 32 {
                return Err(err(
                    format!("endpoint[{i}].prefix"),
                    "must be 0..=32".into(),
                ));
            }
            net.add(
                &e.name,
                Node::Endpoint(Endpoint::new(e.mac, e.ip, e.prefix, e.gateway, e.plan)),
            )
            .map_err(|x| err(format!("endpoint[{i}].name"), x.0))?;
        }
        for (i, n) in self.nats.iter().enumerate() {
            if n.inside_prefix > 32 {
                return Err(err(
                    format!("nat[{i}].inside_prefix"),
                    "must be 0..=32".into(),
                ));
            }
            let nat = Nat::new(
                n.inside_mac,
                n.inside_ip,
                n.inside_prefix,
                n.outside_mac,
                n.outside_ip,
            );
            net.add(&n.name, Node::Nat(nat))
                .map_err(|x| err(format!("nat[{i}].name"), x.0))?;
        }
        for (i, v) in self.vteps.iter().enumerate() {
            if v.vni > 0x00ff_ffff {
                return Err(err(format!("vtep[{i}].vni"), "a VNI has 24 bits".into()));
            }
            net.add(
                &v.name,
                Node::Vtep(Vtep::new(v.mac, v.ip, v.vni, v.peers.clone())),
            )
            .map_err(|x| err(format!("vtep[{i}].name"), x.0))?;
        }
        for (i, v) in self.vms.iter().enumerate() {
            if v.slice == 0 || v.slice > MAX_SLICE {
                return Err(err(
                    format!("vm[{i}].slice"),
                    format!("must be 1..={MAX_SLICE} instructions"),
                ));
            }
            net.add(&v.name, Node::Vm(VmPort::new()))
                .map_err(|x| err(format!("vm[{i}].name"), x.0))?;
        }
        for (i, (a, b)) in self.links.iter().enumerate() {
            let pa = net.port(a).map_err(|e| err(format!("link[{i}].a"), e.0))?;
            let pb = net.port(b).map_err(|e| err(format!("link[{i}].b"), e.0))?;
            net.link(pa, pb)
                .map_err(|e| err(format!("link[{i}]"), e.0))?;
        }
        for (i, c) in self.captures.iter().enumerate() {
            let p = net.port(c).map_err(|e| err(format!("capture[{i}]"), e.0))?;
            net.capture(p);
        }
        for (i, f) in self.flows.iter().enumerate() {
            match net.node(&f.switch) {
                Some(Node::Switch(sw)) => {
                    for a in &f.actions {
                        if let Action::Output(p) = a {
                            if *p >= sw.ports() {
                                return Err(err(
                                    format!("flow[{i}].actions"),
                                    format!(
                                        "output:{p}: {} has ports 0..{}",
                                        f.switch,
                                        sw.ports() - 1
                                    ),
                                ));
                            }
                        }
                    }
                }
                _ => {
                    return Err(err(
                        format!("flow[{i}].switch"),
                        format!("no switch is called {:?}", f.switch),
                    ))
                }
            }
            if f.at > self.ticks {
                return Err(err(format!("flow[{i}].at"), "after the last tick".into()));
            }
        }
        self.install(&mut net, 0)?;
        Ok(net)
    }

    fn install(&self, net: &mut Network, at: u64) -> Result<(), ScenarioError> {
        for (i, f) in self.flows.iter().enumerate().filter(|(_, f)| f.at == at) {
            if let Some(Node::Switch(sw)) = net.node_mut(&f.switch) {
                sw.flows_mut()
                    .add(f.priority, f.matches, f.actions.clone())
                    .map_err(|e| err(format!("flow[{i}]"), format!("{e}")))?;
            }
        }
        Ok(())
    }

    /// Builds and runs the scenario to its last tick or the end of its budget.
    pub fn run(&self) -> Result<Outcome, ScenarioError> {
        self.run_with(&mut |_| {})
    }

    /// Like [`Scenario::run`], with `prepare` called on the network before the run
    /// (to add the captures of `--pcap`).
    pub fn run_with(
        &self,
        prepare: &mut dyn FnMut(&mut Network),
    ) -> Result<Outcome, ScenarioError> {
        self.run_machines(prepare, &mut NoMachines)
    }

    /// Like [`Scenario::run_with`], with `machines` running the scenario's `vm` nodes
    /// at the start of every tick.
    pub fn run_machines(
        &self,
        prepare: &mut dyn FnMut(&mut Network),
        machines: &mut dyn Machines,
    ) -> Result<Outcome, ScenarioError> {
        let mut run = self.start(prepare)?;
        while run.tick(self, machines)? {}
        Ok(run.into_outcome())
    }

    /// Builds the network (with `prepare` called on it) for a run tick by tick with
    /// [`Running::tick`].
    pub fn start(&self, prepare: &mut dyn FnMut(&mut Network)) -> Result<Running, ScenarioError> {
        let mut network = self.build()?;
        prepare(&mut network);
        Ok(Running {
            network,
            l2: L2Controller::default(),
            controller: self.controller,
            left: self.budget,
            ticks: 0,
            finished: true,
        })
    }
}

/// A scenario being run tick by tick.
#[derive(Debug)]
pub struct Running {
    /// The network now.
    pub network: Network,
    l2: L2Controller,
    controller: ControllerKind,
    left: u64,
    ticks: u64,
    finished: bool,
}

impl Running {
    /// Runs one tick of `scenario` (the one it was started from): flows due at this
    /// tick installed, the machines run, the network's deliveries made. Returns false,
    /// running nothing, once the last tick ran or the delivery budget is spent.
    pub fn tick(
        &mut self,
        scenario: &Scenario,
        machines: &mut dyn Machines,
    ) -> Result<bool, ScenarioError> {
        if self.is_over(scenario) {
            return Ok(false);
        }
        let t = self.ticks;
        if t > 0 {
            scenario.install(&mut self.network, t)?;
        }
        machines.tick(&mut self.network, t);
        let mut none = NoController;
        let controller: &mut dyn Controller = match self.controller {
            ControllerKind::L2 => &mut self.l2,
            ControllerKind::None => &mut none,
        };
        self.left -= self.network.tick(self.left, controller);
        self.ticks += 1;
        if self.left == 0 {
            self.finished = false;
        }
        Ok(true)
    }

    /// Ticks run so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Whether the run is over: the scenario's last tick ran or the budget is spent.
    pub fn is_over(&self, scenario: &Scenario) -> bool {
        self.ticks >= scenario.ticks || self.left == 0
    }

    /// Frame deliveries left in the budget.
    pub fn budget_left(&self) -> u64 {
        self.left
    }

    /// The run as it stands, as an [`Outcome`].
    pub fn into_outcome(self) -> Outcome {
        Outcome {
            network: self.network,
            finished: self.finished,
            controller_flows: self.l2.installed,
        }
    }

    /// Flows the controller program installed so far.
    pub fn controller_flows(&self) -> u64 {
        self.l2.installed
    }
}
