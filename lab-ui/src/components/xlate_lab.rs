//! The translation lab's own part of the lab page: its visible tests run here with the
//! translator's ALU lowering or with the starter, and a hand-picked block with the IR
//! each lowering makes of it beside its x86, with the differential verdict.

use std::rc::Rc;

use assignments::xlate_lab::{edge_names, edge_view, run_visible, Lowering};
use assignments::TestOutcome;
use web_sys::HtmlSelectElement;

use super::test_scores;
use yew::prelude::*;

/// One lowering's column of the block picture.
fn column(testid: &str, title: &str, lowering: Lowering, block: usize) -> Html {
    let Some(v) = edge_view(block, lowering) else {
        return Html::default();
    };
    let verdict = match &v.wrong {
        None => "same state as the interpreter".to_string(),
        Some(w) => w.clone(),
    };
    html! {
        <div class="xlate-lab-col" data-testid={testid.to_string()} data-right={v.wrong.is_none().to_string()}>
            <h3>{ title }</h3>
            <pre class={if v.wrong.is_none() { "pass" } else { "fail" }} data-testid={format!("{testid}-verdict")}>{ verdict }</pre>
            <pre class="xlate-ir" data-testid={format!("{testid}-ir")}>{ v.ir }</pre>
        </div>
    }
}

/// The translation lab's panel (shown on its lab page).
#[function_component(XlateLab)]
pub fn xlate_lab() -> Html {
    let runs = use_state(|| None::<Rc<(Vec<TestOutcome>, Vec<TestOutcome>)>>);
    let block = use_state(|| 0usize);
    let names = use_memo((), |_| edge_names());
    let run = {
        let runs = runs.clone();
        Callback::from(move |_: MouseEvent| {
            runs.set(Some(Rc::new((
                run_visible(Lowering::Translator),
                run_visible(Lowering::Starter),
            ))));
        })
    };
    let pick = {
        let block = block.clone();
        Callback::from(move |e: Event| {
            if let Some(s) = e.target_dyn_into::<HtmlSelectElement>() {
                block.set(s.value().parse().unwrap_or(0));
            }
        })
    };
    let x86 = edge_view(*block, Lowering::Translator)
        .map(|v| v.x86.join("\n"))
        .unwrap_or_default();
    html! {
        <div class="xlate-lab" data-testid="xlate-lab">
            <p class="small">{"Your Rust is built and graded natively (`vmlab grade`). Here the same visible tests run in the page with the translator's own lowering (the reference) and with the starter, and a block shows the IR each makes."}</p>
            <button data-testid="xlate-lab-run" onclick={run}>{"Run the visible tests with both lowerings"}</button>
            if let Some(r) = (*runs).clone() {
                <div class="row xlate-lab-results">
                    { test_scores::results("xlate-lab-translator", "xlate-lab-test", "the translator's lowering", &r.0) }
                    { test_scores::results("xlate-lab-starter", "xlate-lab-test", "the starter", &r.1) }
                </div>
            }
            <label>{"Block "}
                <select data-testid="xlate-lab-block" onchange={pick} aria-label="hand-picked block">
                    { for names.iter().enumerate().map(|(i, n)| html! {
                        <option value={i.to_string()} selected={i == *block}>{ n.clone() }</option>
                    }) }
                </select>
            </label>
            <div class="row xlate-lab-picture">
                <div class="xlate-lab-col">
                    <h3>{"x86"}</h3>
                    <pre data-testid="xlate-lab-x86">{ x86 }</pre>
                </div>
                { column("xlate-lab-ir-translator", "IR: the translator's lowering", Lowering::Translator, *block) }
                { column("xlate-lab-ir-starter", "IR: the starter", Lowering::Starter, *block) }
            </div>
        </div>
    }
}
