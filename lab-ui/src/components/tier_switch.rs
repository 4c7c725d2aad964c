//! The toolbar's tier switch (interpreter, fast tier, translate, with the translating
//! tier's threshold) and the MIPS the worker measured per tier, for the counters.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::use_ctx;
use crate::protocol::Command;
use crate::xlate::{Tier, DEFAULT_THRESHOLD};

/// The tier switch and the threshold.
#[function_component(TierSwitch)]
pub fn tier_switch() -> Html {
    let ctx = use_ctx();
    let x = ctx.state.view.as_ref().and_then(|v| v.xlate.clone());
    let (tier, threshold) = x
        .as_ref()
        .map_or((Tier::default(), DEFAULT_THRESHOLD), |x| {
            (x.tier, x.threshold)
        });
    let loaded = x.is_some();
    let running = ctx.state.running();
    let tier_ref = use_node_ref();
    let threshold_ref = use_node_ref();
    let read = {
        let (t, n) = (tier_ref.clone(), threshold_ref.clone());
        move || {
            let tier = t
                .cast::<HtmlSelectElement>()
                .and_then(|s| Tier::parse(&s.value()))
                .unwrap_or_default();
            let threshold = n
                .cast::<HtmlInputElement>()
                .and_then(|i| i.value().trim().parse::<u32>().ok())
                .filter(|&n| n >= 1)
                .unwrap_or(DEFAULT_THRESHOLD);
            Command::SetTier { tier, threshold }
        }
    };
    let onchange = {
        let send = ctx.send.clone();
        Callback::from(move |_: Event| send.emit(read()))
    };
    html! {
        <span class="tier-switch" role="group" aria-label="execution tier">
            <label title="how instructions run: the general interpreter (decode and dispatch), the fast tier (pre-decoded operations, threaded dispatch) or the translating tier (hot regions compiled to WebAssembly)">{"tier "}
                <select ref={tier_ref} onchange={onchange.clone()} data-testid="tier-select" aria-label="execution tier"
                        disabled={!loaded || running}>
                    { for Tier::ALL.iter().map(|t| html! {
                        <option value={t.name()} selected={*t == tier}>{ t.label() }</option>
                    }) }
                </select>
            </label>
            <label title="executions of an entry point before the translating tier translates the region there">{"threshold "}
                <input ref={threshold_ref} type="number" min="1" max="100000" value={threshold.to_string()}
                       data-testid="tier-threshold" aria-label="translation threshold" class="threshold"
                       disabled={!loaded || running || tier != Tier::Translate} {onchange}/>
            </label>
        </span>
    }
}

/// The MIPS the worker measured at full speed, per tier, one line.
#[function_component(TierMips)]
pub fn tier_mips() -> Html {
    let ctx = use_ctx();
    let Some(x) = ctx.state.view.as_ref().and_then(|v| v.xlate.clone()) else {
        return html! {};
    };
    let text = if x.mips.is_empty() {
        "MIPS per tier: run at full speed to measure".to_string()
    } else {
        let parts: Vec<String> = x
            .mips
            .iter()
            .map(|(t, m)| format!("{} {m:.1}", t.label()))
            .collect();
        format!("MIPS per tier: {}", parts.join(" · "))
    };
    html! {
        <p class="mips small" data-testid="tier-mips" title="millions of guest instructions per second in the last full-speed run of each tier">
            { for x.mips.iter().map(|(t, m)| html! {
                <span hidden=true data-testid="tier-mips-value" data-tier={t.name()} data-mips={format!("{m:.3}")}/>
            }) }
            { text }
        </p>
    }
}
