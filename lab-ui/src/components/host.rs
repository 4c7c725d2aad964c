//! The Host view: several VMs on one host (a scenario run step by step), with controls to run, balloon, migrate and kill the primary, its pictures, a VM opened in the lab's panels, and the host demos played step by step with their claims checked.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::host_charts as charts;
use super::{use_ctx, Panel};
use crate::protocol::Command;
use crate::state::Action;
use crate::worker::session::{Loaded, RAM_MIB};
use crate::worker::snapfile::{self, MachineFile};
use vmlab_demos::manifest::kind_host::HostPart;
use vmlab_host::net::NetMode;
use vmlab_hostlab::demo::{self, Checked};
use vmlab_hostlab::{moves, HostLab};

/// The host scenarios the view offers (`host/scenarios/`).
static SCENARIOS: [(&str, &str); 8] = [
    (
        "esx-memory",
        include_str!("../../../host/scenarios/esx-memory.toml"),
    ),
    (
        "balloon-vs-swap",
        include_str!("../../../host/scenarios/balloon-vs-swap.toml"),
    ),
    (
        "credit-time",
        include_str!("../../../host/scenarios/credit-time.toml"),
    ),
    (
        "introspection",
        include_str!("../../../host/scenarios/introspection.toml"),
    ),
    (
        "two-vms-net",
        include_str!("../../../host/scenarios/two-vms-net.toml"),
    ),
    (
        "migrate-precopy",
        include_str!("../../../host/scenarios/migrate-precopy.toml"),
    ),
    (
        "migrate-diabolical",
        include_str!("../../../host/scenarios/migrate-diabolical.toml"),
    ),
    (
        "ft-failover",
        include_str!("../../../host/scenarios/ft-failover.toml"),
    ),
];
/// Host time one press of "Run 10 ms" (and one tick of Play) runs.
const STEP_MS: u64 = 10;

/// What the view shows: a scenario picked by name, or a host demo at a step.
#[derive(Clone, PartialEq, Debug)]
enum Source {
    Scenario(&'static str),
    Demo { id: &'static str, step: usize },
}

type Lab = Rc<RefCell<Option<HostLab>>>;
/// Something a control does to the host.
type LabOp = Rc<dyn Fn(&mut HostLab) -> Result<(), String>>;

fn start(source: &Source) -> Result<(HostLab, Vec<Checked>), String> {
    match source {
        Source::Scenario(name) => {
            let text = SCENARIOS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t)
                .ok_or_else(|| format!("no scenario {name}"))?;
            Ok((HostLab::parse(&format!("{name}.toml"), text)?, Vec::new()))
        }
        Source::Demo { id, step } => {
            let d = demo::find(id).ok_or_else(|| format!("no host demo {id}"))?;
            demo::play(d, *step)
        }
    }
}

fn input_value(e: &Event) -> String {
    e.target()
        .and_then(|t| {
            t.dyn_ref::<HtmlSelectElement>()
                .map(HtmlSelectElement::value)
                .or_else(|| t.dyn_ref::<HtmlInputElement>().map(HtmlInputElement::value))
        })
        .unwrap_or_default()
}

/// The machine file that loads VM `name` of `lab` into the lab's panels.
fn vm_file(lab: &HostLab, name: &str) -> Result<Vec<u8>, String> {
    let vm = lab
        .cluster
        .vm(name)
        .ok_or_else(|| format!("no VM called {name}"))?;
    snapfile::encode(&MachineFile {
        program: Loaded {
            image: vm.image.bytes.clone(),
            origin: vmlab_host::guest::LOAD_ADDR,
            entry: emulator_core::FlatEntry::Protected32,
            setup: None,
            rom: false,
        },
        mode: vm.spec.mode,
        machine: vm.machine.snapshot(),
    })
}

/// The Host view.
#[function_component(HostPanel)]
pub fn host_panel() -> Html {
    let ctx = use_ctx();
    let lab: Lab = use_mut_ref(|| None);
    let tick = use_state(|| 0u64);
    let source = use_state(|| None::<Source>);
    let checked = use_state(Vec::<Checked>::new);
    let error = use_state(|| None::<String>);
    let playing = use_state(|| false);
    let balloon_vm = use_state(String::new);
    let balloon_mib = use_state(|| 4u32);
    let mig_mode = use_state(|| "precopy".to_string());
    let workload = use_state(|| "moderate".to_string());
    let kill_at = use_state(|| 8000u64);
    let net_mode = use_state(String::new);

    let redraw = {
        let tick = tick.clone();
        Callback::from(move |()| tick.set(*tick + 1))
    };
    let open = {
        let (lab, source, checked, error, redraw, playing) = (
            lab.clone(),
            source.clone(),
            checked.clone(),
            error.clone(),
            redraw.clone(),
            playing.clone(),
        );
        Callback::from(move |s: Source| {
            playing.set(false);
            match start(&s) {
                Ok((l, c)) => {
                    *lab.borrow_mut() = Some(l);
                    checked.set(c);
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
            source.set(Some(s));
            redraw.emit(());
        })
    };
    // does `f` to the lab, shows its error, redraws
    let with_lab = {
        let (lab, error, redraw) = (lab.clone(), error.clone(), redraw.clone());
        move |f: LabOp| {
            let (lab, error, redraw) = (lab.clone(), error.clone(), redraw.clone());
            Callback::from(move |_: MouseEvent| {
                if let Some(l) = lab.borrow_mut().as_mut() {
                    match f(l) {
                        Ok(()) => error.set(None),
                        Err(e) => error.set(Some(e)),
                    }
                }
                redraw.emit(());
            })
        }
    };
    {
        let (lab, error, redraw, playing) =
            (lab.clone(), error.clone(), redraw.clone(), playing.clone());
        use_effect_with((*playing, *tick), move |(on, _)| {
            let timer = on.then(|| {
                gloo_timers::callback::Timeout::new(60, move || {
                    let mut done = true;
                    if let Some(l) = lab.borrow_mut().as_mut() {
                        let next = l.now_ms() + STEP_MS;
                        if let Err(e) = l.advance_to(next) {
                            error.set(Some(e));
                        }
                        done = l.finished();
                    }
                    if done {
                        playing.set(false);
                    }
                    redraw.emit(());
                })
            });
            move || drop(timer)
        });
    }

    let pick = {
        let open = open.clone();
        Callback::from(move |e: Event| {
            let v = input_value(&e);
            if let Some(name) = v.strip_prefix("scenario:") {
                if let Some((n, _)) = SCENARIOS.iter().find(|(n, _)| *n == name) {
                    open.emit(Source::Scenario(n));
                }
            } else if let Some(id) = v.strip_prefix("demo:") {
                if let Some(d) = demo::find(id) {
                    open.emit(Source::Demo { id: d.id, step: 0 });
                }
            }
        })
    };
    let go_step = |delta: isize| {
        let (open, source) = (open.clone(), source.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(Source::Demo { id, step }) = &*source {
                let total = demo::find(id).map_or(1, |d| d.steps().len());
                let to = step
                    .saturating_add_signed(delta)
                    .min(total.saturating_sub(1));
                open.emit(Source::Demo { id, step: to });
            }
        })
    };
    let run_step = with_lab(Rc::new(|l: &mut HostLab| {
        let next = l.now_ms() + STEP_MS;
        l.advance_to(next)
    }));
    let run_end = with_lab(Rc::new(|l: &mut HostLab| {
        let end = l.end_ms();
        l.advance_to(end)
    }));
    let restart = with_lab(Rc::new(|l: &mut HostLab| {
        let mut fresh = l.restart(None)?;
        fresh.migration = l.migration.take();
        fresh.ft = l.ft.take();
        *l = fresh;
        Ok(())
    }));
    let do_balloon = {
        let (vm, mib) = ((*balloon_vm).clone(), *balloon_mib);
        with_lab(Rc::new(move |l: &mut HostLab| {
            let name = if vm.is_empty() {
                l.scenario
                    .vms
                    .first()
                    .map(|v| v.name.clone())
                    .unwrap_or_default()
            } else {
                vm.clone()
            };
            l.balloon(&name, mib)
        }))
    };
    let do_migrate = {
        let (mode, w) = ((*mig_mode).clone(), (*workload).clone());
        with_lab(Rc::new(move |l: &mut HostLab| {
            l.migration = Some(moves::migrate(&mode, &w)?);
            Ok(())
        }))
    };
    let do_kill = {
        let at = *kill_at;
        with_lab(Rc::new(move |l: &mut HostLab| {
            l.ft = Some(moves::kill_primary(at)?);
            Ok(())
        }))
    };
    let toggle_play = {
        let playing = playing.clone();
        Callback::from(move |_: MouseEvent| playing.set(!*playing))
    };
    let open_vm = {
        let (lab, ctx, error) = (lab.clone(), ctx.clone(), error.clone());
        Callback::from(move |name: String| {
            let Some(l) = lab.borrow().as_ref().map(|l| vm_file(l, &name)) else {
                return;
            };
            match l {
                Ok(bytes) => {
                    ctx.dispatch(Action::Status(format!("loading VM {name} from the host…")));
                    ctx.send.emit(Command::LoadMachine(bytes));
                }
                Err(e) => error.set(Some(e)),
            }
        })
    };
    // the picked scenario's network, with the mode chosen in the view (or as written)
    let network = {
        let (src, mode) = ((*source).clone(), (*net_mode).clone());
        move |l: &HostLab| match &src {
            Some(Source::Scenario(name)) => {
                let text = SCENARIOS.iter().find(|(n, _)| n == name).map(|(_, t)| *t)?;
                let over = NetMode::from_name(&mode);
                let file = format!("{name}.toml");
                let net = super::host_net::network(&file, text, over, &l.report());
                Some(net.map(|n| n.map(|n| (file, n))))
            }
            _ => None,
        }
    };
    let open_net = {
        let (lab, error) = (lab.clone(), error.clone());
        let network = network.clone();
        Callback::from(move |_: MouseEvent| {
            let Some(found) = lab.borrow().as_ref().and_then(&network) else {
                return;
            };
            match found {
                Ok(Some((file, n))) => super::host_net::open(file, n),
                Ok(None) => error.set(Some(
                    "the VMs are not networked: pick bridge or nat".to_string(),
                )),
                Err(e) => error.set(Some(e)),
            }
        })
    };
    let set_str = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |e: Event| s.set(input_value(&e)))
    };
    let set_num = |s: &UseStateHandle<u32>| {
        let s = s.clone();
        Callback::from(move |e: Event| {
            if let Ok(v) = input_value(&e).trim().parse() {
                s.set(v);
            }
        })
    };
    let set_kill = {
        let s = kill_at.clone();
        Callback::from(move |e: Event| {
            if let Ok(v) = input_value(&e).trim().parse() {
                s.set(v);
            }
        })
    };

    let guard = lab.borrow();
    let current = (*source).clone();
    let selected = match &current {
        Some(Source::Scenario(n)) => format!("scenario:{n}"),
        Some(Source::Demo { id, .. }) => format!("demo:{id}"),
        None => String::new(),
    };
    let focus: Vec<HostPart> = match &current {
        Some(Source::Demo { id, step }) => demo::find(id)
            .and_then(|d| d.steps().get(*step))
            .and_then(|s| s.host.as_ref())
            .map(|h| h.focus.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let part = |p: HostPart, title: &str, body: Html| {
        super::demo_steps::part(&focus, &p, p.testid(), title, body)
    };
    let narration = match &current {
        Some(Source::Demo { id, step }) => demo::find(id).and_then(|d| {
            let s = d.steps().get(*step)?;
            Some(super::demo_steps::narration(
                "host",
                *step,
                d.steps().len(),
                s,
                &checked,
                go_step,
            ))
        }),
        _ => None,
    };
    let body = match guard.as_ref() {
        None => html! { <p class="small">{"Pick a scenario or a host demo."}</p> },
        Some(l) => {
            let r = l.report();
            let vm_names: Vec<String> = r.vms.iter().map(|v| v.name.clone()).collect();
            let networked = network(l)
                .and_then(Result::ok)
                .flatten()
                .map(|(_, n)| n.mode.name());
            html! {
                <>
                    <div class="row">
                        <span data-testid="host-status">{ format!("{}: {} of {} ms ({} clock)", r.name, l.now_ms(), l.end_ms(), r.time_policy) }</span>
                        <button data-testid="host-run-step" onclick={run_step} disabled={l.finished()}>{ format!("Run {STEP_MS} ms") }</button>
                        <button data-testid="host-play" onclick={toggle_play} disabled={l.finished()}>{ if *playing { "Pause" } else { "Play" } }</button>
                        <button data-testid="host-run-end" onclick={run_end} disabled={l.finished()}>{"Run to the end"}</button>
                        <button data-testid="host-restart" onclick={restart}>{"Restart"}</button>
                    </div>
                    <div class="row">
                        <label>{"balloon "}<select data-testid="host-balloon-vm" onchange={set_str(&balloon_vm)}>
                            { for vm_names.iter().map(|n| html! { <option value={n.clone()} selected={*balloon_vm == *n}>{ n.clone() }</option> }) }
                        </select></label>
                        <label>{" to "}<input type="number" min="0" max="4096" data-testid="host-balloon-mib" value={balloon_mib.to_string()} onchange={set_num(&balloon_mib)}/>{" MiB"}</label>
                        <button data-testid="host-balloon" onclick={do_balloon}>{"Balloon"}</button>
                        <label>{" migrate "}<select data-testid="host-migrate-mode" onchange={set_str(&mig_mode)}>
                            { for ["precopy", "postcopy"].iter().map(|m| html! { <option value={*m} selected={*mig_mode == *m}>{ *m }</option> }) }
                        </select></label>
                        <select data-testid="host-migrate-workload" aria-label="workload" onchange={set_str(&workload)}>
                            { for ["idle", "moderate", "diabolical"].iter().map(|m| html! { <option value={*m} selected={*workload == *m}>{ *m }</option> }) }
                        </select>
                        <button data-testid="host-migrate" onclick={do_migrate}>{"Migrate"}</button>
                        <label>{" kill the primary at instruction "}<input type="number" min="1" data-testid="host-kill-at" value={kill_at.to_string()} onchange={set_kill}/></label>
                        <button data-testid="host-kill" onclick={do_kill}>{"Kill the primary"}</button>
                    </div>
                    if matches!(current, Some(Source::Scenario(_))) {
                        <div class="row">
                            <label>{"network "}<select data-testid="host-net-mode" onchange={set_str(&net_mode)}>
                                <option value="" selected={net_mode.is_empty()}>{"as the file says"}</option>
                                { for NetMode::ALL.iter().map(|m| html! { <option value={m.name()} selected={*net_mode == m.name()}>{ m.name() }</option> }) }
                            </select></label>
                            <button data-testid="host-open-net" onclick={open_net} disabled={networked.is_none()}>{"Open the network"}</button>
                            <span class="small" data-testid="host-net-status">{ match networked {
                                Some(m) => format!(" the VMs on switch {} ({m}), in the network panel", vmlab_host::net::SWITCH),
                                None => " no network: the file has no [net] section; pick bridge or nat".to_string(),
                            } }</span>
                        </div>
                    }
                    <div class="host-grid">
                        { part(HostPart::Cards, "VMs", charts::cards(&r, RAM_MIB, &open_vm)) }
                        { part(HostPart::Memory, "Memory", charts::memory(&r)) }
                        { part(HostPart::Timeline, "Timeline", charts::timeline(&r)) }
                        { part(HostPart::Migration, "Live migration", charts::migration(l.migration.as_ref())) }
                        { part(HostPart::Ft, "Fault tolerance", charts::ft(l.ft.as_ref())) }
                    </div>
                    { charts::scenario_moves(&l.scenario, &r) }
                </>
            }
        }
    };
    html! {
        <Panel id="panel-host" title="Host" hint="several VMs on one host: CPU shares, pooled memory, ballooning, sharing, swapping; live migration and fault tolerance.">
            <div class="row">
                <label>{"show "}<select data-testid="host-source" onchange={pick}>
                    <option value="" selected={selected.is_empty()}>{"— pick —"}</option>
                    <optgroup label="scenarios">
                        { for SCENARIOS.iter().map(|(n, _)| { let v = format!("scenario:{n}"); html! { <option value={v.clone()} selected={selected == v}>{ *n }</option> } }) }
                    </optgroup>
                    <optgroup label="demos">
                        { for demo::all().into_iter().map(|d| { let v = format!("demo:{}", d.id); html! { <option value={v.clone()} selected={selected == v}>{ d.title() }</option> } }) }
                    </optgroup>
                </select></label>
            </div>
            { narration.unwrap_or_default() }
            if let Some(e) = &*error {
                <p class="error" data-testid="host-error">{ e.clone() }</p>
            }
            { body }
        </Panel>
    }
}
