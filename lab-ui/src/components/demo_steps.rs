//! What the Host view and the network panel share when they play a demo: the step's narration with Back/Next and its checked claims, and a part of the view lit when the step is about it.

use yew::prelude::*;

use super::labpage::markdown;
use vmlab_demos::manifest::kind_host::Checked;

/// One step's narration in view `view` (`host`, `net`: the test ids' prefix): Back
/// and Next, "step N of TOTAL", the title, the text and the claims as checked.
pub fn narration(
    view: &str,
    step: usize,
    total: usize,
    s: &vmlab_demos::Step,
    checked: &[Checked],
    go: impl Fn(isize) -> Callback<MouseEvent>,
) -> Html {
    let id = |what: &str| format!("{view}-{what}");
    html! {
        <div class="host-demo" data-testid={id("demo")}>
            <div class="row">
                <button data-testid={id("demo-prev")} onclick={go(-1)} disabled={step == 0}>{"◀ Back"}</button>
                <span data-testid={id("demo-step-count")}>{ format!("step {} of {total}", step + 1) }</span>
                <button data-testid={id("demo-next")} onclick={go(1)} disabled={step + 1 >= total}>{"Next ▶"}</button>
                <strong data-testid={id("demo-step-title")}>{ s.title.clone() }</strong>
            </div>
            <div data-testid={id("demo-step-text")}>{ Html::from_html_unchecked(AttrValue::from(markdown(&s.text))) }</div>
            <ul class="host-claims small" data-testid={id("demo-claims")}>
                { for checked.iter().map(|c| html! {
                    <li class={classes!(if c.holds { "ok" } else { "error" })} data-holds={c.holds.to_string()}>
                        { format!("{} {} = {}", if c.holds { "✓" } else { "✗" }, c.figure, c.shown) }
                    </li>
                }) }
            </ul>
        </div>
    }
}

/// A part of a view (`testid` is its test id without `-part`), lit when the step's
/// `focus` names it first or at all, dimmed when the step is about other parts.
pub fn part<P: PartialEq>(focus: &[P], p: &P, testid: &str, title: &str, body: Html) -> Html {
    let class = if focus.is_empty() {
        classes!("host-part")
    } else if focus.first() == Some(p) {
        classes!("host-part", "focused", "first")
    } else if focus.contains(p) {
        classes!("host-part", "focused")
    } else {
        classes!("host-part", "unfocused")
    };
    html! {
        <section class={class} data-testid={format!("{testid}-part")} aria-label={title.to_string()}>
            <h3>{ title.to_string() }</h3>
            { body }
        </section>
    }
}
