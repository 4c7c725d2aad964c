//! The process-VM panel: a static i386 Linux program (an example assembled here, or
//! an ELF file) runs in the worker under the emulated Linux interface, on the host or
//! in a container (root, chroot kind, host name, PID namespace, mounts, memory cap,
//! CPU quota); the panel shows its output and how it ended. Its process table, system
//! calls, container and the four-way table are panels of their own (`linux_parts.rs`).

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::protocol::Command;
use crate::state::Action;
use crate::worker::linux::LinuxRun;
use crate::worker::linux_setup::{self, Container};

/// The example programs, whole ELF files in assembly (`guests/linux/NAME.asm`, read
/// with [`vmlab_demos::guest`]).
static EXAMPLES: [&str; 2] = ["hello", "fork"];

/// The container the panel's fields describe: root, memory cap, CPU quota and
/// mounts, as typed.
fn container(fields: &[String; 4], naive_chroot: bool) -> Result<Container, String> {
    let [root, mem, quota, mounts] = fields;
    Ok(Container {
        root: root.trim().to_string(),
        naive_chroot,
        mem_limit: linux_setup::parse_size(mem)?,
        cpu_quota: linux_setup::parse_quota(quota)?,
        mounts: linux_setup::parse_mounts(mounts)?,
    })
}

/// The process-VM panel.
#[function_component(LinuxPanel)]
pub fn linux_panel() -> Html {
    let ctx = use_ctx();
    let args = use_node_ref();
    let host = use_node_ref();
    let pid_ns = use_node_ref();
    let compare = use_node_ref();
    let root = use_node_ref();
    let naive = use_node_ref();
    let mem = use_node_ref();
    let quota = use_node_ref();
    let mounts = use_node_ref();
    let field = |r: &NodeRef| {
        r.cast::<HtmlInputElement>()
            .map(|i| i.value())
            .unwrap_or_default()
    };
    let start = {
        let (ctx, args, host) = (ctx.clone(), args.clone(), host.clone());
        let (pid_ns, compare) = (pid_ns.clone(), compare.clone());
        let (root, naive, mem) = (root.clone(), naive.clone(), mem.clone());
        let (quota, mounts) = (quota.clone(), mounts.clone());
        let checked = |r: &NodeRef| r.cast::<HtmlInputElement>().is_some_and(|i| i.checked());
        Callback::from(move |(name, elf): (String, Vec<u8>)| {
            let fields = [&root, &mem, &quota, &mounts].map(field);
            let container = match container(&fields, checked(&naive)) {
                Ok(c) => c,
                Err(e) => return ctx.dispatch(Action::Status(e)),
            };
            ctx.dispatch(Action::Status(format!("running {name} in the worker…")));
            ctx.send.emit(Command::RunLinux(LinuxRun {
                name,
                elf,
                args: field(&args).split_whitespace().map(String::from).collect(),
                hostname: field(&host),
                pid_ns: checked(&pid_ns),
                compare: checked(&compare),
                container,
                files: linux_setup::lab_files(),
                stops: Vec::new(),
            }));
        })
    };
    let example = |name: &'static str| {
        let start = start.clone();
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            let src = vmlab_demos::guest(&format!("linux/{name}.asm")).unwrap_or_default();
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
            </>
        },
    };
    html! {
        <Panel id="panel-linux" title="Linux process VM" hint="Linux programs on vmlab's CPU at ring 3; their system calls answered by an emulated Linux, their processes switched by its scheduler.">
            <div class="row">
                <button data-testid="linux-run-example" onclick={example(EXAMPLES[0])}>{"Run the example"}</button>
                <button data-testid="linux-run-fork" onclick={example(EXAMPLES[1])}>{"Run the fork example"}</button>
                <label>{"ELF file "}<input type="file" data-testid="linux-file" onchange={pick}/></label>
                <input ref={args} data-testid="linux-args" aria-label="program arguments" placeholder="arguments"/>
                <input ref={host} data-testid="linux-hostname" aria-label="host name" placeholder="host name (vmlab)"/>
                <label><input type="checkbox" ref={pid_ns} data-testid="linux-pid-ns"/>{" PID namespace"}</label>
                <label><input type="checkbox" ref={compare} data-testid="linux-compare"/>{" compare: process, container, unikernel"}</label>
            </div>
            <div class="row" data-testid="linux-container-settings">
                <input ref={root} data-testid="linux-root" aria-label="root folder" placeholder="root (/jail)" title="a folder of the host's files (/jail, /srv/data) that becomes the program's root"/>
                <label><input type="checkbox" ref={naive} data-testid="linux-naive-chroot"/>{" naive chroot"}</label>
                <input ref={mem} data-testid="linux-mem-limit" aria-label="memory cap" placeholder="memory cap (4M)"/>
                <input ref={quota} data-testid="linux-cpu-quota" aria-label="CPU quota" placeholder="CPU quota N/PERIOD (25000/100000)"/>
                <input ref={mounts} data-testid="linux-mounts" aria-label="bind mounts" placeholder="mounts SRC:DST[:ro] (/srv/data:/data:ro)"/>
            </div>
            { body }
        </Panel>
    }
}
