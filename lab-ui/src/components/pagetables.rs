//! The guest's page tables as a tree from CR3, the VMM's shadow or nested tables
//! beside them, and a step-by-step translation of one address.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::{parse_hex, use_ctx, Ctx, Panel};
use crate::protocol::{Command, TableTree, Walk};
use crate::state::Action;

fn tree(ctx: &Ctx, t: &TableTree, testid: &'static str) -> Html {
    let entries = t.directory.iter().map(|pde| {
        let i = pde.index;
        let open = ctx.state.expanded.contains(&i);
        let toggle = {
            let ctx = ctx.clone();
            Callback::from(move |_: MouseEvent| ctx.dispatch(Action::ToggleExpanded(i)))
        };
        let span = format!("{:08x}–{:08x}", i << 22, (i << 22) | 0x3f_ffff);
        let children = t.tables.iter().find(|(pi, _)| *pi == i).map(|(_, ptes)| {
            ptes.iter()
                .map(|pte| {
                    let lin = (i << 22) | (pte.index << 12);
                    html! {
                        <li class="pte mono" data-testid="pte">
                            { format!("PTE {:4} {:08x} → {:08x} {}", pte.index, lin, pte.frame(), pte.flag_letters()) }
                        </li>
                    }
                })
                .collect::<Html>()
        });
        html! {
            <li class="pde">
                <button class="linkish mono" data-testid="pde" aria-expanded={open.to_string()} onclick={toggle}>
                    { format!("{} PDE {:4} {} → {:08x} {}{}", if open { "▾" } else { "▸" }, i, span, pde.frame(),
                        pde.flag_letters(), if pde.large() { " 4 MiB" } else { "" }) }
                </button>
                if open { <ul>{ children.unwrap_or_else(|| html!{ <li>{"(a 4 MiB page)"}</li> }) }</ul> }
            </li>
        }
    });
    html! {
        <div class="tree" data-testid={testid}>
            <h3>{ format!("{} — directory at {:08x}", t.title, t.root) }</h3>
            if t.directory.is_empty() { <p>{"no present entries"}</p> }
            <ul>{ for entries }</ul>
        </div>
    }
}

fn walk_view(w: &Walk) -> Html {
    html! {
        <div class="walk" data-testid="walk">
            <div class="mono">{ format!("linear {:08x} = PDE {} | PTE {} | offset {:03x}", w.linear, w.linear >> 22, (w.linear >> 12) & 0x3ff, w.linear & 0xfff) }</div>
            <ol>
                { for w.steps.iter().map(|s| html! {
                    <li class="mono" data-testid="walk-step">{ format!("{} at {:08x} = {:08x}", s.level, s.entry_addr, s.entry) }</li>
                }) }
            </ol>
            <div class="mono" data-testid="walk-result">{
                match &w.result {
                    Ok(p) => format!("→ physical {p:08x}"),
                    Err(e) => format!("→ {e}"),
                }
            }</div>
            if !w.detail.is_empty() { <div class="small mono">{ w.detail.clone() }</div> }
        </div>
    }
}

/// The page-table panel.
#[function_component(PageTables)]
pub fn page_tables() -> Html {
    let ctx = use_ctx();
    let input = use_node_ref();
    let translate = {
        let ctx = ctx.clone();
        let input = input.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let text = input
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            match parse_hex(&text) {
                Some(a) => ctx.send.emit(Command::Translate(a)),
                None => ctx.dispatch(Action::Status(format!(
                    "translate: `{text}` is not a hex address"
                ))),
            }
        })
    };
    let view = ctx.state.view.clone();
    let guest = view
        .as_ref()
        .and_then(|v| v.guest_tables.as_ref())
        .map(|t| tree(&ctx, t, "guest-tables"));
    let vmm = view
        .as_ref()
        .and_then(|v| v.vmm_tables.as_ref())
        .map(|t| tree(&ctx, t, "vmm-tables"));
    let walk = view.as_ref().and_then(|v| v.walk.as_ref()).map(walk_view);
    html! {
        <Panel id="panel-pagetables" title="Page tables" class="wide"
               hint="The guest's two-level tables from CR3 (P present, W writable, U user, A accessed, D dirty, S 4 MiB). Beside them: the VMM's shadow or nested tables. Expanding a PDE expands the same index in both trees, so corresponding entries sit side by side.">
            <form class="row" onsubmit={translate} data-testid="translate-form">
                <label>{"translate linear "}<input ref={input} data-testid="translate-addr" aria-label="linear address to translate" size="18" placeholder="hex, e.g. 40001000"/></label>
                <button type="submit" data-testid="translate-go">{"Walk"}</button>
            </form>
            { walk.unwrap_or_default() }
            <p class="small legend" data-testid="flag-legend">
                {"Flags: P present · W writable · U user · T write-through · C cache off · A accessed · D dirty · S 4 MiB page · G global; a dot: clear."}
            </p>
            <div class="trees">
                { guest.unwrap_or_else(|| html! { <div class="tree" data-testid="guest-tables"><h3>{"guest"}</h3><p>{"paging is off (CR0.PG = 0)"}</p></div> }) }
                { vmm.unwrap_or_else(|| html! { <div class="tree" data-testid="vmm-tables"><h3>{"shadow / nested"}</h3><p>{"only under trap-emulate (shadow) or hw-assist (nested)"}</p></div> }) }
            </div>
        </Panel>
    }
}
