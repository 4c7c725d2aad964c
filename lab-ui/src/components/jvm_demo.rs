//! The JVM panel's demo bar: the `kind = "jvm"` lecture demos, played step by step
//! into the panel's machine, with each step's narration and the parts it is about.

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use super::labpage::markdown;
use vmlab_demos::jvm_player::JvmPlayer;
use vmlab_demos::{of_kind, Demo, Kind};
use vmlab_jvm::Vm;

/// The demo being played and the step shown.
pub type DemoAt = Option<(&'static str, usize)>;

fn find(id: &str) -> Option<&'static Demo> {
    of_kind(Kind::Jvm).find(|d| d.id == id)
}

thread_local! {
    /// Bytecodes the shown demo's program interpreted with the JIT off, once a step
    /// compared.
    static OFF_STEPS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Plays demo `id` from its start through `step` into `vm`.
fn show(vm: &Rc<RefCell<Option<Vm<'static>>>>, id: &str, step: usize) -> Result<(), String> {
    let d = find(id).ok_or_else(|| format!("no JVM demo {id}"))?;
    let p = JvmPlayer::at_step(&d.manifest, step)?;
    OFF_STEPS.with(|o| o.set(p.off_steps()));
    *vm.borrow_mut() = Some(p.into_vm());
    Ok(())
}

/// The comparison with the JIT off, when the step made one.
fn compare(vm: &Rc<RefCell<Option<Vm<'static>>>>) -> Html {
    let (Some(off), Some(on)) = (
        OFF_STEPS.with(|o| o.get()),
        vm.borrow().as_ref().map(|m| m.steps),
    ) else {
        return html! {};
    };
    html! {
        <p data-testid="jvm-demo-compare">{ format!(
            "With the JIT off the interpreter ran {off} bytecodes; with it on, {on}: {:.1} times fewer.",
            off as f64 / on.max(1) as f64
        ) }</p>
    }
}

/// The demo bar: a demo menu, previous/next, and the current step's narration.
pub fn bar(
    vm: &Rc<RefCell<Option<Vm<'static>>>>,
    at: &UseStateHandle<DemoAt>,
    error: &UseStateHandle<Option<String>>,
    redraw: Rc<dyn Fn()>,
) -> Html {
    let go = {
        let (vm, at, error) = (vm.clone(), at.clone(), error.clone());
        move |id: &'static str, step: usize| {
            match show(&vm, id, step) {
                Ok(()) => {
                    at.set(Some((id, step)));
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
            redraw();
        }
    };
    let pick = {
        let go = go.clone();
        Callback::from(move |e: Event| {
            let v = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            if let Some(d) = find(&v) {
                go(d.id, 0);
            }
        })
    };
    let current = at.and_then(|(id, step)| Some((find(id)?, step)));
    let step_button = |testid: &'static str, label: &'static str, to: Option<usize>| {
        let go = go.clone();
        let target = current.and_then(|(d, _)| Some((d.id, to?)));
        html! {
            <button data-testid={testid} disabled={target.is_none()}
                onclick={Callback::from(move |_: MouseEvent| if let Some((id, s)) = target { go(id, s) })}>{ label }</button>
        }
    };
    let prev = current.and_then(|(_, s)| s.checked_sub(1));
    let next = current.and_then(|(d, s)| (s + 1 < d.steps().len()).then_some(s + 1));
    html! {
        <div class="jvm-demo" data-testid="jvm-demo">
            <div class="row">
                <label>{"demo "}<select data-testid="jvm-demo-pick" onchange={pick}>
                    <option value="" selected={current.is_none()}>{"(none)"}</option>
                    { for of_kind(Kind::Jvm).map(|d| html! {
                        <option value={d.id} selected={current.is_some_and(|(c, _)| c.id == d.id)}>{ d.title() }</option>
                    }) }
                </select></label>
                { step_button("jvm-demo-prev", "Previous step", prev) }
                { step_button("jvm-demo-next", "Next step", next) }
            </div>
            if let Some((d, s)) = current {
                if let Some(step) = d.steps().get(s) {
                    <h3 class="small" data-testid="jvm-demo-step-title">{ format!("Step {} of {}: {}", s + 1, d.steps().len(), step.title) }</h3>
                    <div data-testid="jvm-demo-step-text">{ Html::from_html_unchecked(AttrValue::from(markdown(&step.text))) }</div>
                    { compare(vm) }
                    <p class="small" data-testid="jvm-demo-focus">{ format!("Look at: {}", step.focus.iter().map(|p| p.testid().trim_start_matches("panel-")).collect::<Vec<_>>().join(", ")) }</p>
                }
            }
        </div>
    }
}
