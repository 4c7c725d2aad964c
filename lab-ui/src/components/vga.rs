//! The VGA text screen (80×25 at 0xB8000) in its 16 colours.

use yew::prelude::*;

use super::{use_ctx, Panel};

const PALETTE: [&str; 16] = [
    "#000", "#00a", "#0a0", "#0aa", "#a00", "#a0a", "#a50", "#aaa", "#555", "#55f", "#5f5", "#5ff",
    "#f55", "#f5f", "#ff5", "#fff",
];

/// Code page 437's printable ASCII; everything else shows as a space or a dot.
fn glyph(c: u8) -> char {
    match c {
        0 => ' ',
        0x20..=0x7e => char::from(c),
        _ => '·',
    }
}

/// The VGA panel.
#[function_component(Vga)]
pub fn vga() -> Html {
    let ctx = use_ctx();
    let rows = ctx
        .state
        .view
        .as_ref()
        .map(|v| v.vga.clone())
        .unwrap_or_default();
    let lines = rows.iter().map(|row| {
        // Runs of equal attributes share one span.
        let mut spans = Vec::new();
        let mut i = 0;
        while i < row.len() {
            let attr = row[i].1;
            let mut text = String::new();
            while i < row.len() && row[i].1 == attr {
                text.push(glyph(row[i].0));
                i += 1;
            }
            let style = format!(
                "color:{};background:{}",
                PALETTE[usize::from(attr & 15)],
                PALETTE[usize::from((attr >> 4) & 7)]
            );
            spans.push(html! { <span style={style}>{ text }</span> });
        }
        html! { <div class="vga-row">{ for spans }</div> }
    });
    html! {
        <Panel id="panel-vga" title="VGA text screen" hint="80×25 character cells read from physical 0xB8000.">
            <div class="vga" data-testid="vga-screen" role="img" aria-label="VGA text screen">{ for lines }</div>
        </Panel>
    }
}
