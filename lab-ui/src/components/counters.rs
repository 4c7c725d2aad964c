//! Counters and the virtualization cost.

use yew::prelude::*;

use super::{use_ctx, Panel};

/// The cost summary in cycles: the guest's own work (one instruction is one cycle of
/// the virtual CPU) beside what its VM exits cost, and what one exit costs in guest
/// instructions. Absolute figures, not a percentage: on a short guest any ratio is
/// dominated by the few exits it makes.
fn cost_line(counters: &[(String, u64)]) -> String {
    let get = |name: &str| counters.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let instructions = get("instructions").unwrap_or(0);
    let (Some(exits), Some(cycles)) = (get("vmm.exits"), get("vmm.exit_cycles")) else {
        return format!("{instructions} instructions on the bare machine: no virtualization cost");
    };
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
    let counters = ctx
        .state
        .view
        .as_ref()
        .map(|v| v.counters.clone())
        .unwrap_or_default();
    html! {
        <Panel id="panel-counters" title="Counters" hint="What the machine and the VMM did, and what virtualization cost.">
            <p data-testid="virt-cost" class="cost">{ cost_line(&counters) }</p>
            <table class="counters mono small">
                { for counters.iter().filter(|(_, v)| *v != 0).map(|(n, v)| html! {
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
        let c = vec![
            ("instructions".to_string(), 1000),
            ("vmm.exits".to_string(), 4),
            ("vmm.exit_cycles".to_string(), 250),
        ];
        assert_eq!(
            cost_line(&c),
            "guest work 1000 cycles (1000 instructions) + 4 VM exits 250 cycles; one exit costs about 62 instructions of guest work"
        );
        let none = [
            c[0].clone(),
            ("vmm.exits".into(), 0),
            ("vmm.exit_cycles".into(), 0),
        ];
        assert_eq!(
            cost_line(&none),
            "guest work 1000 cycles (1000 instructions) + 0 VM exits 0 cycles"
        );
        assert_eq!(
            cost_line(&c[..1]),
            "1000 instructions on the bare machine: no virtualization cost"
        );
    }
}
