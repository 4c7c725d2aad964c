//! Disassembly around EIP: click the gutter for a breakpoint, a line to select it
//! (run to cursor), and see the source line each instruction came from.

use yew::prelude::*;

use super::{hex32, use_ctx, Panel};
use crate::protocol::Command;
use crate::state::Action;

/// The encoding, cut to 6 bytes so that the instruction and its source line stay in view.
fn short_bytes(hex: &str) -> String {
    match hex.get(..12) {
        Some(head) if hex.len() > 12 => format!("{head}…"),
        _ => hex.to_string(),
    }
}

/// The disassembly panel.
#[function_component(Disasm)]
pub fn disasm() -> Html {
    let ctx = use_ctx();
    let Some(view) = ctx.state.view.clone() else {
        return html! { <Panel id="panel-disasm" title="Disassembly">{"—"}</Panel> };
    };
    let program = ctx.state.program.clone();
    let rows = view.disasm.iter().map(|l| {
        let addr = l.addr;
        let is_bp = view.breakpoints.contains(&addr);
        let is_eip = addr == view.linear_eip;
        let is_cursor = ctx.state.cursor == Some(addr);
        let toggle = ctx.send_on::<MouseEvent>(Command::ToggleBreakpoint(addr));
        let select = {
            let ctx = ctx.clone();
            Callback::from(move |_: MouseEvent| ctx.dispatch(Action::SetCursor(addr)))
        };
        let src = program
            .as_ref()
            .and_then(|p| p.source_line_at(addr).map(|(n, t)| format!("{n}: {t}")))
            .unwrap_or_default();
        html! {
            <tr class={classes!("dline", is_eip.then_some("eip"), is_bp.then_some("bp"), is_cursor.then_some("cursor"))}
                data-testid="disasm-line" data-addr={hex32(addr)}>
                <td class="gutter" data-testid="bp-toggle" role="button" tabindex="0"
                    aria-label={format!("toggle breakpoint at {addr:08x}")} onclick={toggle}>
                    { if is_bp { "●" } else if is_eip { "▶" } else { "" } }
                </td>
                <td class="mono addr" onclick={select.clone()}>{ hex32(addr) }</td>
                <td class="mono bytes" onclick={select.clone()} title={l.bytes.clone()}>{ short_bytes(&l.bytes) }</td>
                <td class="mono insn" onclick={select}>{ l.text.clone() }</td>
                <td class="mono src" data-testid="disasm-src">{ src }</td>
            </tr>
        }
    });
    html! {
        <Panel id="panel-disasm" title={super::cpus::titled("Disassembly", &view.smp)} class="disasm-panel"
               hint="▶ = next instruction (EIP). Click the left column to set a breakpoint, a line to select it for run-to-cursor.">
            <table class="disasm">{ for rows }</table>
        </Panel>
    }
}
