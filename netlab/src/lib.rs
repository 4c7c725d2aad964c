//! vmlab's networks with real machines: the scenario's guests booted with virtio-net NICs and run tick by tick ([`machines`]), the lab's run of a scenario ([`session`]), and network demos played with their claims checked ([`demo`]).

pub mod demo;
pub mod guests;
pub mod machines;
pub mod session;

pub use machines::GuestMachines;
pub use session::NetLab;

use serde_json::{json, Value};

/// Each machine's report: how it stopped (`running` when it had not), its
/// instructions and its console.
pub fn guest_json(machines: &GuestMachines) -> Vec<Value> {
    machines
        .vms()
        .iter()
        .map(|v| {
            json!({
                "name": v.name,
                "mode": v.mode,
                "stop": v.stop_name(),
                "debug_exit_value": v.exit_value(),
                "instructions": v.machine.icount(),
                "serial": v.console(),
            })
        })
        .collect()
}

/// Adds each machine's report ([`guest_json`]) to its entry in `report["vms"]`
/// (a network report).
pub fn merge_guests(report: &mut Value, machines: &GuestMachines) {
    let guests = guest_json(machines);
    for vm in report["vms"].as_array_mut().into_iter().flatten() {
        let guest = guests.iter().find(|g| g["name"] == vm["name"]);
        if let (Some(v), Some(g)) = (vm.as_object_mut(), guest.and_then(|g| g.as_object())) {
            v.extend(g.iter().map(|(k, x)| (k.clone(), x.clone())));
        }
    }
}
