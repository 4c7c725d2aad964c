//! The TLB's valid entries.

use yew::prelude::*;

use super::{use_ctx, Panel};

/// The TLB panel.
#[function_component(Tlb)]
pub fn tlb() -> Html {
    let ctx = use_ctx();
    let lines = ctx
        .state
        .view
        .as_ref()
        .map(|v| v.tlb.clone())
        .unwrap_or_default();
    html! {
        <Panel id="panel-tlb" title="TLB" hint="Cached translations: linear page → physical frame (host-physical under a VMM). A hit skips the page walk.">
            if lines.is_empty() { <p>{"empty"}</p> }
            <ul class="mono small" data-testid="tlb-entries">
                { for lines.iter().map(|l| html! { <li data-testid="tlb-entry">{ l.clone() }</li> }) }
            </ul>
        </Panel>
    }
}
