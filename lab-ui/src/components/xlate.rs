//! The translation-cache panel: the tier and its backend, the cached regions (guest
//! range, instructions, executions, chained successors), the cache's events, and the
//! selected region's x86, IR before and after the passes, and Wasm module as text (printed
//! on the page by the printer it fetches) side by side.

use yew::prelude::*;

use super::{hex32, use_ctx, Panel};
use crate::protocol::Command;
use crate::xlate::{RegionDetail, RegionRow, Tier};

/// Events the panel lists (the newest last).
const EVENTS_SHOWN: usize = 60;

fn region_row(r: &RegionRow, selected: bool, onclick: Callback<MouseEvent>) -> Html {
    let chained = if r.successors.is_empty() {
        "—".to_string()
    } else {
        r.successors
            .iter()
            .map(|&a| hex32(a))
            .collect::<Vec<_>>()
            .join(" ")
    };
    html! {
        <tr data-testid="xlate-region" data-entry={hex32(r.entry)} class={classes!(selected.then_some("selected"))}
            {onclick} tabindex="0" title="show its x86, IR and Wasm">
            <td>{ hex32(r.entry) }</td>
            <td>{ format!("{}–{}", hex32(r.range.0), hex32(r.range.1)) }</td>
            <td>{ r.instructions }</td>
            <td data-testid="xlate-runs">{ r.runs }</td>
            <td data-testid="xlate-successors">{ chained }</td>
        </tr>
    }
}

fn column(title: &str, id: &str, lines: &[String]) -> Html {
    html! {
        <div class="xlate-col" data-testid={id.to_string()}>
            <h3>{ title.to_string() }</h3>
            <pre class="mono small">{ lines.join("\n") }</pre>
        </div>
    }
}

/// What the Wasm column shows of a module: its text, or that it is being printed.
#[derive(Properties, PartialEq)]
struct WasmProps {
    module: Vec<u8>,
}

/// The Wasm column: the module printed as text by the printer module the page fetches
/// the first time a region is shown (`crate::region_text`).
#[function_component(WasmColumn)]
fn wasm_column(p: &WasmProps) -> Html {
    // The module printed and its text, so a late answer for another module is not shown.
    let printed = use_state(|| None::<(Vec<u8>, Vec<String>)>);
    {
        let printed = printed.clone();
        use_effect_with(p.module.clone(), move |module| {
            let module = module.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let lines = crate::region_text::print(&module)
                    .await
                    .unwrap_or_else(|e| vec![format!(";; the Wasm text is unavailable: {e}")]);
                printed.set(Some((module, lines)));
            });
        });
    }
    let lines = match &*printed {
        Some((module, lines)) if *module == p.module => lines.clone(),
        _ => vec!["printing…".to_string()],
    };
    column(
        &format!("Wasm ({} bytes)", p.module.len()),
        "xlate-wasm",
        &lines,
    )
}

fn detail(d: &RegionDetail) -> Html {
    html! {
        <div class="xlate-detail" data-testid="xlate-detail" data-entry={hex32(d.entry)}>
            { column(&format!("x86 ({} instructions)", d.x86.len()), "xlate-x86", &d.x86) }
            { column(&format!("IR as lowered ({} lines)", d.ir_before.len()), "xlate-ir-before", &d.ir_before) }
            { column(&format!("IR after the passes ({} lines)", d.ir_after.len()), "xlate-ir-after", &d.ir_after) }
            <WasmColumn module={d.module.clone()} />
        </div>
    }
}

/// The translation-cache panel.
#[function_component(XlatePanel)]
pub fn xlate_panel() -> Html {
    let ctx = use_ctx();
    let Some(x) = ctx.state.view.as_ref().and_then(|v| v.xlate.clone()) else {
        return html! {};
    };
    let events = ctx.state.xlate_log.read(|l| {
        let skip = l.len().saturating_sub(EVENTS_SHOWN);
        l.iter().skip(skip).cloned().collect::<Vec<_>>()
    });
    let selected = x.detail.as_ref().map(|d| d.entry);
    let [translated, runs, instructions, invalidated] = x.stats;
    let summary = if x.tier == Tier::Translate {
        format!(
            "translate, threshold {}: {} — {translated} translated, {runs} region runs retired {instructions} instructions, {invalidated} invalidated; {} compiled to Wasm",
            x.threshold, x.backend, x.compiled.0
        )
    } else {
        format!(
            "{}: nothing is translated (pick translate in the toolbar's tier switch)",
            x.tier.label()
        )
    };
    html! {
        <Panel id="panel-xlate" title="Translation cache" class="xlate"
               hint="Hot regions of guest code translated to IR, optimised and compiled to WebAssembly. Click a region for its x86, IR and Wasm.">
            <p class="small" data-testid="xlate-summary">{ summary }</p>
            if x.regions.is_empty() {
                <p class="small" data-testid="xlate-empty">{"no regions cached"}</p>
            } else {
                <table class="mono small xlate-regions" data-testid="xlate-regions">
                    <tr><th>{"entry"}</th><th>{"guest range"}</th><th>{"insns"}</th><th>{"runs"}</th><th>{"chained to"}</th></tr>
                    { for x.regions.iter().map(|r| {
                        let entry = r.entry;
                        let same = selected == Some(entry);
                        let send = ctx.send.clone();
                        let onclick = Callback::from(move |_: MouseEvent| {
                            send.emit(Command::ShowRegion(if same { None } else { Some(entry) }))
                        });
                        region_row(r, same, onclick)
                    }) }
                </table>
            }
            <ul class="mono small xlate-events" data-testid="xlate-events" aria-label="translation-cache events">
                { for events.iter().map(|e| html! {
                    <li data-testid="xlate-event" data-kind={e.kind.clone()} class={classes!("xlate-event", e.kind.clone())}>
                        { format!("{:>10}  {}", e.icount, e.text) }
                    </li>
                }) }
            </ul>
            { for x.detail.as_ref().map(detail) }
        </Panel>
    }
}
