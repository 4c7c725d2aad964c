//! The process-VM panel: a static i386 Linux program (an example assembled here, or
//! an ELF file) runs in the worker under the emulated Linux interface; the panel shows
//! its output, how it ended, its process table and an strace-like table of its calls.

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::protocol::Command;
use crate::state::Action;
use crate::worker::linux::{LinuxReport, LinuxRun};

/// The example programs, whole ELF files in assembly: (name, source).
const EXAMPLES: [(&str, &str); 2] = [
    ("hello", include_str!("../../../guests/linux/hello.asm")),
    ("fork", include_str!("../../../guests/linux/fork.asm")),
];

/// The same program as a process, in a container and as a unikernel.
fn ways_table(r: &LinuxReport) -> Html {
    if r.ways.is_empty() {
        return Html::default();
    }
    html! {
        <div class="strace-wrap"><table class="strace" data-testid="linux-ways">
            <caption>{"The same program three ways: a process, a container, a unikernel"}</caption>
            <thead><tr>
                <th scope="col">{"way"}</th><th scope="col">{"isolation"}</th>
                <th scope="col">{"status"}</th><th scope="col">{"instructions"}</th>
                <th scope="col">{"system calls"}</th><th scope="col">{"ring switches"}</th>
                <th scope="col">{"context switches"}</th><th scope="col">{"pages at load / most"}</th>
                <th scope="col">{"virtual ns (throttled)"}</th><th scope="col">{"same output"}</th>
            </tr></thead>
            <tbody>
                { for r.ways.iter().map(|w| html! {
                    <tr>
                        <th scope="row">{ w.way.clone() }</th><td>{ w.isolation.clone() }</td>
                        <td class="num">{ w.status }</td><td class="num">{ w.instructions }</td>
                        <td class="num">{ w.syscalls }</td><td class="num">{ w.ring_switches }</td>
                        <td class="num">{ w.switches }</td>
                        <td class="num">{ format!("{} / {}", w.load_pages, w.peak_pages) }</td>
                        <td class="num">{ format!("{} ({})", w.elapsed_ns, w.throttled_ns) }</td>
                        <td>{ if w.same_output { "yes" } else { "no" } }</td>
                    </tr>
                }) }
            </tbody>
        </table></div>
    }
}

/// The process table: the host's pids beside the namespace's.
fn process_table(r: &LinuxReport) -> Html {
    let ns = r.processes.iter().any(|p| p.ns_pid.is_some());
    html! {
        <div class="strace-wrap"><table class="strace" data-testid="linux-processes">
            <caption>{"Processes, as the host sees them"}</caption>
            <thead><tr>
                <th scope="col">{"pid"}</th>
                if ns { <th scope="col">{"pid inside"}</th> }
                <th scope="col">{"parent"}</th><th scope="col">{"program"}</th>
                <th scope="col">{"state"}</th><th scope="col">{"end"}</th>
                <th scope="col">{"instructions"}</th><th scope="col">{"calls"}</th>
            </tr></thead>
            <tbody>
                { for r.processes.iter().map(|p| html! {
                    <tr>
                        <td class="num">{ p.pid }</td>
                        if ns { <td class="num">{ p.ns_pid.map(|n| n.to_string()).unwrap_or_default() }</td> }
                        <td class="num">{ p.ppid }</td><td><code>{ p.program.clone() }</code></td>
                        <td>{ p.state.clone() }</td><td>{ p.end.clone() }</td>
                        <td class="num">{ p.instructions }</td><td class="num">{ p.syscalls }</td>
                    </tr>
                }) }
            </tbody>
        </table></div>
    }
}

/// The process-VM panel.
#[function_component(LinuxPanel)]
pub fn linux_panel() -> Html {
    let ctx = use_ctx();
    let args = use_node_ref();
    let host = use_node_ref();
    let pid_ns = use_node_ref();
    let compare = use_node_ref();
    let field = |r: &NodeRef| {
        r.cast::<HtmlInputElement>()
            .map(|i| i.value())
            .unwrap_or_default()
    };
    let start = {
        let (ctx, args, host) = (ctx.clone(), args.clone(), host.clone());
        let (pid_ns, compare) = (pid_ns.clone(), compare.clone());
        let checked = |r: &NodeRef| r.cast::<HtmlInputElement>().is_some_and(|i| i.checked());
        Callback::from(move |(name, elf): (String, Vec<u8>)| {
            ctx.dispatch(Action::Status(format!("running {name} in the worker…")));
            ctx.send.emit(Command::RunLinux(LinuxRun {
                name,
                elf,
                args: field(&args).split_whitespace().map(String::from).collect(),
                hostname: field(&host),
                pid_ns: checked(&pid_ns),
                compare: checked(&compare),
            }));
        })
    };
    let example = |name: &'static str, src: &'static str| {
        let start = start.clone();
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            match vmlab_asm::assemble("example.asm", src, &vmlab_asm::Options::default()) {
                Ok(out) => start.emit((name.into(), out.bytes)),
                Err(e) => ctx.dispatch(Action::Status(format!("{name}.asm: {e}"))),
            }
        })
    };
    let pick = {
        let start = start.clone();
        Callback::from(move |e: Event| {
            let Some(file) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
                .and_then(|i| i.files())
                .and_then(|f| f.get(0))
            else {
                return;
            };
            let start = start.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(buf) = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                    let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                    start.emit((file.name(), bytes));
                }
            });
        })
    };
    let body = match ctx.state.linux.as_deref() {
        None => {
            html! { <p class="small">{"Run an example (guests/linux/hello.asm or fork.asm, whole ELF files in assembly) or pick a static i386 Linux program built with gcc -m32 -static. It runs in the worker, so the page stays live."}</p> }
        }
        Some(Err(e)) => html! { <p class="error" data-testid="linux-status">{ e.clone() }</p> },
        Some(Ok(r)) => html! {
            <>
                <p data-testid="linux-status">{ r.status.clone() }</p>
                <pre class="console" data-testid="linux-stdout" aria-label="standard output">{ r.stdout.clone() }</pre>
                if !r.stderr.is_empty() {
                    <pre class="console" data-testid="linux-stderr" aria-label="standard error">{ r.stderr.clone() }</pre>
                }
                { ways_table(r) }
                { process_table(r) }
                <div class="strace-wrap"><table class="strace" data-testid="linux-strace">
                    <caption>{"System calls, as strace shows them"}</caption>
                    <thead><tr><th scope="col">{"at instruction"}</th><th scope="col">{"pid"}</th><th scope="col">{"call"}</th><th scope="col">{"result"}</th></tr></thead>
                    <tbody>
                        { for r.calls.iter().map(|c| html! {
                            <tr><td class="num">{ c.icount }</td><td class="num">{ c.pid }</td><td><code>{ c.call.clone() }</code></td><td><code>{ c.result.clone() }</code></td></tr>
                        }) }
                    </tbody>
                </table></div>
            </>
        },
    };
    html! {
        <Panel id="panel-linux" title="Linux process VM" hint="Linux programs on vmlab's CPU at ring 3; their system calls answered by an emulated Linux, their processes switched by its scheduler.">
            <div class="row">
                <button data-testid="linux-run-example" onclick={example(EXAMPLES[0].0, EXAMPLES[0].1)}>{"Run the example"}</button>
                <button data-testid="linux-run-fork" onclick={example(EXAMPLES[1].0, EXAMPLES[1].1)}>{"Run the fork example"}</button>
                <label>{"ELF file "}<input type="file" data-testid="linux-file" onchange={pick}/></label>
                <input ref={args} data-testid="linux-args" aria-label="program arguments" placeholder="arguments"/>
                <input ref={host} data-testid="linux-hostname" aria-label="host name" placeholder="host name (vmlab)"/>
                <label><input type="checkbox" ref={pid_ns} data-testid="linux-pid-ns"/>{" PID namespace"}</label>
                <label><input type="checkbox" ref={compare} data-testid="linux-compare"/>{" compare: process, container, unikernel"}</label>
            </div>
            { body }
        </Panel>
    }
}
