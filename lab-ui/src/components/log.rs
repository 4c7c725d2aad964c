//! The trap / VM-exit log: filter by kind (a demo step may set the filter), click
//! an entry to jump to its instruction.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::{hex32, use_ctx, Panel};
use crate::protocol::Command;
use crate::state::Action;
use crate::{export, storage};

/// The filter menu's choices: every entry, every VM exit, each kind in the log,
/// and the current filter when it is none of these (a step's list of kinds). Each is
/// (value, label); a value is the kinds joined by commas.
fn choices(reasons: &[String], current: &[String]) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "all".to_string())];
    if reasons.iter().any(|r| r.starts_with("exit:")) {
        out.push(("exit".into(), "every VM exit".into()));
    }
    out.extend(reasons.iter().map(|r| (r.clone(), r.clone())));
    let value = current.join(",");
    if !out.iter().any(|(v, _)| *v == value) {
        out.push((value, format!("this step: {}", current.join(", "))));
    }
    out
}

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
            let kinds = v.split(',').filter(|k| !k.is_empty()).map(str::to_string);
            ctx.dispatch(Action::SetFilter(kinds.collect()));
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
    let current = ctx.state.log_filter.clone();
    let value = current.join(",");
    let menu = choices(&ctx.state.log_reasons(), &current);
    let entries = ctx.state.recent_log(300);
    let shown = entries.len();
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
                <td class="mono num">{ e.icount }</td>
                <td class="mono num">{ hex32(e.linear_eip) }</td>
                <td class="kind">{ e.reason.clone() }</td>
                <td class="mono text">{ e.text.clone() }</td>
            </tr>
        }
    });
    let count = if current.is_empty() {
        format!(" {} entries", ctx.state.log_len())
    } else {
        format!(" {shown} of {} entries", ctx.state.log_len())
    };
    html! {
        <Panel id="panel-log" title="Traps and VM exits"
               hint="Exceptions, interrupts, I/O and VM exits, newest first. Click one to show its instruction.">
            <label>{"show "}
                <select ref={filter_ref} onchange={on_filter} data-testid="log-filter" data-value={value.clone()} aria-label="filter the log by kind">
                    { for menu.iter().map(|(v, label)| html! { <option value={v.clone()} selected={*v == value}>{ label.clone() }</option> }) }
                </select>
            </label>
            <span class="small" data-testid="log-count">{ count }</span>
            <button class="small-btn" data-testid="btn-log-csv" title="save the log (as filtered) as CSV"
                    onclick={save(true)}>{"CSV"}</button>
            <button class="small-btn" data-testid="btn-log-json" title="save the log (as filtered) as JSON"
                    onclick={save(false)}>{"JSON"}</button>
            <div class="scroll"><table class="log">{ for rows }</table></div>
        </Panel>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_offers_every_kind_and_a_steps_list() {
        let reasons = ["exit:io".to_string(), "io".to_string()];
        let values = |current: &[String]| -> Vec<String> {
            choices(&reasons, current)
                .into_iter()
                .map(|(v, _)| v)
                .collect()
        };
        assert_eq!(values(&[]), ["", "exit", "exit:io", "io"]);
        let step = ["popek-goldberg".to_string(), "sensitive".to_string()];
        let menu = choices(&reasons, &step);
        assert_eq!(
            menu.last(),
            Some(&(
                "popek-goldberg,sensitive".to_string(),
                "this step: popek-goldberg, sensitive".to_string()
            ))
        );
        assert_eq!(values(&["io".to_string()]).len(), 4, "io is already there");
    }
}
