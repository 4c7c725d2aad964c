//! The lecture demos: a menu, and the open demo's narration with next / previous.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::labpage::markdown;
use super::{use_ctx, Op};
use crate::demos;
use crate::state::Action;

/// The demo menu (a select in the header).
#[function_component(DemoMenu)]
pub fn demo_menu() -> Html {
    let ctx = use_ctx();
    let r = use_node_ref();
    let on_change = {
        let ctx = ctx.clone();
        let r = r.clone();
        Callback::from(move |_: Event| {
            let v = r
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            if let Some(d) = demos::find(&v) {
                ctx.op.emit(Op::OpenDemo(d.id));
            }
        })
    };
    let current = ctx.state.demo.map(|(d, _)| d.id).unwrap_or("");
    html! {
        <label>{"Demo "}
            <select ref={r} onchange={on_change} data-testid="demo-menu" aria-label="lecture demos">
                <option value="" selected={current.is_empty()}>{"choose a lecture demo…"}</option>
                { for demos::menu().into_iter().map(|d| html! { <option value={d.id} selected={d.id == current}>{ d.title() }</option> }) }
            </select>
        </label>
    }
}

/// The narration of the open demo.
#[function_component(DemoNarration)]
pub fn demo_narration() -> Html {
    let ctx = use_ctx();
    let Some((demo, i)) = ctx.state.demo else {
        return Html::default();
    };
    let Some(step) = demo.steps().get(i) else {
        return Html::default();
    };
    let go = |to: usize| {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.op.emit(Op::DemoStep(to)))
    };
    let close = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.dispatch(Action::CloseDemo))
    };
    let last = demo.steps().len() - 1;
    let focus = step
        .focus
        .iter()
        .map(|p| p.testid())
        .collect::<Vec<_>>()
        .join(" ");
    html! {
        <section class="panel narration" data-testid="demo-narration" data-demo={demo.id} data-focus={focus} aria-label="demo narration" aria-live="polite">
            <div class="row">
                <strong>{ demo.title() }</strong>
                <span class="small" data-testid="demo-step-count">{ format!("step {} of {}", i + 1, demo.steps().len()) }</span>
                <button data-testid="demo-prev" onclick={go(i.saturating_sub(1))} disabled={i == 0} aria-label="previous step" aria-keyshortcuts="PageUp">{"◀ Previous"}</button>
                <button data-testid="demo-next" onclick={go((i + 1).min(last))} disabled={i == last} aria-label="next step" aria-keyshortcuts="PageDown">{"Next ▶"}</button>
                <button data-testid="demo-close" onclick={close} aria-label="close the demo">{"✕"}</button>
            </div>
            <h3 data-testid="demo-step-title">{ step.title.clone() }</h3>
            <div data-testid="demo-step-text">{ Html::from_html_unchecked(AttrValue::from(markdown(&step.text))) }</div>
        </section>
    }
}
