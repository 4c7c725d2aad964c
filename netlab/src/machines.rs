//! The machines behind a network scenario's `vm` nodes: each guest booted from its assembled image with a virtio-net NIC, run a slice per tick, its frames carried to and from its port.

use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};
use vmlab_net::network::{Machines, Network};
use vmlab_net::scenario::Scenario;

/// Where a scenario's guests are loaded and start: flat 32-bit protected mode.
pub const LOAD_AT: u32 = 0x10000;

/// The RAM of each machine: the lab's machine size, so that a machine of the network
/// opens in the lab's panels.
pub const RAM_MIB: u32 = 4;

/// A mistake booting machine `vm` (its index in the scenario): the key and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootError {
    /// The machine's index in the scenario's `vm` list.
    pub vm: usize,
    /// The key of that machine the mistake is about (`mode`, `guest`, `mac`).
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

/// One machine of the scenario.
#[derive(Debug)]
pub struct Vm {
    /// Its name in the scenario.
    pub name: String,
    /// Its execution mode, as the scenario spells it.
    pub mode: String,
    slice: u64,
    /// The machine.
    pub machine: Machine,
    /// How it stopped, or `None` while it runs.
    pub stop: Option<StopReason>,
}

impl Vm {
    /// How it stopped (`running` when it has not), by the core's exit-reason name.
    pub fn stop_name(&self) -> &'static str {
        self.stop.map_or("running", |s| s.name())
    }

    /// The value it wrote to the debug-exit port, when it left that way.
    pub fn exit_value(&self) -> Option<u8> {
        match self.stop {
            Some(StopReason::DebugExit(x)) => Some(x),
            _ => None,
        }
    }

    /// Its console (COM1) so far.
    pub fn console(&self) -> String {
        String::from_utf8_lossy(&self.machine.serial_output()).into_owned()
    }
}

/// The scenario's machines, run by [`Scenario::run_machines`] or tick by tick.
#[derive(Debug)]
pub struct GuestMachines {
    vms: Vec<Vm>,
}

impl GuestMachines {
    /// Boots every `vm` of `scenario` from `images` (one assembled guest per machine,
    /// in the scenario's order, loaded at [`LOAD_AT`]).
    pub fn boot(scenario: &Scenario, images: &[Vec<u8>]) -> Result<GuestMachines, BootError> {
        let mut vms = Vec::new();
        for (i, spec) in scenario.vms.iter().enumerate() {
            let at = |key, message: String| BootError {
                vm: i,
                key,
                message,
            };
            let mode: ExecMode = spec.mode.parse().map_err(|e| at("mode", format!("{e}")))?;
            let image = images
                .get(i)
                .ok_or_else(|| at("guest", "no image was assembled for it".into()))?;
            let mut machine = Machine::new(MachineConfig {
                mode,
                ram_mib: RAM_MIB,
                ..MachineConfig::default()
            })
            .map_err(|e| at("mode", e.to_string()))?;
            machine
                .load_flat(LOAD_AT, image, FlatEntry::Protected32)
                .map_err(|e| at("guest", e.to_string()))?;
            match spec.nic.as_str() {
                "ne2000" => machine.attach_ne2000(spec.mac.0),
                _ => machine.attach_virtio_net(spec.mac.0),
            }
            .map_err(|e| at("nic", e.to_string()))?;
            vms.push(Vm {
                name: spec.name.clone(),
                mode: spec.mode.clone(),
                slice: spec.slice,
                machine,
                stop: None,
            });
        }
        Ok(GuestMachines { vms })
    }

    /// The machines, in the scenario's order.
    pub fn vms(&self) -> &[Vm] {
        &self.vms
    }

    /// The machine called `name`.
    pub fn vm(&self, name: &str) -> Option<&Vm> {
        self.vms.iter().find(|v| v.name == name)
    }
}

impl Machines for GuestMachines {
    fn tick(&mut self, net: &mut Network, _now: u64) {
        for vm in &mut self.vms {
            let arrived = net.take_for(&vm.name);
            if vm.stop.is_some() {
                continue;
            }
            for frame in &arrived {
                vm.machine.deliver_frame(frame);
            }
            match vm.machine.run(vm.slice) {
                StopReason::BudgetExhausted => {}
                other => vm.stop = Some(other),
            }
            for frame in vm.machine.take_sent_frames() {
                // The node exists: it was built from the same scenario.
                let _ = net.inject(&vm.name, frame);
            }
        }
    }
}
