//! The lab's root: the reducer, the worker bridge, page-level operations, keyboard
//! shortcuts, share links, and the layout of the panels.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_worker::Spawnable;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::assemble;
use crate::components::{
    compare::Compare, controls::Controls, counters::Counters, demo::DemoMenu, demo::DemoNarration,
    devices::Devices, disasm::Disasm, editor::Editor, help::Help, jvm::JvmPanel, labpage::LabMenu,
    labpage::LabPage, linux::LinuxPanel, linux_parts::LinuxParts, log::Log, memory::Memory,
    pagetables::PageTables, pictures, registers::Registers, serial::Serial, tlb::Tlb, vga::Vga,
    Ctx, Op,
};
use crate::demos;
use crate::program::Program;
use crate::protocol::{Command, Until};
use crate::share::Shared;
use crate::state::{Action, LabState};
use crate::worker::MachineWorker;
use crate::{labs, storage};
use emulator_core::ExecMode;

/// wasm-bindgen's JS glue, which the worker imports to start the same module,
/// unless the page names it in `<meta name="vmlab-glue">` (the hashed name in a dist build).
const WORKER_SCRIPT: &str = "./pkg/lab_ui.js";

/// The worker's script: the page's `vmlab-glue` meta tag, or [`WORKER_SCRIPT`].
fn worker_script() -> String {
    page_meta("vmlab-glue").unwrap_or_else(|| WORKER_SCRIPT.to_owned())
}

/// The content of the page's `<meta name="{name}">`, where a dist build names a hashed
/// asset.
pub(crate) fn page_meta(name: &str) -> Option<String> {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| {
            d.query_selector(&format!("meta[name={name}]"))
                .ok()
                .flatten()
        })
        .and_then(|m| m.get_attribute("content"))
}

/// Assembles `source` as a flat program, or as a ROM for a demo that boots one.
fn assemble(
    ctx_state: &UseReducerHandle<LabState>,
    source: &str,
    boot: demos::Boot,
) -> Option<Rc<Program>> {
    let assembled = match boot {
        demos::Boot::Flat => assemble::assemble("program.asm", source),
        demos::Boot::Rom => demos::assemble(source, boot),
    };
    match assembled {
        Ok(p) => {
            let p = Rc::new(p);
            ctx_state.dispatch(Action::Assembled(Ok(p.clone())));
            Some(p)
        }
        Err(d) => {
            ctx_state.dispatch(Action::Assembled(Err(d)));
            None
        }
    }
}

/// Loads `source` on the lab's machine with `setup` (a visible test's registers,
/// memory and stack) in `mode`; a program that does not assemble, or a component
/// lab's Rust, leaves no machine.
fn load_lab(
    state: &UseReducerHandle<LabState>,
    send: &Callback<Command>,
    lab: &labs::LabSetup,
    source: &str,
    mode: ExecMode,
) -> bool {
    let guest = labs::catalog().iter().any(|l| l.id == lab.lab && l.guest);
    match guest
        .then(|| assemble(state, source, demos::Boot::Flat))
        .flatten()
    {
        Some(p) => {
            send.emit(Command::LoadLab {
                image: p.image.clone(),
                setup: lab.clone(),
                mode,
            });
            true
        }
        None => {
            send.emit(Command::Unload);
            if !guest {
                state.dispatch(Action::Status(format!(
                    "{}'s submission is Rust: `vmlab grade --lab {}` builds and grades it",
                    lab.lab, lab.lab
                )));
            }
            false
        }
    }
}

/// Opens lab `id` with `source` (or its draft, or its starter) in `mode` (or the
/// mode of its first visible test), and loads it with the lab's default setup.
fn open_lab(
    state: &UseReducerHandle<LabState>,
    send: &Callback<Command>,
    id: &str,
    source: Option<String>,
    mode: Option<ExecMode>,
) {
    let Some(l) = labs::catalog().into_iter().find(|l| l.id == id) else {
        state.dispatch(Action::Status(format!("no lab `{id}`")));
        return;
    };
    let draft = storage::load_draft(&l.id).filter(|d| *d != l.starter);
    let from_draft = source.is_none() && draft.is_some();
    let source = source.or(draft).unwrap_or_else(|| l.starter.clone());
    state.dispatch(Action::OpenLab {
        id: l.id.clone(),
        source: source.clone(),
        draft: from_draft,
    });
    let setup = labs::LabSetup {
        lab: l.id.clone(),
        test: labs::DEFAULT_TEST,
    };
    let plan_mode = labs::test_plan(&l.id, labs::DEFAULT_TEST).map(|p| p.mode);
    let mode = mode.or(plan_mode.ok()).unwrap_or_default();
    state.dispatch(Action::SetMode(mode));
    load_lab(state, send, &setup, &source, mode);
}

/// Loads the editor's program with visible test `test`'s setup, runs it to its end
/// and walks the first address the test checks.
fn debug_test(state: &UseReducerHandle<LabState>, send: &Callback<Command>, test: usize) {
    let Some(lab) = state.lab.clone() else {
        return;
    };
    let plan = match labs::test_plan(&lab, test) {
        Ok(p) => p,
        Err(e) => return state.dispatch(Action::Status(e)),
    };
    let setup = labs::LabSetup { lab, test };
    if load_lab(state, send, &setup, &state.source, plan.mode) {
        state.dispatch(Action::SetLabDebug(Some(test)));
        if let Some(a) = plan.first_page {
            send.emit(Command::Translate(a));
        }
        send.emit(Command::Advance(Until::Stop));
        let panel = if plan.first_page.is_some() {
            "panel-pagetables"
        } else {
            "panel-registers"
        };
        if let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(panel))
        {
            el.scroll_into_view();
        }
    }
}

fn run_op(state: &UseReducerHandle<LabState>, send: &Callback<Command>, op: Op) {
    match op {
        Op::AssembleAndLoad => match state.lab.clone() {
            Some(lab) => {
                let setup = labs::LabSetup {
                    lab,
                    test: labs::DEFAULT_TEST,
                };
                state.dispatch(Action::SetLabDebug(None));
                load_lab(state, send, &setup, &state.source, state.mode);
            }
            None => {
                let boot = state
                    .demo
                    .map_or(demos::Boot::Flat, |(d, _)| d.manifest.boot);
                if let Some(p) = assemble(state, &state.source, boot) {
                    send.emit(p.load_command(state.mode));
                }
            }
        },
        Op::OpenDemo(id) => {
            if let Some(d) = demos::find(id) {
                state.dispatch(Action::OpenDemo(d));
                if crate::demos_linux::is_linux(d) {
                    return linux_step(state, send, d, 0);
                }
                if let Some(p) = assemble(state, d.source, d.manifest.boot) {
                    for c in demos::commands(d, &p, demos::mode(d), 0) {
                        send.emit(c);
                    }
                }
            }
        }
        Op::DemoStep(i) => {
            if let Some((d, _)) = state.demo.filter(|(d, _)| crate::demos_linux::is_linux(d)) {
                return linux_step(state, send, d, i);
            }
            if let (Some((d, _)), Some(p)) = (state.demo, state.program.clone()) {
                state.dispatch(Action::DemoStep(i));
                state.dispatch(Action::SetMode(demos::mode_at(d, i, demos::mode(d))));
                for c in demos::commands(d, &p, demos::mode(d), i) {
                    send.emit(c);
                }
            }
        }
        Op::OpenLab(id) => open_lab(state, send, &id, None, None),
        Op::LabStarter => {
            let lab = state.lab.clone();
            if let Some(l) = labs::catalog()
                .into_iter()
                .find(|l| Some(&l.id) == lab.as_ref())
            {
                storage::save_draft(&l.id, &l.starter);
                open_lab(state, send, &l.id, Some(l.starter), Some(state.mode));
            }
        }
        Op::DebugTest(test) => debug_test(state, send, test),
        Op::SetMode(m) => {
            state.dispatch(Action::SetMode(m));
            if state.view.is_some() {
                send.emit(Command::SetMode(m));
            }
        }
        Op::Share => {
            let shared = Shared {
                source: Some(state.source.clone()),
                demo: state.demo.map(|(d, _)| d.id.to_string()),
                step: state.demo.map(|(_, i)| i),
                lab: state.lab.clone(),
                mode: Some(state.mode),
            };
            let hash = format!("#{}", shared.to_hash());
            let ok = web_sys::window()
                .and_then(|w| w.history().ok())
                .is_some_and(|h| {
                    h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&hash))
                        .is_ok()
                });
            state.dispatch(Action::Status(if ok {
                "share link: copy the address bar".into()
            } else {
                "could not write the share link".into()
            }));
        }
    }
}

/// Adds the course pack's labs (here and in the worker) and demos, says what was
/// added, and opens the pack item the page's share link names.
fn add_packs(
    state: &UseReducerHandle<LabState>,
    send: &Callback<Command>,
    found: Result<crate::packs::Found, String>,
) {
    let found = match found {
        Ok(f) if f.labs.is_empty() && f.demos.is_empty() => return,
        Ok(f) => f,
        Err(e) => return state.dispatch(Action::Status(format!("course pack: {e}"))),
    };
    let mut added = Vec::new();
    for (from, lab) in &found.labs {
        match assignments::pack::add(from, lab.clone()) {
            Ok(id) => added.push(id),
            Err(e) => return state.dispatch(Action::Status(format!("course pack: {e}"))),
        }
    }
    send.emit(Command::AddPackLabs(found.labs));
    let mut demo_ids = Vec::new();
    for d in &found.demos {
        match vmlab_demos::pack::add(&d.from, &d.id, &d.manifest, &d.source) {
            Ok(demo) => demo_ids.push(demo.id),
            Err(e) => return state.dispatch(Action::Status(format!("course pack: {e}"))),
        }
    }
    state.dispatch(Action::Status(format!(
        "course pack: labs {}; demos {}",
        list_or_none(&added),
        list_or_none(&demo_ids)
    )));
    open_shared_pack_item(state, send, &added, &demo_ids);
}

fn list_or_none<S: AsRef<str>>(ids: &[S]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    ids.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

/// A share link to a pack lab or demo could not open before the pack arrived:
/// opens it now, when it names one of the items just added.
fn open_shared_pack_item(
    state: &UseReducerHandle<LabState>,
    send: &Callback<Command>,
    labs_added: &[String],
    demos_added: &[&'static str],
) {
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    let Ok(shared) = Shared::from_hash(&hash) else {
        return;
    };
    match (shared.demo.as_deref(), shared.lab.as_deref()) {
        (Some(id), _) if demos_added.contains(&id) => {
            if let Some(d) = demos::find(id) {
                open_shared_demo(state, send, d, &shared);
            }
        }
        (None, Some(id)) if labs_added.iter().any(|l| l == id) => {
            open_lab(state, send, id, shared.source.clone(), shared.mode);
        }
        _ => {}
    }
}

/// Shows step `i` of a Linux demo: the worker runs its program that far.
fn linux_step(
    state: &UseReducerHandle<LabState>,
    send: &Callback<Command>,
    d: &'static demos::Demo,
    i: usize,
) {
    state.dispatch(Action::DemoStep(i));
    match crate::demos_linux::command(d, i) {
        Ok(c) => send.emit(c),
        Err(e) => state.dispatch(Action::Status(e)),
    }
}

/// Opens demo `d` at the step, source and mode a share link names.
fn open_shared_demo(
    state: &UseReducerHandle<LabState>,
    send: &Callback<Command>,
    d: &'static demos::Demo,
    shared: &Shared,
) {
    state.dispatch(Action::OpenDemo(d));
    if crate::demos_linux::is_linux(d) {
        let last = d.steps().len().saturating_sub(1);
        return linux_step(state, send, d, shared.step.unwrap_or(0).min(last));
    }
    let source = shared
        .source
        .clone()
        .unwrap_or_else(|| d.source.to_string());
    state.dispatch(Action::SetSource(source.clone()));
    if let Some(p) = assemble(state, &source, d.manifest.boot) {
        let step = shared
            .step
            .unwrap_or(0)
            .min(d.steps().len().saturating_sub(1));
        state.dispatch(Action::DemoStep(step));
        let mode = shared.mode.unwrap_or(demos::mode(d));
        state.dispatch(Action::SetMode(demos::mode_at(d, step, mode)));
        for c in demos::commands(d, &p, mode, step) {
            send.emit(c);
        }
    }
}

/// Opens what the URL hash names, or the last program, or the first demo's guest.
fn open_initial(state: &UseReducerHandle<LabState>, send: &Callback<Command>) {
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    let shared = match Shared::from_hash(&hash) {
        Ok(s) => s,
        Err(e) => {
            state.dispatch(Action::Status(e));
            Shared::default()
        }
    };
    if let Some(mode) = shared.mode {
        state.dispatch(Action::SetMode(mode));
    }
    if let Some(lab) = shared.lab.as_deref() {
        if shared.demo.is_none() {
            open_lab(state, send, lab, shared.source.clone(), shared.mode);
            return;
        }
    }
    if let Some(d) = shared.demo.as_deref().and_then(demos::find) {
        open_shared_demo(state, send, d, &shared);
        return;
    }
    let source = shared
        .source
        .or_else(storage::load_current)
        .unwrap_or_else(|| demos::all().first().map_or("", |d| d.source).to_string());
    state.dispatch(Action::SetSource(source.clone()));
    if let Some(p) = assemble(state, &source, demos::Boot::Flat) {
        send.emit(p.load_command(shared.mode.unwrap_or_default()));
    }
}

fn typing_in_field(e: &KeyboardEvent) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
}

fn on_key(ctx: &Ctx, e: &KeyboardEvent) {
    let s = &ctx.state;
    let running = s.running();
    let cmd = match (e.key().as_str(), e.shift_key(), e.ctrl_key()) {
        ("F11", true, _) => Some(Command::StepBack),
        ("F11", false, _) => Some(Command::Step),
        ("F10", _, _) => Some(Command::StepOver),
        ("F5", _, _) => Some(if running {
            Command::Pause
        } else {
            Command::Run(Until::Stop)
        }),
        ("F8", _, _) => Some(Command::Run(Until::Trap)),
        ("F7", _, _) => s.cursor.map(|a| Command::Run(Until::Linear(a))),
        ("F9", _, _) => s.cursor.map(Command::ToggleBreakpoint),
        _ => None,
    };
    if let Some(cmd) = cmd {
        e.prevent_default();
        ctx.send.emit(cmd);
        return;
    }
    match e.key().as_str() {
        "Enter" if e.ctrl_key() => {
            e.prevent_default();
            ctx.op.emit(Op::AssembleAndLoad);
        }
        "F1" => {
            e.prevent_default();
            ctx.dispatch(Action::SetHelp(true));
        }
        "?" if !typing_in_field(e) => ctx.dispatch(Action::SetHelp(true)),
        "Escape" => ctx.dispatch(Action::SetHelp(false)),
        "PageDown" | "PageUp" if !typing_in_field(e) => {
            if let Some((d, i)) = s.demo {
                e.prevent_default();
                let to = if e.key() == "PageDown" {
                    (i + 1).min(d.steps().len() - 1)
                } else {
                    i.saturating_sub(1)
                };
                ctx.op.emit(Op::DemoStep(to));
            }
        }
        _ => {}
    }
}

/// The lab's root component.
#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(LabState::default);
    let bridge = {
        let dispatcher = state.dispatcher();
        use_memo((), move |_| {
            let bridge = MachineWorker::spawner()
                .callback(move |ev| {
                    if let crate::protocol::Event::MachineFile(bytes) = &ev {
                        if let Err(e) = crate::components::machinefile::offer(bytes) {
                            dispatcher.dispatch(Action::Status(e));
                            return;
                        }
                    }
                    dispatcher.dispatch(Action::Worker(ev))
                })
                .spawn(&worker_script());
            if let Some(text) = crate::builtin::take_text() {
                bridge.send(Command::InstallBuiltin(text));
            }
            bridge
        })
    };
    let send = {
        let bridge = bridge.clone();
        use_callback((), move |cmd: Command, _| bridge.send(cmd))
    };
    let op = {
        let state = state.clone();
        let send = send.clone();
        Callback::from(move |op: Op| run_op(&state, &send, op))
    };
    let ctx = Ctx {
        state: state.clone(),
        send: send.clone(),
        op,
    };
    // The keyboard listener reads the latest context through this cell.
    let latest = use_mut_ref(|| None::<Ctx>);
    *latest.borrow_mut() = Some(ctx.clone());
    {
        let latest: Rc<RefCell<Option<Ctx>>> = latest.clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window().map(|w| {
                // Not passive: F1, F5 and F11 must not reach the browser's own actions.
                let options = gloo_events::EventListenerOptions::enable_prevent_default();
                gloo_events::EventListener::new_with_options(&w, "keydown", options, move |e| {
                    if let (Some(ctx), Some(k)) =
                        (latest.borrow().as_ref(), e.dyn_ref::<KeyboardEvent>())
                    {
                        on_key(ctx, k);
                    }
                })
            });
            move || drop(listener)
        });
    }
    {
        let state = state.clone();
        let send = send.clone();
        use_effect_with((), move |_| open_initial(&state, &send));
    }
    let catalog = use_state(|| Rc::new(labs::catalog()));
    {
        let catalog = catalog.clone();
        let state = state.clone();
        let send = send.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                add_packs(&state, &send, crate::packs::fetch().await);
                catalog.set(Rc::new(labs::catalog()));
            });
        });
    }
    let labs = (*catalog).clone();
    let focus = demos::focus(&state).map(|f| {
        let in_grid = f.iter().filter(|p| **p != demos::Panel::Compare).count();
        classes!("demo-focus", format!("focus-{}", in_grid.min(3)))
    });
    let root_class = classes!("lab", state.presentation.then_some("presentation"), focus);
    html! {
        <ContextProvider<Ctx> context={ctx}>
            <div class={root_class} data-testid="lab-root">
                <header class="top">
                    <h1>{"vmlab"}</h1>
                    <DemoMenu/>
                    <LabMenu labs={labs.clone()}/>
                    <span class="small tagline">{"an x86 machine, its page tables and its VMM, live"}</span>
                </header>
                <Controls/>
                <DemoNarration/>
                <LabPage labs={labs}/>
                <Compare/>
                <main class="grid">
                    <div class="col-editor"><Editor/></div>
                    <div class="col-code"><Disasm/><Registers/></div>
                    <div class="col-side"><Log/><Memory/></div>
                    <div class="col-wide"><crate::components::cpus::CpuStrip/><crate::components::cpus::ApicPanel/><crate::components::tsc::TscPanel/></div>
                    <div class="col-wide"><PageTables/><pictures::WalkPicture/><pictures::ShadowPicture/><pictures::NestedPicture/><pictures::CostPicture/><pictures::CrossoverPicture/></div>
                    <div class="col-bottom"><Tlb/><Counters/><Serial/><Vga/><Devices/><crate::components::disk::Disk/></div>
                    <div class="col-wide"><LinuxPanel/><LinuxParts/></div>
                    <div class="col-wide"><JvmPanel/></div>
                    <div class="col-wide"><crate::components::host::HostPanel/></div>
                    <div class="col-wide"><crate::components::xlate::XlatePanel/></div>
                    <div class="col-wide"><crate::components::network::NetworkPanel/></div>
                </main>
                <Help/>
            </div>
        </ContextProvider<Ctx>>
    }
}
