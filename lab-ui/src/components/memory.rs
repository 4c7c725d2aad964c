//! Memory as hex and ASCII, physical or linear, with go-to.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::{hex32, parse_hex, use_ctx, Panel};
use crate::protocol::{Command, Space, Watch};
use crate::state::Action;

/// The memory panel.
#[function_component(Memory)]
pub fn memory() -> Html {
    let ctx = use_ctx();
    let input = use_node_ref();
    let space_ref = use_node_ref();
    let (addr, space) = ctx.state.memory;
    let go = {
        let ctx = ctx.clone();
        let input = input.clone();
        let space_ref = space_ref.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let text = input
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let space = match space_ref
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .as_deref()
            {
                Some("linear") => Space::Linear,
                _ => Space::Physical,
            };
            match parse_hex(&text) {
                Some(a) => {
                    ctx.dispatch(Action::SetMemory(a, space));
                    ctx.send.emit(Command::ShowMemory { addr: a, space });
                }
                None => ctx.dispatch(Action::Status(format!(
                    "memory: `{text}` is not a hex address"
                ))),
            }
        })
    };
    let rows = ctx.state.view.as_ref().map(|v| {
        let base = v.memory.addr;
        v.memory
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let a = base.wrapping_add(16 * i as u32);
                match row {
                    Some(bytes) => {
                        let space = v.memory.space;
                        let hex = bytes.iter().enumerate().map(|(j, b)| {
                            let at = a.wrapping_add(j as u32);
                            let who = ctx.send_on(Command::WhoWrote(Watch::Memory { addr: at, space }));
                            html! {
                                <>
                                    if j > 0 { {" "} }
                                    <span class="byte" data-testid="mem-byte" data-addr={hex32(at)} onclick={who}
                                          title={format!("{}: click for who wrote this byte", hex32(at))}>{ format!("{b:02x}") }</span>
                                </>
                            }
                        });
                        let ascii: String = bytes
                            .iter()
                            .map(|&b| if (0x20..0x7f).contains(&b) { char::from(b) } else { '.' })
                            .collect();
                        html! { <tr><td class="mono addr">{ hex32(a) }</td><td class="mono">{ for hex }</td><td class="mono ascii">{ ascii }</td></tr> }
                    }
                    None => html! { <tr class="unmapped"><td class="mono addr">{ hex32(a) }</td><td colspan="2">{"not mapped"}</td></tr> },
                }
            })
            .collect::<Html>()
    });
    html! {
        <Panel id="panel-memory" title="Memory" hint="Bytes in hex and ASCII. Linear addresses go through the page tables without setting A/D bits.">
            <form class="row" onsubmit={go} data-testid="memory-form">
                <label>{"address "}<input ref={input} data-testid="memory-addr" aria-label="memory address (hex)" value={hex32(addr)} size="10"/></label>
                <select ref={space_ref} data-testid="memory-space" aria-label="address space">
                    <option value="physical" selected={space == Space::Physical}>{"physical"}</option>
                    <option value="linear" selected={space == Space::Linear}>{"linear"}</option>
                </select>
                <button type="submit" data-testid="memory-go">{"Go"}</button>
            </form>
            <table class="hex" data-testid="memory-rows">{ rows.unwrap_or_default() }</table>
        </Panel>
    }
}
