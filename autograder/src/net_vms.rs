//! The machines behind a `vmlab net` scenario's `vm` nodes: each guest assembled and booted with a virtio-net NIC or an NE2000, run a slice per tick, its frames carried to and from its port.

use std::path::{Path, PathBuf};

use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};
use serde_json::{json, Value};
use vmlab_net::network::{Machines, Network};
use vmlab_net::scenario::Scenario;
use vmlab_net::scenario_file::locate;

use crate::asm::assemble_file;

/// Where a scenario's guests are loaded and start: flat 32-bit protected mode.
pub const LOAD_AT: u32 = 0x10000;

/// One machine of the scenario.
struct Vm {
    name: String,
    mode: String,
    slice: u64,
    machine: Machine,
    stop: Option<StopReason>,
}

/// The scenario's machines, run by [`Scenario::run_machines`].
pub struct GuestMachines {
    vms: Vec<Vm>,
}

impl GuestMachines {
    /// Assembles and boots every `vm` of `scenario`. Guest paths are relative to the
    /// scenario file `file` (whose text is `text`), and `%include` files are found
    /// beside the guest, then in `guests/include` of the tree the guest is in. An
    /// error names the file, the line and the key.
    pub fn boot(scenario: &Scenario, file: &Path, text: &str) -> Result<GuestMachines, String> {
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let at = |i: usize, key: &str, msg: String| {
            let key = format!("vm[{i}].{key}");
            format!("{}:{}: {key}: {msg}", file.display(), locate(text, &key))
        };
        let mut vms = Vec::new();
        for (i, spec) in scenario.vms.iter().enumerate() {
            let mode: ExecMode = spec
                .mode
                .parse()
                .map_err(|e| at(i, "mode", format!("{e}")))?;
            let guest = dir.join(&spec.guest);
            let includes: Vec<PathBuf> = guest
                .ancestors()
                .skip(1)
                .map(|a| a.join("include"))
                .filter(|d| d.is_dir())
                .take(1)
                .collect();
            // The guest learns which driver to build from the NE2000 define.
            let mut defines = spec.defines.clone();
            if spec.nic == "ne2000" {
                defines.push("NE2000".into());
            }
            let image = assemble_file(&guest, &defines, &includes)
                .map_err(|e| at(i, "guest", e.to_string()))?;
            let mut machine = Machine::new(MachineConfig {
                mode,
                ..MachineConfig::default()
            })
            .map_err(|e| at(i, "mode", e.to_string()))?;
            machine
                .load_flat(LOAD_AT, &image.bytes, FlatEntry::Protected32)
                .map_err(|e| at(i, "guest", e.to_string()))?;
            match spec.nic.as_str() {
                "ne2000" => machine.attach_ne2000(spec.mac.0),
                _ => machine.attach_virtio_net(spec.mac.0),
            }
            .map_err(|e| at(i, "nic", e.to_string()))?;
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

    /// Each machine's report: how it stopped (`running` when it had not), its
    /// instructions and its console.
    pub fn report(&self) -> Vec<Value> {
        self.vms
            .iter()
            .map(|v| {
                json!({
                    "name": v.name,
                    "mode": v.mode,
                    "stop": v.stop.map_or("running", |s| s.name()),
                    "debug_exit_value": match v.stop {
                        Some(StopReason::DebugExit(x)) => Some(x),
                        _ => None,
                    },
                    "instructions": v.machine.icount(),
                    "serial": String::from_utf8_lossy(&v.machine.serial_output()),
                })
            })
            .collect()
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
