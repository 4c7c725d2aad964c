//! The pre-copy stop lab's own part of the lab page: its visible tests run here with
//! the reference policy and with the starter, each scenario's rounds drawn up to where
//! each policy stopped, with the downtime and bytes against the limits.

use std::rc::Rc;

use assignments::precopy_lab::{run_visible, Policy, ScenarioView};
use assignments::TestOutcome;
use vmlab_hostlab::moves::{MigrationView, RoundBar};
use yew::prelude::*;

use super::host_charts::migration_svg;
use super::test_scores;

/// One policy's run: its outcomes and its scenarios.
type Run = (Vec<TestOutcome>, Vec<ScenarioView>);

/// The migration a policy made of a scenario, as the Host view's chart draws it.
fn as_migration(v: &ScenarioView) -> MigrationView {
    let n = (v.figures.rounds as usize).min(v.rounds.len());
    let memory_pages = u64::from(v.spec.ram_mib) * 256;
    let all_memory_us = (memory_pages * 4096).saturating_mul(1_000_000) / v.spec.bandwidth.max(1)
        + v.spec.latency_us;
    MigrationView {
        mode: "precopy".into(),
        workload: v.spec.workload.into(),
        memory_pages,
        rounds: v.rounds[..n]
            .iter()
            .map(|r| RoundBar {
                sent: r.sent,
                dirtied: r.dirtied,
            })
            .collect(),
        stop_rule: v.figures.rule.name().into(),
        final_pages: v.rounds[..n].last().map_or(0, |r| r.dirtied),
        downtime_us: v.figures.downtime_us,
        all_memory_us,
        pages_sent: v.figures.bytes / 4096,
        demand_faults: 0,
        prepaged: 0,
        serial_before: String::new(),
        serial_after: String::new(),
        continued: true,
    }
}

/// One policy's migration of one scenario: the chart and the figures against the limits.
fn scenario(who: &str, title: &str, v: &ScenarioView) -> Html {
    let testid = format!("precopy-lab-{who}-{}", v.spec.name);
    let f = &v.figures;
    html! {
        <div class="xlate-lab-col" data-testid={testid.clone()} data-right={v.wrong.is_none().to_string()}>
            <h3>{ format!("{title}: {}", v.spec.name) }</h3>
            { Html::from_html_unchecked(AttrValue::from(migration_svg(&as_migration(v)))) }
            <p class={if v.wrong.is_none() { "pass small" } else { "fail small" }} data-testid={format!("{testid}-figures")}>
                { format!(
                    "{} rounds, stopped ({}); downtime {} us (limit {} us); {} bytes sent (limit {}) — {}",
                    f.rounds, f.rule.name(), f.downtime_us, v.limits.0, f.bytes, v.limits.1,
                    if v.wrong.is_none() { "within the limits" } else { "over a limit" }
                ) }
            </p>
        </div>
    }
}

/// The pre-copy stop lab's panel (shown on its lab page).
#[function_component(PrecopyLab)]
pub fn precopy_lab() -> Html {
    let runs = use_state(|| None::<Rc<(Run, Run)>>);
    let run = {
        let runs = runs.clone();
        Callback::from(move |_: MouseEvent| {
            runs.set(Some(Rc::new((
                run_visible(Policy::Reference),
                run_visible(Policy::Starter),
            ))));
        })
    };
    html! {
        <div class="xlate-lab" data-testid="precopy-lab">
            <p class="small">{"Your Rust is built and graded natively (`vmlab grade`). Here the same visible tests migrate their guests in the page with the reference policy and with the starter; each chart shows the rounds up to where the policy stopped (blue: pages sent, orange: pages dirtied meanwhile, red: the stop-and-copy)."}</p>
            <button data-testid="precopy-lab-run" onclick={run}>{"Run the visible tests with both policies"}</button>
            if let Some(r) = (*runs).clone() {
                <div class="row xlate-lab-results">
                    { test_scores::results("precopy-lab-reference", "precopy-lab-test", "the reference", &r.0 .0) }
                    { test_scores::results("precopy-lab-starter", "precopy-lab-test", "the starter", &r.1 .0) }
                </div>
                { for r.0 .1.iter().zip(&r.1 .1).map(|(a, b)| html! {
                    <div class="row xlate-lab-picture">
                        { scenario("reference", "the reference", a) }
                        { scenario("starter", "the starter", b) }
                    </div>
                }) }
            }
        </div>
    }
}
