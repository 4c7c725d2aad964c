//! The lab page: the statement, Run visible tests with per-test results, Download submission.
//! (The editor with the starter is the editor panel beside it.)

use pulldown_cmark::{html::push_html, Event as MdEvent, Options, Parser};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::{use_ctx, Op};
use crate::protocol::Command;
use crate::state::Action;
use crate::storage;

/// A lab as the page lists it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LabEntry {
    /// Stable id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The statement in Markdown.
    pub statement_md: String,
    /// The starter source.
    pub starter: String,
}

/// Markdown (with tables and strikethrough) to HTML; raw HTML in the statement is shown as text.
pub fn markdown(md: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(md, options).map(|e| match e {
        MdEvent::Html(t) | MdEvent::InlineHtml(t) => MdEvent::Text(t),
        other => other,
    });
    let mut out = String::new();
    push_html(&mut out, events);
    out
}

/// Props: the labs the page offers.
#[derive(Properties, PartialEq, Debug)]
pub struct LabMenuProps {
    /// Every lab.
    pub labs: std::rc::Rc<Vec<LabEntry>>,
}

/// The lab menu (a select in the header).
#[function_component(LabMenu)]
pub fn lab_menu(p: &LabMenuProps) -> Html {
    let ctx = use_ctx();
    let r = use_node_ref();
    let on_change = {
        let ctx = ctx.clone();
        let r = r.clone();
        Callback::from(move |_: Event| {
            let v = r
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            if !v.is_empty() {
                ctx.op.emit(Op::OpenLab(v));
            }
        })
    };
    let current = ctx.state.lab.clone().unwrap_or_default();
    html! {
        <label>{"Lab "}
            <select ref={r} onchange={on_change} data-testid="lab-menu" aria-label="labs">
                <option value="" selected={current.is_empty()}>{"choose a lab…"}</option>
                { for p.labs.iter().map(|l| html! { <option value={l.id.clone()} selected={l.id == current}>{ l.title.clone() }</option> }) }
            </select>
        </label>
    }
}

/// The open lab's statement and test results.
#[function_component(LabPage)]
pub fn lab_page(p: &LabMenuProps) -> Html {
    let ctx = use_ctx();
    let Some(id) = ctx.state.lab.clone() else {
        return Html::default();
    };
    let Some(lab) = p.labs.iter().find(|l| l.id == id).cloned() else {
        return Html::default();
    };
    let run_tests = {
        let ctx = ctx.clone();
        let id = id.clone();
        Callback::from(move |_: MouseEvent| {
            ctx.dispatch(Action::Status("running the visible tests…".into()));
            ctx.send.emit(Command::RunLabTests {
                lab: id.clone(),
                source: ctx.state.source.clone(),
            });
        })
    };
    let download = {
        let ctx = ctx.clone();
        let id = id.clone();
        Callback::from(move |_: MouseEvent| {
            if let Err(e) = storage::download(&format!("{id}.asm"), &ctx.state.source) {
                ctx.dispatch(Action::Status(e));
            }
        })
    };
    let close = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.dispatch(Action::CloseLab))
    };
    let results = ctx.state.lab_results.clone().map(|rs| {
        let total: f64 = rs.iter().map(|r| r.score).sum();
        let max: f64 = rs.iter().map(|r| r.max_score).sum();
        html! {
            <div data-testid="lab-results">
                <p data-testid="lab-score"><strong>{ format!("visible tests: {total} / {max}") }</strong></p>
                <ul>
                    { for rs.iter().map(|r| html! {
                        <li class={if r.passed { "pass" } else { "fail" }} data-testid="lab-test" data-passed={r.passed.to_string()}>
                            <strong>{ if r.passed { "✔ " } else { "✖ " } }{ r.name.clone() }</strong>
                            { format!(" ({}/{}) ", r.score, r.max_score) }<span class="small">{ r.message.clone() }</span>
                        </li>
                    }) }
                </ul>
            </div>
        }
    });
    html! {
        <section class="panel lab" data-testid="lab-page" data-lab={id.clone()} aria-label="lab">
            <div class="row">
                <h2>{ lab.title.clone() }</h2>
                <button data-testid="lab-run-tests" onclick={run_tests}>{"Run visible tests"}</button>
                <button data-testid="lab-download" onclick={download}>{"Download submission"}</button>
                <button data-testid="lab-close" onclick={close} aria-label="close the lab">{"✕"}</button>
            </div>
            <div class="statement" data-testid="lab-statement">{ Html::from_html_unchecked(AttrValue::from(markdown(&lab.statement_md))) }</div>
            { results.unwrap_or_default() }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_escapes_raw_html() {
        let html = markdown("# Lab 1\n\nWrite `strlen`.\n\n<script>x</script>\n");
        assert!(html.contains("<h1>Lab 1</h1>"), "{html}");
        assert!(html.contains("<code>strlen</code>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn markdown_tables_become_html_tables() {
        let html = markdown("| routine | input |\n| --- | --- |\n| strlen | ESI |\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<td>strlen</td>"), "{html}");
    }
}
