//! The trap / VM-exit log: filter by reason, click an entry to jump to its instruction.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::{hex32, use_ctx, Panel};
use crate::protocol::Command;
use crate::state::Action;
use crate::{export, storage};

/// The log panel.
#[function_component(Log)]
pub fn log() -> Html {
    let ctx = use_ctx();
    let filter_ref = use_node_ref();
    let on_filter = {
        let ctx = ctx.clone();
        let filter_ref = filter_ref.clone();
        Callback::from(move |_: Event| {
            let v = filter_ref
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            ctx.dispatch(Action::SetFilter((!v.is_empty()).then_some(v)));
        })
    };
    let save = |csv: bool| {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            let entries = ctx.state.filtered_log();
            let done = if csv {
                storage::download_as(
                    "trap-log.csv",
                    "text/csv",
                    export::log_csv(&entries).as_bytes(),
                )
            } else {
                storage::download_as(
                    "trap-log.json",
                    "application/json",
                    export::log_json(&entries).as_bytes(),
                )
            };
            ctx.dispatch(Action::Status(match done {
                Ok(()) => format!("saved {} log entries", entries.len()),
                Err(e) => e,
            }));
        })
    };
    let reasons = ctx.state.log_reasons();
    let current = ctx.state.log_filter.clone().unwrap_or_default();
    let entries = ctx.state.recent_log(300);
    let rows = entries.into_iter().enumerate().map(|(i, e)| {
        let jump = {
            let ctx = ctx.clone();
            let at = e.linear_eip;
            Callback::from(move |_: MouseEvent| {
                ctx.dispatch(Action::SetCursor(at));
                ctx.send.emit(Command::ShowCode(at));
            })
        };
        html! {
            <tr class={classes!("log-row", e.reason.clone(), (i == 0).then_some("newest"))} data-testid="log-entry" data-reason={e.reason.clone()}
                onclick={jump} role="button" tabindex="0" aria-label={format!("jump to {:08x}", e.linear_eip)}>
                <td class="mono">{ e.icount }</td>
                <td class="mono">{ hex32(e.linear_eip) }</td>
                <td>{ e.reason.clone() }</td>
                <td class="mono">{ e.text.clone() }</td>
            </tr>
        }
    });
    html! {
        <Panel id="panel-log" title="Traps and VM exits"
               hint="Exceptions, interrupts, I/O and VM exits, newest first. Click one to show its instruction.">
            <label>{"reason "}
                <select ref={filter_ref} onchange={on_filter} data-testid="log-filter" aria-label="filter the log by reason">
                    <option value="" selected={current.is_empty()}>{"all"}</option>
                    { for reasons.iter().map(|r| html! { <option value={r.clone()} selected={*r == current}>{ r.clone() }</option> }) }
                </select>
            </label>
            <span class="small">{ format!(" {} entries ", ctx.state.log_len()) }</span>
            <button class="small-btn" data-testid="btn-log-csv" title="save the log (as filtered) as CSV"
                    onclick={save(true)}>{"CSV"}</button>
            <button class="small-btn" data-testid="btn-log-json" title="save the log (as filtered) as JSON"
                    onclick={save(false)}>{"JSON"}</button>
            <div class="scroll"><table class="log">{ for rows }</table></div>
        </Panel>
    }
}
