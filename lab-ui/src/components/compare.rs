//! One guest bare and virtualized, side by side.

use yew::prelude::*;

use super::use_ctx;

/// The comparison table (shown after a comparison ran).
#[function_component(Compare)]
pub fn compare() -> Html {
    let ctx = use_ctx();
    let Some(runs) = ctx.state.comparison.clone() else {
        return Html::default();
    };
    let unfocused = crate::demos::focus_rank(&ctx.state, "panel-compare") == Some(None);
    let rows: Vec<Vec<(String, u64)>> = runs.iter().map(|r| r.counters.rows()).collect();
    let names: Vec<String> = {
        let mut v: Vec<String> = rows
            .iter()
            .flat_map(|r| r.iter().filter(|(_, c)| *c != 0).map(|(n, _)| n.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    html! {
        <section class={classes!("panel", "wide", unfocused.then_some("unfocused"))} data-testid="panel-compare" aria-label="side by side">
            <h2>{"Side by side"}</h2>
            <table class="compare">
                <tr><th></th>{ for runs.iter().map(|r| html! { <th scope="col">{ r.mode.name() }</th> }) }</tr>
                <tr><th scope="row">{"stopped"}</th>{ for runs.iter().map(|r| html! { <td>{ r.stop.clone() }</td> }) }</tr>
                <tr><th scope="row">{"instructions"}</th>{ for runs.iter().map(|r| html! { <td class="mono">{ r.instructions }</td> }) }</tr>
                <tr><th scope="row">{"serial output"}</th>{ for runs.iter().map(|r| html! { <td><pre class="console small" data-testid="compare-serial">{ r.serial.clone() }</pre></td> }) }</tr>
                { for names.iter().map(|n| html! {
                    <tr><th scope="row" class="small">{ n.clone() }</th>
                    { for rows.iter().map(|r| html! { <td class="mono small">{ r.iter().find(|(m, _)| m == n).map(|(_, v)| *v).unwrap_or(0) }</td> }) }
                    </tr>
                }) }
            </table>
        </section>
    }
}
