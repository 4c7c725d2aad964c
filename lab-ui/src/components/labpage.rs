//! The lab page: the statement, the setup Run starts from, the draft, Run visible
//! tests with per-test results and "debug this test", Download submission.
//! (The editor with the starter is the editor panel beside it.)

use pulldown_cmark::{html::push_html, Event as MdEvent, Options, Parser};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::{use_ctx, Op};
use crate::labs;
use crate::protocol::{Command, TestResult};
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
    /// A guest lab (assembly that runs in the browser), not a component lab (Rust).
    pub guest: bool,
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
    let confirming = use_state(|| false);
    let results = ctx.state.lab_results.clone().map(|rs| {
        let total: f64 = rs.iter().map(|r| r.score).sum();
        let max: f64 = rs.iter().map(|r| r.max_score).sum();
        let common = common_failure(&rs);
        let guest = lab.guest;
        html! {
            <div data-testid="lab-results">
                <p data-testid="lab-score"><strong>{ format!("visible tests: {total} / {max}") }</strong></p>
                if let Some(why) = common.clone() {
                    <pre class="lab-error" data-testid="lab-error" role="alert">{ why }</pre>
                }
                <ul class="lab-tests">
                    { for rs.iter().enumerate().map(|(i, r)| {
                        let debug = {
                            let ctx = ctx.clone();
                            Callback::from(move |_: MouseEvent| ctx.op.emit(Op::DebugTest(i)))
                        };
                        let message = if common.is_some() { String::new() } else { r.message.clone() };
                        html! {
                            <li class={if r.passed { "pass" } else { "fail" }} data-testid="lab-test" data-passed={r.passed.to_string()}>
                                <strong>{ if r.passed { "✔ " } else { "✖ " } }{ r.name.clone() }</strong>
                                { format!(" ({}/{}) ", r.score, r.max_score) }
                                if guest && common.is_none() {
                                    <button class="small-btn" data-testid="lab-debug" data-test={i.to_string()} onclick={debug}
                                            title="load this test's setup, run to the end and show the final state">{"debug this test"}</button>
                                }
                                if !message.is_empty() { <pre class="test-message">{ message }</pre> }
                            </li>
                        }
                    }) }
                </ul>
            </div>
        }
    });
    let setup = lab.guest.then(|| {
        let test = ctx.state.lab_debug.unwrap_or(labs::DEFAULT_TEST);
        let text = match (labs::test_plan(&id, test), ctx.state.lab_debug) {
            (Ok(p), None) => format!(
                "Assemble & Load, Run and Reset start from the setup of the first visible test: {}.",
                p.setup
            ),
            (Ok(p), Some(i)) => format!(
                "Debugging test {} ({}): {}; run to its end in {} mode. Reset starts it again; Assemble & Load returns to the first test's setup.",
                i + 1,
                ctx.state.lab_results.as_ref().and_then(|r| r.get(i)).map_or("", |r| r.name.as_str()),
                p.setup,
                p.mode.name()
            ),
            (Err(e), _) => e,
        };
        html! { <p class="small" data-testid="lab-setup">{ text }</p> }
    });
    let draft = ctx.state.lab_draft.then(|| {
        let ask = {
            let confirming = confirming.clone();
            Callback::from(move |_: MouseEvent| confirming.set(true))
        };
        let keep = {
            let confirming = confirming.clone();
            Callback::from(move |_: MouseEvent| confirming.set(false))
        };
        let replace = {
            let ctx = ctx.clone();
            let confirming = confirming.clone();
            Callback::from(move |_: MouseEvent| {
                confirming.set(false);
                ctx.op.emit(Op::LabStarter);
            })
        };
        html! {
            <p class="draft row" data-testid="lab-draft">
                {"The editor holds your draft of this lab from your last visit (kept in this browser)."}
                if *confirming {
                    <strong>{"Replace your draft with the starter? Your draft is lost."}</strong>
                    <button data-testid="lab-starter-confirm" onclick={replace}>{"Replace"}</button>
                    <button data-testid="lab-starter-cancel" onclick={keep}>{"Keep my draft"}</button>
                } else {
                    <button data-testid="lab-starter" onclick={ask}>{"Start over from the starter…"}</button>
                }
            </p>
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
            { draft.unwrap_or_default() }
            { setup.unwrap_or_default() }
            <div class="statement" data-testid="lab-statement" tabindex="0" aria-label="the lab's statement">{ Html::from_html_unchecked(AttrValue::from(markdown(&lab.statement_md))) }</div>
            { results.unwrap_or_default() }
            if id == assignments::xlate_lab::LAB { <super::xlate_lab::XlateLab/> }
            if id == assignments::precopy_lab::LAB { <super::precopy_lab::PrecopyLab/> }
        </section>
    }
}

/// The message every test failed with, when they all failed alike (a submission
/// that does not assemble): shown once above the tests.
fn common_failure(results: &[TestResult]) -> Option<String> {
    let first = results.first()?;
    let alike = results.len() > 1
        && results
            .iter()
            .all(|r| !r.passed && !r.message.is_empty() && r.message == first.message);
    alike.then(|| first.message.clone())
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

    fn result(name: &str, passed: bool, message: &str) -> TestResult {
        TestResult {
            name: name.into(),
            passed,
            score: 0.0,
            max_score: 1.0,
            message: message.into(),
        }
    }

    #[test]
    fn a_failure_shared_by_every_test_is_shown_once() {
        let why = "the submission does not assemble:\nline 3: bad";
        let all = [result("a", false, why), result("b", false, why)];
        assert_eq!(common_failure(&all).as_deref(), Some(why));
        let mixed = [result("a", false, why), result("b", false, "EAX differs")];
        assert_eq!(common_failure(&mixed), None);
        let one_passed = [result("a", false, why), result("b", true, "")];
        assert_eq!(common_failure(&one_passed), None);
        assert_eq!(common_failure(&[result("a", false, why)]), None);
    }

    #[test]
    fn markdown_tables_become_html_tables() {
        let html = markdown("| routine | input |\n| --- | --- |\n| strlen | ESI |\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<td>strlen</td>"), "{html}");
    }
}
