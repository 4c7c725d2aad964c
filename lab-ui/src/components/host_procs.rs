//! The Host view's introspection table: a VM's processes read from its memory through the kernel's profile, the current one highlighted, beside what the host sees raw without the profile (the CPU's CR3 and the frames each page directory maps).

use yew::prelude::*;

use vmlab_host::scenario::VmReport;

/// The processes of VM `v` (nothing for a VM that does not run the teaching kernel).
pub fn processes(v: &VmReport) -> Html {
    let id = |what: &str| format!("host-vm-{}-{what}", v.name);
    let Some(got) = &v.processes else {
        return Html::default();
    };
    let view = match got {
        Ok(view) => view,
        Err(e) => {
            return html! { <p class="error small" data-testid={id("procs-error")}>{ e.clone() }</p> }
        }
    };
    if view.processes.is_empty() {
        return html! {
            <p class="small" data-testid={id("procs")}>{ "processes: none yet (the kernel has not turned paging on)" }</p>
        };
    }
    let frames: Vec<String> = view
        .processes
        .iter()
        .map(|p| {
            let f: Vec<String> = p.pages.iter().map(|(_, f)| format!("{f:#x}")).collect();
            format!("{:#x} → {}", p.cr3, f.join(" "))
        })
        .collect();
    html! {
        <div class="host-procs" data-testid={id("procs")}>
            <table class="small host-procs-table">
                <thead><tr><th>{"pid"}</th><th>{"name"}</th><th>{"state"}</th><th>{"CR3"}</th><th>{"user pages"}</th><th>{"EIP"}</th></tr></thead>
                <tbody>
                { for view.processes.iter().map(|p| {
                    let current = view.current == Some(p.pid);
                    let eip = match (p.eip, p.eip_live) {
                        (None, _) => "–".to_string(),
                        (Some(e), true) => format!("{e:#x} (CPU)"),
                        (Some(e), false) => format!("{e:#x} (saved)"),
                    };
                    html! {
                        <tr class={classes!(current.then_some("host-proc-current"))}
                            data-testid={id(&format!("proc-{}", p.pid))} data-current={current.to_string()}>
                            <td>{ p.pid }</td><td>{ p.name.clone() }</td><td>{ p.state.clone() }</td>
                            <td>{ format!("{:#x}", p.cr3) }</td><td>{ p.pages.len() }</td><td>{ eip }</td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            <p class="small host-gap" data-testid={id("gap")}>
                <strong>{"Semantic gap. "}</strong>
                { format!("Raw, the host sees CR3 = {:#x} at CPL {} and page directories mapping frames ({}). ", view.cpu_cr3, view.cpl, frames.join("; ")) }
                { "The kernel's profile (where its process table and `current` are, the field offsets, the state encoding) turns those bytes into processes, names and states — without the guest's help." }
            </p>
        </div>
    }
}
