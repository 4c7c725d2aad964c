//! The network panel: a network scenario with real machines run tick by tick (the scenario files of `vmlab net` or a network demo step by step with its claims checked), its topology, MAC and flow tables, packets per port, last frames, pcap downloads, and each machine's console or the machine opened in the lab's panels.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::demo_steps;
use super::network_parts as parts;
use super::{use_ctx, Panel};
use crate::protocol::Command;
use crate::state::Action;
use crate::worker::session::Loaded;
use crate::worker::snapfile::{self, MachineFile};
use vmlab_demos::manifest::kind_net::NetPart;
use vmlab_host::net::HostNet;
use vmlab_netlab::demo::{self, Checked};
use vmlab_netlab::NetLab;

/// The scenarios with machines the panel offers (`net/scenarios/`).
static SCENARIOS: [(&str, &str); 3] = [
    (
        "vm-ping",
        include_str!("../../../net/scenarios/vm-ping.toml"),
    ),
    (
        "vm-drop-icmp",
        include_str!("../../../net/scenarios/vm-drop-icmp.toml"),
    ),
    (
        "vm-overlay",
        include_str!("../../../net/scenarios/vm-overlay.toml"),
    ),
];

/// What the panel shows: a scenario picked by name, or a network demo at a step.
#[derive(Clone, PartialEq, Debug)]
enum Source {
    Scenario(&'static str),
    Demo {
        id: &'static str,
        step: usize,
    },
    /// A host scenario's network, opened from the Host view.
    Host {
        file: String,
        net: HostNet,
    },
}

type Lab = Rc<RefCell<Option<NetLab>>>;

fn start(source: &Source) -> Result<(NetLab, Vec<Checked>), String> {
    match source {
        Source::Scenario(name) => {
            let text = SCENARIOS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t)
                .ok_or_else(|| format!("no scenario {name}"))?;
            Ok((
                NetLab::parse(&format!("net/scenarios/{name}.toml"), text)?,
                Vec::new(),
            ))
        }
        Source::Demo { id, step } => {
            let d = demo::find(id).ok_or_else(|| format!("no network demo {id}"))?;
            demo::play(d, *step)
        }
        Source::Host { file, net } => {
            let s = net.scenario().map_err(|e| format!("{file}: {e}"))?;
            Ok((NetLab::from_scenario(file, s)?, Vec::new()))
        }
    }
}

fn select_value(e: &Event) -> String {
    e.target()
        .and_then(|t| {
            t.dyn_ref::<HtmlSelectElement>()
                .map(HtmlSelectElement::value)
        })
        .unwrap_or_default()
}

/// The machine file that loads machine `name` of `lab` into the lab's panels.
fn vm_file(lab: &NetLab, name: &str) -> Result<Vec<u8>, String> {
    let vm = lab
        .machines()
        .vm(name)
        .ok_or_else(|| format!("no machine called {name}"))?;
    let image = lab.image(name).unwrap_or_default().to_vec();
    let mode: emulator_core::ExecMode = vm.mode.parse().map_err(|e| format!("{name}: {e}"))?;
    snapfile::encode(&MachineFile {
        program: Loaded {
            image,
            origin: vmlab_netlab::machines::LOAD_AT,
            entry: emulator_core::FlatEntry::Protected32,
            setup: None,
            rom: false,
        },
        mode,
        machine: vm.machine.snapshot(),
    })
}

/// The network panel.
#[function_component(NetworkPanel)]
pub fn network_panel() -> Html {
    let ctx = use_ctx();
    let lab: Lab = use_mut_ref(|| None);
    let tick = use_state(|| 0u64);
    let source = use_state(|| None::<Source>);
    let checked = use_state(Vec::<Checked>::new);
    let error = use_state(|| None::<String>);
    let port = use_state(String::new);

    let redraw = {
        let tick = tick.clone();
        Callback::from(move |()| tick.set(*tick + 1))
    };
    let open = {
        let (lab, source, checked, error, redraw, port) = (
            lab.clone(),
            source.clone(),
            checked.clone(),
            error.clone(),
            redraw.clone(),
            port.clone(),
        );
        Callback::from(move |s: Source| {
            match start(&s) {
                Ok((l, c)) => {
                    // the first switch port when the panel opens a network
                    let first = l
                        .nodes()
                        .iter()
                        .find(|n| n.kind == "switch")
                        .map(|n| format!("{}:0", n.name))
                        .unwrap_or_default();
                    port.set(first);
                    *lab.borrow_mut() = Some(l);
                    checked.set(c);
                    error.set(None);
                }
                Err(e) => {
                    *lab.borrow_mut() = None;
                    error.set(Some(e));
                }
            }
            source.set(Some(s));
            redraw.emit(());
        })
    };
    {
        let open = open.clone();
        use_effect_with((), move |_| {
            let listener = super::host_net::listen(move |file, net| {
                open.emit(Source::Host { file, net });
            });
            move || drop(listener)
        });
    }
    let run = |ticks: u64| {
        let (lab, error, redraw) = (lab.clone(), error.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(l) = lab.borrow_mut().as_mut() {
                let n = if ticks == 0 { l.last_tick() } else { ticks };
                match l.step(n) {
                    Ok(_) => error.set(None),
                    Err(e) => error.set(Some(e)),
                }
            }
            redraw.emit(());
        })
    };
    let restart = {
        let (open, source) = (open.clone(), source.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(s) = &*source {
                open.emit(s.clone());
            }
        })
    };
    let pick = {
        let open = open.clone();
        Callback::from(move |e: Event| {
            let v = select_value(&e);
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
    let pick_port = {
        let port = port.clone();
        Callback::from(move |e: Event| port.set(select_value(&e)))
    };
    let download = {
        let (lab, error) = (lab.clone(), error.clone());
        Callback::from(move |p: String| {
            let guard = lab.borrow();
            let Some(bytes) = guard.as_ref().and_then(|l| l.pcap(&p)) else {
                error.set(Some(format!("{p}: no capture")));
                return;
            };
            let name = format!("{}.pcap", p.replace(':', "-port"));
            if let Err(e) =
                crate::storage::download_as(&name, "application/vnd.tcpdump.pcap", bytes)
            {
                error.set(Some(e));
            }
        })
    };
    let open_vm = {
        let (lab, ctx, error) = (lab.clone(), ctx.clone(), error.clone());
        Callback::from(move |name: String| {
            let Some(file) = lab.borrow().as_ref().map(|l| vm_file(l, &name)) else {
                return;
            };
            match file {
                Ok(bytes) => {
                    ctx.dispatch(Action::Status(format!(
                        "loading machine {name} from the network…"
                    )));
                    ctx.send.emit(Command::LoadMachine(bytes));
                }
                Err(e) => error.set(Some(e)),
            }
        })
    };

    let guard = lab.borrow();
    let current = (*source).clone();
    let selected = match &current {
        Some(Source::Scenario(n)) => format!("scenario:{n}"),
        Some(Source::Demo { id, .. }) => format!("demo:{id}"),
        Some(Source::Host { file, .. }) => format!("host:{file}"),
        None => String::new(),
    };
    let focus: Vec<NetPart> = match &current {
        Some(Source::Demo { id, step }) => demo::find(id)
            .and_then(|d| d.steps().get(*step))
            .and_then(|s| s.net.as_ref())
            .map(|n| n.focus.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let part =
        |p: NetPart, title: &str, body: Html| demo_steps::part(&focus, &p, p.testid(), title, body);
    let narration = match &current {
        Some(Source::Demo { id, step }) => demo::find(id).and_then(|d| {
            let s = d.steps().get(*step)?;
            Some(demo_steps::narration(
                "net",
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
        None => html! { <p class="small">{"Pick a network scenario or a network demo."}</p> },
        Some(l) => {
            let net = l.network();
            html! {
                <>
                    <div class="row">
                        <span data-testid="net-status">{ format!("{}: tick {} of {} · {} frames delivered, {} lost", l.file, l.now(), l.last_tick(), net.delivered, net.lost) }</span>
                        <button data-testid="net-run-1" onclick={run(1)} disabled={l.is_over()}>{"Run 1 tick"}</button>
                        <button data-testid="net-run-10" onclick={run(10)} disabled={l.is_over()}>{"Run 10 ticks"}</button>
                        <button data-testid="net-run-end" onclick={run(0)} disabled={l.is_over()}>{"Run to the end"}</button>
                        <button data-testid="net-restart" onclick={restart}>{"Restart"}</button>
                    </div>
                    <div class="host-grid">
                        { part(NetPart::Topology, "Topology", parts::topology(l)) }
                        { part(NetPart::Macs, "MAC tables", parts::macs(l)) }
                        { part(NetPart::Flows, "Flow tables", parts::flows(l)) }
                        { part(NetPart::Ports, "Packets per port", parts::ports(l, &download)) }
                        { part(NetPart::Frames, "Last frames", parts::frames(l, &port, &pick_port)) }
                        { part(NetPart::Consoles, "Machines", parts::consoles(l, &open_vm)) }
                    </div>
                </>
            }
        }
    };
    html! {
        <Panel id="panel-network" title="Network" hint="machines with virtio-net NICs on virtual switches: a learning bridge, flow rules with counters, a VXLAN overlay; every port captured to pcap.">
            <div class="row">
                <label>{"show "}<select data-testid="net-source" onchange={pick}>
                    <option value="" selected={selected.is_empty()}>{"— pick —"}</option>
                    <optgroup label="scenarios">
                        { for SCENARIOS.iter().map(|(n, _)| { let v = format!("scenario:{n}"); html! { <option value={v.clone()} selected={selected == v}>{ *n }</option> } }) }
                    </optgroup>
                    <optgroup label="demos">
                        { for demo::all().into_iter().map(|d| { let v = format!("demo:{}", d.id); html! { <option value={v.clone()} selected={selected == v}>{ d.title() }</option> } }) }
                    </optgroup>
                    if let Some(Source::Host { file, .. }) = &current {
                        <optgroup label="from the Host view">
                            <option value={selected.clone()} selected=true>{ file.clone() }</option>
                        </optgroup>
                    }
                </select></label>
            </div>
            { narration.unwrap_or_default() }
            if let Some(e) = &*error {
                <p class="error" data-testid="net-error">{ e.clone() }</p>
            }
            { body }
        </Panel>
    }
}
