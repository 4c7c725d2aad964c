//! The assembly editor: highlighted source, the assembler's errors on their lines,
//! Assemble & Load, open/save a local file, programs kept in local storage.

use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::{use_ctx, Op};
use crate::highlight::{highlight_line, Token};
use crate::state::Action;
use crate::storage;

/// The editor panel.
#[function_component(Editor)]
pub fn editor() -> Html {
    let ctx = use_ctx();
    let overlay = use_node_ref();
    let area = use_node_ref();
    let name_ref = use_node_ref();
    let saved = use_state(storage::program_names);

    let on_input = {
        let ctx = ctx.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(t) = e.target_dyn_into::<HtmlTextAreaElement>() {
                storage::save_current(&t.value());
                ctx.dispatch(Action::SetSource(t.value()));
            }
        })
    };
    let on_scroll = {
        let overlay = overlay.clone();
        let area = area.clone();
        Callback::from(move |_: Event| {
            if let (Some(o), Some(a)) = (overlay.cast::<HtmlElement>(), area.cast::<HtmlElement>())
            {
                o.set_scroll_top(a.scroll_top());
                o.set_scroll_left(a.scroll_left());
            }
        })
    };
    let assemble = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.op.emit(Op::AssembleAndLoad))
    };
    let open_file = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let ctx = ctx.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(text) => {
                        let text = text.as_string().unwrap_or_default();
                        storage::save_current(&text);
                        ctx.dispatch(Action::SetSource(text));
                        ctx.dispatch(Action::Status(format!("opened {}", file.name())));
                    }
                    Err(_) => {
                        ctx.dispatch(Action::Status(format!("could not read {}", file.name())))
                    }
                }
            });
        })
    };
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
                ctx.dispatch(Action::SetSource(src));
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
                <div class="egutter mono" aria-hidden="true">{ for gutter }</div>
                <div class="ebox">
                    <pre class="ehighlight mono" ref={overlay} aria-hidden="true">{ for highlighted }</pre>
                    <textarea ref={area} class="etext mono" data-testid="editor-text" aria-label="assembly source"
                              spellcheck="false" value={source} oninput={on_input} onscroll={on_scroll}/>
                </div>
            </div>
            if !diags.is_empty() {
                <ul class="diags" data-testid="editor-errors" role="alert">
                    { for diags.iter().map(|d| html! { <li data-testid="editor-error">{ format!("line {}, column {}: {}", d.line, d.col, d.message) }</li> }) }
                </ul>
            }
        </section>
    }
}
