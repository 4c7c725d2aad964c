//! Counters and the virtualization cost.

use yew::prelude::*;

use super::{use_ctx, Panel};

/// The cost summary: exits and their cycles against the instructions the guest ran
/// (one instruction is one cycle of the virtual CPU).
fn cost_line(counters: &[(String, u64)]) -> String {
    let get = |name: &str| counters.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let instructions = get("instructions").unwrap_or(0);
    let (Some(exits), Some(cycles)) = (get("vmm.exits"), get("vmm.exit_cycles")) else {
        return format!("{instructions} instructions on the bare machine: no virtualization cost");
    };
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
            "1000 guest instructions, 4 VM exits costing 250 cycles: +25.0% virtualization overhead"
        );
        assert_eq!(
            cost_line(&c[..1]),
            "1000 instructions on the bare machine: no virtualization cost"
        );
    }
}
