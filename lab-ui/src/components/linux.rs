//! The process-VM panel: a static i386 Linux program (the example assembled here, or
//! an ELF file) runs under the emulated Linux interface, with its output, how it
//! ended, and an strace-like table of its system calls.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::Panel;
use vmlab_procvm::{Exit, Process, ProcessConfig};

/// The example program, a whole ELF file in assembly.
const EXAMPLE: &str = include_str!("../../../guests/linux/hello.asm");
/// Instructions a run may take.
const BUDGET: u64 = 50_000_000;

/// What one run gave.
#[derive(PartialEq)]
struct Report {
    status: String,
    stdout: String,
    stderr: String,
    /// (instruction count, call with its arguments, result).
    calls: Vec<(u64, String, String)>,
}

fn run(name: &str, elf: &[u8], args: &str, hostname: &str) -> Result<Report, String> {
    let cfg = ProcessConfig {
        args: std::iter::once(format!("/{name}"))
            .chain(args.split_whitespace().map(String::from))
            .collect(),
        max_insns: BUDGET,
        hostname: if hostname.is_empty() {
            "vmlab".into()
        } else {
            hostname.into()
        },
        trace: true,
        ..ProcessConfig::default()
    };
    let p = Process::load(elf, cfg).map_err(|e| format!("{name}: {e}"))?;
    let o = p.run();
    let end = match &o.exit {
        Exit::Exited { status } => format!("exited with status {status}"),
        Exit::Signal { signal, reason } => format!("killed by signal {signal}: {reason}"),
        Exit::Budget => format!("stopped: {BUDGET} instructions used up"),
    };
    let calls = o
        .trace
        .iter()
        .map(|t| {
            let line = t.to_string();
            let (call, result) = line.rsplit_once(" = ").unwrap_or((&line, ""));
            (t.icount, call.to_owned(), result.to_owned())
        })
        .collect();
    Ok(Report {
        status: format!(
            "{name} {end} after {} instructions and {} system calls ({} pages mapped at most)",
            o.instructions, o.syscalls, o.peak_pages
        ),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        calls,
    })
}

/// The process-VM panel.
#[function_component(LinuxPanel)]
pub fn linux_panel() -> Html {
    let report = use_state(|| None::<Rc<Result<Report, String>>>);
    let args = use_node_ref();
    let host = use_node_ref();
    let field = |r: &NodeRef| {
        r.cast::<HtmlInputElement>()
            .map(|i| i.value())
            .unwrap_or_default()
    };
    let start = {
        let (report, args, host) = (report.clone(), args.clone(), host.clone());
        Callback::from(move |(name, elf): (String, Vec<u8>)| {
            let r = run(&name, &elf, &field(&args), &field(&host));
            report.set(Some(Rc::new(r)));
        })
    };
    let example = {
        let start = start.clone();
        let report = report.clone();
        Callback::from(move |_: MouseEvent| {
            match vmlab_asm::assemble("hello.asm", EXAMPLE, &vmlab_asm::Options::default()) {
                Ok(out) => start.emit(("hello".into(), out.bytes)),
                Err(e) => report.set(Some(Rc::new(Err(e.to_string())))),
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
    let body = match report.as_deref() {
        None => {
            html! { <p class="small">{"Run the example (guests/linux/hello.asm, a whole ELF file in assembly) or pick a static i386 Linux program built with gcc -m32 -static."}</p> }
        }
        Some(Err(e)) => html! { <p class="error" data-testid="linux-status">{ e.clone() }</p> },
        Some(Ok(r)) => html! {
            <>
                <p data-testid="linux-status">{ r.status.clone() }</p>
                <pre class="console" data-testid="linux-stdout" aria-label="standard output">{ r.stdout.clone() }</pre>
                if !r.stderr.is_empty() {
                    <pre class="console" data-testid="linux-stderr" aria-label="standard error">{ r.stderr.clone() }</pre>
                }
                <div class="strace-wrap"><table class="strace" data-testid="linux-strace">
                    <caption>{"System calls, as strace shows them"}</caption>
                    <thead><tr><th scope="col">{"at instruction"}</th><th scope="col">{"call"}</th><th scope="col">{"result"}</th></tr></thead>
                    <tbody>
                        { for r.calls.iter().map(|(at, call, result)| html! {
                            <tr><td class="num">{ at }</td><td><code>{ call.clone() }</code></td><td><code>{ result.clone() }</code></td></tr>
                        }) }
                    </tbody>
                </table></div>
            </>
        },
    };
    html! {
        <Panel id="panel-linux" title="Linux process VM" hint="A Linux program on vmlab's CPU at ring 3; its system calls answered by an emulated Linux.">
            <div class="row">
                <button data-testid="linux-run-example" onclick={example}>{"Run the example"}</button>
                <label>{"ELF file "}<input type="file" data-testid="linux-file" onchange={pick}/></label>
                <input ref={args} data-testid="linux-args" aria-label="program arguments" placeholder="arguments"/>
                <input ref={host} data-testid="linux-hostname" aria-label="host name" placeholder="host name (vmlab)"/>
            </div>
            { body }
        </Panel>
    }
}
