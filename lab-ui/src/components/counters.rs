//! Counters and the virtualization cost.

use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::protocol::CounterSet;

/// The cost summary in cycles: the guest's own work (one instruction is one cycle of
/// the virtual CPU) beside what its VM exits cost, and what one exit costs in guest
/// instructions. Absolute figures, not a percentage: on a short guest any ratio is
/// dominated by the few exits it makes.
fn cost_line(counters: &CounterSet) -> String {
    let instructions = counters.machine.instructions;
    let Some(vmm) = &counters.vmm else {
        return format!("{instructions} instructions on the bare machine: no virtualization cost");
    };
    let (exits, cycles) = (vmm.exits.total, vmm.exits.cycles);
    let per_exit = match exits {
        0 => String::new(),
        n => format!(
            "; one exit costs about {} instructions of guest work",
            cycles / n
        ),
    };
    format!("guest work {instructions} cycles ({instructions} instructions) + {exits} VM exits {cycles} cycles{per_exit}")
}

/// The counters panel.
#[function_component(Counters)]
pub fn counters() -> Html {
    let ctx = use_ctx();
    let rows = ctx
        .state
        .view
        .as_ref()
        .map(|v| {
            let xlate = v.xlate.iter().flat_map(|x| x.rows());
            v.counters
                .rows()
                .into_iter()
                .chain(xlate)
                .collect::<Vec<_>>()
        })
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
            <super::tier_switch::TierMips/>
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
            "guest work 1000 cycles (1000 instructions) + 4 VM exits 250 cycles; one exit costs about 62 instructions of guest work"
        );
        c.vmm = Some(crate::protocol::VmmCounters::default());
        assert_eq!(
            cost_line(&c),
            "guest work 1000 cycles (1000 instructions) + 0 VM exits 0 cycles"
        );
    }
}
