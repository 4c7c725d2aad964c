//! Counters and the virtualization cost.

use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::protocol::CounterSet;

/// The cost summary: exits and their cycles against the instructions the guest ran
/// (one instruction is one cycle of the virtual CPU).
fn cost_line(counters: &CounterSet) -> String {
    let instructions = counters.machine.instructions;
    let Some(vmm) = &counters.vmm else {
        return format!("{instructions} instructions on the bare machine: no virtualization cost");
    };
    let (exits, cycles) = (vmm.exits.total, vmm.exits.cycles);
    let overhead = if instructions == 0 {
        0.0
    } else {
        cycles as f64 * 100.0 / instructions as f64
    };
    format!(
        "{instructions} guest instructions, {exits} VM exits costing {cycles} cycles: +{overhead:.1}% virtualization overhead"
    )
}

/// The counters panel.
#[function_component(Counters)]
pub fn counters() -> Html {
    let ctx = use_ctx();
    let rows = ctx
        .state
        .view
        .as_ref()
        .map(|v| v.counters.rows())
        .unwrap_or_default();
    let cost = ctx
        .state
        .view
        .as_ref()
        .map(|v| cost_line(&v.counters))
        .unwrap_or_default();
    html! {
        <Panel id="panel-counters" title="Counters" hint="What the machine and the VMM did, and what virtualization cost.">
            <p data-testid="virt-cost" class="cost">{ cost }</p>
            <table class="counters mono small">
                { for rows.iter().filter(|(_, v)| *v != 0).map(|(n, v)| html! {
                    <tr data-testid="counter" data-name={n.clone()}><th scope="row">{ n.clone() }</th><td>{ *v }</td></tr>
                }) }
            </table>
        </Panel>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_line_reports_overhead() {
        let mut c = CounterSet::default();
        c.machine.instructions = 1000;
        assert_eq!(
            cost_line(&c),
            "1000 instructions on the bare machine: no virtualization cost"
        );
        let mut vmm = crate::protocol::VmmCounters::default();
        vmm.exits.total = 4;
        vmm.exits.cycles = 250;
        c.vmm = Some(vmm);
        assert_eq!(
            cost_line(&c),
            "1000 guest instructions, 4 VM exits costing 250 cycles: +25.0% virtualization overhead"
        );
    }
}
