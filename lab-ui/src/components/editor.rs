//! The assembly editor: highlighted source, the assembler's errors on their lines,
//! Assemble & Load, open/save a local file, programs kept in local storage.

use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::{use_ctx, Op};
use crate::highlight::{highlight_line, Token};
use crate::state::Action;
use crate::storage;

/// Puts `text` in the editor and keeps it: as the open lab's draft or as the current program.
fn keep_text(ctx: &super::Ctx, text: String) {
    storage::save_text(ctx.state.lab.as_deref(), &text);
    ctx.dispatch(Action::SetSource(text));
}

/// Places the caret at `line`:`col` (1-based) and scrolls the line into the middle
/// of the editor.
fn go_to_line(t: &HtmlTextAreaElement, line: usize, col: usize) {
    let value = t.value();
    let start: usize = value
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.encode_utf16().count() + 1)
        .sum();
    let at = (start + col.saturating_sub(1)) as u32;
    let _ = t.focus();
    let _ = t.set_selection_range(at, at);
    let line_height = t.scroll_height() as f64 / value.split('\n').count().max(1) as f64;
    let top = (line.saturating_sub(1) as f64) * line_height - f64::from(t.client_height()) / 2.0;
    t.set_scroll_top(top.max(0.0) as i32);
}

/// The editor panel.
#[function_component(Editor)]
pub fn editor() -> Html {
    let ctx = use_ctx();
    let overlay = use_node_ref();
    let gutter_ref = use_node_ref();
    let area = use_node_ref();
    let name_ref = use_node_ref();
    let saved = use_state(storage::program_names);

    let on_input = {
        let ctx = ctx.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(t) = e.target_dyn_into::<HtmlTextAreaElement>() {
                keep_text(&ctx, t.value());
            }
        })
    };
    let on_scroll = {
        let overlay = overlay.clone();
        let gutter_ref = gutter_ref.clone();
        let area = area.clone();
        Callback::from(move |_: Event| {
            if let (Some(o), Some(a)) = (overlay.cast::<HtmlElement>(), area.cast::<HtmlElement>())
            {
                o.set_scroll_top(a.scroll_top());
                o.set_scroll_left(a.scroll_left());
                if let Some(g) = gutter_ref.cast::<HtmlElement>() {
                    g.set_scroll_top(a.scroll_top());
                }
            }
        })
    };
    let assemble = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.op.emit(Op::AssembleAndLoad))
    };
    let open_file = super::file_picker(&ctx, |ctx, name, bytes| {
        keep_text(ctx, String::from_utf8_lossy(&bytes).into_owned());
        ctx.dispatch(Action::Status(format!("opened {name}")));
    });
    let save_file = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            if let Err(e) = storage::download("program.asm", &ctx.state.source) {
                ctx.dispatch(Action::Status(e));
            }
        })
    };
    let keep = {
        let ctx = ctx.clone();
        let name_ref = name_ref.clone();
        let saved = saved.clone();
        Callback::from(move |_: MouseEvent| {
            let name = name_ref
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let name = if name.trim().is_empty() {
                "untitled".to_string()
            } else {
                name.trim().to_string()
            };
            match storage::save_program(&name, &ctx.state.source) {
                Ok(()) => {
                    saved.set(storage::program_names());
                    ctx.dispatch(Action::Status(format!("kept `{name}` in this browser")));
                }
                Err(e) => ctx.dispatch(Action::Status(e)),
            }
        })
    };
    let recall = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            let Some(sel) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
            else {
                return;
            };
            if let Some(src) = storage::load_program(&sel.value()) {
                keep_text(&ctx, src);
            }
        })
    };

    let diags = &ctx.state.diagnostics;
    let source = ctx.state.source.clone();
    let highlighted = source.split('\n').enumerate().map(|(i, line)| {
        let n = i + 1;
        let err = diags.iter().find(|d| d.line == n);
        let toks = highlight_line(line).into_iter().map(|(tok, text)| {
            let class = match tok {
                Token::Comment => "tk-comment",
                Token::Label => "tk-label",
                Token::Mnemonic => "tk-mnemonic",
                Token::Directive => "tk-directive",
                Token::Register => "tk-register",
                Token::Number => "tk-number",
                Token::String => "tk-string",
                Token::Plain => "",
            };
            html! { <span class={class}>{ text }</span> }
        });
        html! {
            <div class={classes!("eline", err.is_some().then_some("has-error"))}
                 data-testid={if err.is_some() { "editor-error-line" } else { "editor-line" }}
                 data-line={n.to_string()} title={err.map(|d| d.message.clone()).unwrap_or_default()}>
                { for toks }{ "\u{200b}" }
            </div>
        }
    });
    let gutter = (1..=source.split('\n').count()).map(|n| {
        let bad = diags.iter().any(|d| d.line == n);
        html! { <div class={classes!(bad.then_some("gutter-error"))}>{ if bad { format!("✖{n}") } else { n.to_string() } }</div> }
    });

    html! {
        <section class="panel editor-panel" id="panel-editor" data-testid="panel-editor" aria-label="assembly editor">
            <h2 title="NASM syntax. Ctrl+Enter assembles and loads.">{"Program"}</h2>
            <div class="row">
                <button data-testid="btn-assemble" onclick={assemble} aria-keyshortcuts="Control+Enter"
                        title="Assemble & Load (Ctrl+Enter)">{"Assemble & Load"}</button>
                <label class="filebtn">{"Open file…"}
                    <input type="file" accept=".asm,.s,.nasm,.txt" data-testid="editor-open" aria-label="open a local file" onchange={open_file}/>
                </label>
                <button data-testid="editor-save-file" onclick={save_file}>{"Save file"}</button>
                <input ref={name_ref} data-testid="editor-name" aria-label="name to keep the program under" placeholder="name" size="10"/>
                <button data-testid="editor-keep" onclick={keep} title="keep in this browser's local storage">{"Keep"}</button>
                <select data-testid="editor-recall" aria-label="programs kept in this browser" onchange={recall}>
                    <option value="">{"kept programs…"}</option>
                    { for saved.iter().map(|n| html! { <option value={n.clone()}>{ n.clone() }</option> }) }
                </select>
            </div>
            <div class="editor">
                <div class="egutter mono" ref={gutter_ref} aria-hidden="true" data-testid="editor-gutter">{ for gutter }</div>
                <div class="ebox">
                    <pre class="ehighlight mono" ref={overlay} aria-hidden="true">{ for highlighted }</pre>
                    <textarea ref={area.clone()} class="etext mono" data-testid="editor-text" aria-label="assembly source"
                              spellcheck="false" value={source} oninput={on_input} onscroll={on_scroll}/>
                </div>
            </div>
            if !diags.is_empty() {
                <ul class="diags" data-testid="editor-errors" role="alert">
                    { for diags.iter().map(|d| {
                        let go = {
                            let area = area.clone();
                            let (line, col) = (d.line, d.col);
                            Callback::from(move |_: MouseEvent| {
                                if let Some(t) = area.cast::<HtmlTextAreaElement>() {
                                    go_to_line(&t, line, col);
                                }
                            })
                        };
                        html! {
                            <li><button class="linkish" data-testid="editor-error" data-line={d.line.to_string()} onclick={go}
                                        title="show this line in the editor">{ format!("line {}, column {}: {}", d.line, d.col, d.message) }</button></li>
                        }
                    }) }
                </ul>
            }
        </section>
    }
}
