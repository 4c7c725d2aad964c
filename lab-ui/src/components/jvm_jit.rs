//! The JVM panel's JIT view: the JIT's counters (bytecodes interpreted, x86
//! instructions compiled code retired), its events (compile, deopt, with method and
//! pc), and each compiled region's bytecode beside the x86 it became, the bytecode
//! whose x86 is being stepped marked.

use yew::prelude::*;

use vmlab_jvm::jit::EventKind;
use vmlab_jvm::Vm;

/// Most events listed (the first).
const EVENTS: usize = 400;
/// Most regions drawn.
const REGIONS: usize = 12;

fn kind(k: EventKind) -> &'static str {
    match k {
        EventKind::Compile => "compile",
        EventKind::NotCompiled => "not compiled",
        EventKind::Deopt => "deopt",
    }
}

/// The JIT view of `m` (nothing while the JIT is off); `at` is the region and EIP
/// of the x86 being stepped, `controls` the stepping buttons.
pub fn jit_view(m: &Vm, at: Option<(usize, u32)>, controls: Html) -> Html {
    if m.jit.threshold == 0 {
        return html! {};
    }
    let current = at.and_then(|(i, eip)| Some((i, eip, m.jit.regions.get(i)?.bytecode_pcs(eip))));
    let s = &m.jit.stats;
    let views = m.jit.views(m);
    html! {
        <section data-testid="jvm-jit" aria-label="the JIT">
            <table class="strace" data-testid="jvm-jit-stats">
                <caption>{ format!("The JIT (compiles after {} invocations and back edges)", m.jit.threshold) }</caption>
                <tbody>
                    <tr><th scope="row">{"bytecodes interpreted"}</th><td class="num">{ m.steps }</td></tr>
                    <tr><th scope="row">{"x86 instructions of compiled code"}</th><td class="num">{ s.x86_instructions }</td></tr>
                    <tr><th scope="row">{"regions compiled / bytecodes / bytes of x86"}</th><td class="num">{ format!("{} / {} / {}", s.compiled, s.bytecodes_compiled, s.code_bytes) }</td></tr>
                    <tr><th scope="row">{"entries / deopts / returns"}</th><td class="num">{ format!("{} / {} / {}", s.entries, s.deopts, s.returns) }</td></tr>
                </tbody>
            </table>
            <div class="jit-events">
            <table class="strace" data-testid="jvm-jit-events">
                <caption>{"JIT events (the first deopts at each pc)"}</caption>
                <thead><tr><th scope="col">{"event"}</th><th scope="col">{"method"}</th><th scope="col">{"pc"}</th><th scope="col">{"detail"}</th></tr></thead>
                <tbody>{ for m.jit.events.iter().take(EVENTS).map(|e| html! {
                    <tr data-kind={kind(e.kind)}>
                        <td>{ kind(e.kind) }</td>
                        <td><code>{ e.method.clone() }</code></td>
                        <td class="num">{ e.pc }</td>
                        <td>{ e.detail.clone() }</td>
                    </tr>
                }) }</tbody>
            </table>
            </div>
            { controls }
            if let Some((_, eip, pcs)) = current {
                <p class="small" data-testid="jvm-jit-eip">{ match pcs {
                    Some((a, b)) if a == b => format!("EIP {eip:#x} is in the x86 of pc {a} (marked)"),
                    Some((a, b)) => format!("EIP {eip:#x} is in the x86 of pcs {a} to {b} (marked)"),
                    None => format!("EIP {eip:#x} is in the out-of-line exits: the code is leaving for the interpreter"),
                } }</p>
            }
            { for views.iter().take(REGIONS).enumerate().map(|(i, v)| html! {
                <details class="jit-region" data-testid="jvm-jit-region" open={i == 0 || current.is_some_and(|c| c.0 == i)}>
                    <summary>{ format!("{} from pc {}: {} bytes of x86 at {:#x}", v.method, v.entry, v.code_bytes, v.base) }</summary>
                    <table class="strace jit-side">
                        <thead><tr><th scope="col">{"bytecode"}</th><th scope="col">{"x86 (vmlab's CPU runs it)"}</th></tr></thead>
                        <tbody>{ for v.rows.iter().map(|r| {
                            let here = current.is_some_and(|(c, eip, pcs)| c == i && match (pcs, r.pc) {
                                (Some((a, b)), Some(pc)) => (a..=b).contains(&pc),
                                (None, None) => r.x86.iter().any(|l| l.addr <= eip),
                                _ => false,
                            });
                            html! {
                            <tr class={classes!(here.then_some("current"))} data-testid={here.then_some("jvm-jit-current")}>
                                <td><code>{ r.bytecode.clone() }</code></td>
                                <td><pre class="jit-x86">{ r.x86.iter().map(|l| format!("{}{:08x}  {:<14} {}", match (here, current.is_some_and(|c| c.1 == l.addr)) { (true, true) => "▶ ", (true, false) => "  ", _ => "" }, l.addr, l.bytes, l.text)).collect::<Vec<_>>().join("\n") }</pre></td>
                            </tr>
                        }}) }</tbody>
                    </table>
                </details>
            }) }
        </section>
    }
}
