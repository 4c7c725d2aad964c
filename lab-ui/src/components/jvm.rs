//! The JVM workbench panel: an example program's class (constant pool, methods as
//! bytecode with the current pc marked), the frame stack with each frame's locals and
//! operand stack, stepped bytecode by bytecode, and the heap drawn as an address strip
//! (live, new, moved and free) with the collector's counters.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;

use yew::prelude::*;

use super::Panel;
use vmlab_jvm::classfile::disasm::disassemble;
use vmlab_jvm::classfile::ClassFile;
use vmlab_jvm::heap::Value;
// The example programs (javac's output of `jvm/java/`) and the main classes the panel offers.
use vmlab_jvm::examples::{FILES, MAINS};
use vmlab_jvm::{ClassSource, GcKind, HeapSnapshot, Outcome, Vm, VmConfig};

/// Bytecodes "Run to the end" may take.
const BUDGET: u64 = 20_000_000;

/// The embedded class files, and the ones picked in the panel (which win).
#[derive(Debug)]
struct Examples;

static EXAMPLES: Examples = Examples;

thread_local! {
    /// Class files picked in the panel, by class name.
    static PICKED: RefCell<BTreeMap<String, Vec<u8>>> = const { RefCell::new(BTreeMap::new()) };
}

impl ClassSource for Examples {
    fn load(&self, name: &str) -> Option<Vec<u8>> {
        PICKED.with(|p| p.borrow().get(name).cloned()).or_else(|| {
            FILES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| b.to_vec())
        })
    }
}

/// Reads picked class files: each is parsed for its class name; the names of the
/// ones with a `main` method, or the first refusal with its location.
fn pick_classes(files: Vec<(String, Vec<u8>)>) -> Result<Vec<String>, String> {
    let mut mains = Vec::new();
    let mut parsed = Vec::new();
    for (file, bytes) in files {
        let cf = ClassFile::parse(&file, &bytes).map_err(|e| e.to_string())?;
        if cf.method("main", "([Ljava/lang/String;)V").is_some() {
            mains.push(cf.name.clone());
        }
        parsed.push((cf.name, bytes));
    }
    PICKED.with(|p| p.borrow_mut().extend(parsed));
    Ok(mains)
}

type Machine = Rc<RefCell<Option<Vm<'static>>>>;

fn value(v: &Value) -> String {
    v.to_string()
}

/// The heap as an SVG address strip: objects by state, free ranges, references as arcs.
fn heap_picture(h: &HeapSnapshot) -> Html {
    const W: f64 = 640.0;
    let x =
        |a: u32| 10.0 + (a.saturating_sub(h.base)) as f64 / h.capacity.max(1) as f64 * (W - 20.0);
    let w = |n: u32| (n as f64 / h.capacity.max(1) as f64 * (W - 20.0)).max(1.0);
    let center = |a: u32| {
        h.objects
            .iter()
            .find(|o| o.addr == a)
            .map(|o| x(o.addr) + w(o.size) / 2.0)
    };
    let mut arcs = Vec::new();
    for o in h.objects.iter().take(400) {
        let from = x(o.addr) + w(o.size) / 2.0;
        for &r in o.refs.iter().take(8) {
            if let Some(to) = center(r) {
                let mid = (from + to) / 2.0;
                let lift = 70.0 - ((to - from).abs() / W * 60.0);
                arcs.push(format!("M{from:.1},80 Q{mid:.1},{lift:.1} {to:.1},80"));
            }
        }
    }
    let label = format!(
        "The heap, {} bytes from {:#x}: {} objects, {} bytes in use",
        h.capacity,
        h.base,
        h.objects.len(),
        h.used
    );
    html! {
        <svg class="jvm-heap" data-testid="jvm-heap" viewBox={format!("0 0 {W} 130")} role="img" aria-label={label}>
            <rect x="10" y="80" width={format!("{}", W - 20.0)} height="28" class="heap-strip"/>
            if let Some(from) = h.from_space {
                <text x={format!("{:.1}", x(from) + 4.0)} y="124" class="heap-label">{"current half"}</text>
                <line x1={format!("{:.1}", x(h.base + h.capacity / 2))} x2={format!("{:.1}", x(h.base + h.capacity / 2))} y1="76" y2="112" class="heap-split"/>
            }
            { for h.free.iter().map(|&(a, n)| html! {
                <rect x={format!("{:.1}", x(a))} y="80" width={format!("{:.1}", w(n))} height="28" class="heap-free" data-kind="free"/>
            }) }
            { for h.objects.iter().map(|o| {
                let kind = if o.moved_from.is_some() { "moved" } else if o.marked { "live" } else { "new" };
                html! {
                    <rect x={format!("{:.1}", x(o.addr))} y="82" width={format!("{:.1}", w(o.size))} height="24"
                          class={format!("heap-obj heap-{kind}")} data-kind={kind}>
                        <title>{ format!("{:#x} {} ({} bytes){}", o.addr, o.class, o.size, o.moved_from.map(|m| format!(", moved from {m:#x}")).unwrap_or_default()) }</title>
                    </rect>
                }
            }) }
            { for arcs.iter().map(|d| html! { <path d={d.clone()} class="heap-ref"/> }) }
        </svg>
    }
}

/// The JVM workbench panel.
#[function_component(JvmPanel)]
pub fn jvm_panel() -> Html {
    let vm: Machine = use_mut_ref(|| None);
    let tick = use_state(|| 0u64);
    let main = use_state(|| MAINS[0].to_string());
    let mains = use_state(|| MAINS.iter().map(|m| m.to_string()).collect::<Vec<_>>());
    let gc = use_state(|| GcKind::MarkSweep);
    let heap_kb = use_state(|| 16u32);
    let jit = use_state(|| 0u32);
    let error = use_state(|| None::<String>);
    let demo_at = use_state(|| None::<(&'static str, usize)>);
    let ctx = super::use_ctx();
    let opened = use_state(|| None::<usize>);

    let redraw = {
        let tick = tick.clone();
        move || tick.set(*tick + 1)
    };
    let load = {
        let (vm, main, gc, heap_kb, error, redraw) = (
            vm.clone(),
            main.clone(),
            gc.clone(),
            heap_kb.clone(),
            error.clone(),
            redraw.clone(),
        );
        let jit = jit.clone();
        Callback::from(move |_: MouseEvent| {
            let config = VmConfig {
                gc: *gc,
                heap_bytes: *heap_kb * 1024,
                jit_threshold: *jit,
                ..VmConfig::default()
            };
            match Vm::new(&EXAMPLES, &main, config) {
                Ok(m) => {
                    *vm.borrow_mut() = Some(m);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            redraw();
        })
    };
    let run = |n: u64| {
        let (vm, error, redraw) = (vm.clone(), error.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(m) = vm.borrow_mut().as_mut() {
                if let Err(e) = m.run(n) {
                    error.set(Some(e.to_string()));
                }
            }
            redraw();
        })
    };
    let collect = {
        let (vm, redraw) = (vm.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(m) = vm.borrow_mut().as_mut() {
                m.collect();
            }
            redraw();
        })
    };
    let pick_main = {
        let main = main.clone();
        Callback::from(move |e: Event| {
            let v = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            main.set(v);
        })
    };
    let pick_files = {
        let (main, mains, error) = (main.clone(), mains.clone(), error.clone());
        Callback::from(move |e: Event| {
            let Some(list) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
                .and_then(|i| i.files())
            else {
                return;
            };
            let files: Vec<web_sys::File> =
                (0..list.length()).filter_map(|i| list.get(i)).collect();
            let (main, mains, error) = (main.clone(), mains.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let mut read = Vec::new();
                for f in files {
                    if let Ok(buf) = wasm_bindgen_futures::JsFuture::from(f.array_buffer()).await {
                        read.push((f.name(), js_sys::Uint8Array::new(&buf).to_vec()));
                    }
                }
                match pick_classes(read) {
                    Ok(found) => {
                        let mut all: Vec<String> = (*mains).clone();
                        for m in &found {
                            if !all.contains(m) {
                                all.insert(0, m.clone());
                            }
                        }
                        if let Some(first) = found.first() {
                            main.set(first.clone());
                        }
                        mains.set(all);
                        error.set(None);
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let pick_gc = {
        let gc = gc.clone();
        Callback::from(move |e: Event| {
            let v = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            gc.set(GcKind::parse(&v).unwrap_or(GcKind::MarkSweep));
        })
    };
    let pick_heap = {
        let heap_kb = heap_kb.clone();
        Callback::from(move |e: Event| {
            let v = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            heap_kb.set(v.parse().unwrap_or(16));
        })
    };

    let guard = vm.borrow();
    let body = match guard.as_ref() {
        None => {
            html! { <p class="small">{"Load an example: javac's class files for a program in jvm/java/, run on vmlab's JVM."}</p> }
        }
        Some(m) => {
            let status = match m.frames.is_empty() {
                false => format!("running: {} bytecodes, {} frames", m.steps, m.frames.len()),
                true => format!("finished after {} bytecodes", m.steps),
            };
            let outcome = match m.clone_outcome() {
                Some(Outcome::Uncaught { class, message }) => {
                    format!(" — uncaught {class}: {}", message.unwrap_or_default())
                }
                _ => String::new(),
            };
            let frames = m.frame_views();
            let top = m.frames.last();
            let code = top.and_then(|f| {
                let cf = m.classes.list.get(f.class as usize)?.file.clone()?;
                let meth = cf.methods.get(f.method)?;
                Some((
                    format!("{}.{}", cf.name, meth.label()),
                    disassemble(&meth.code.as_ref()?.code, &cf.pool),
                    f.pc,
                    cf,
                ))
            });
            let snap = m.heap_snapshot();
            let s = &snap.stats;
            html! {
                <>
                    <p data-testid="jvm-status">{ status }{ outcome }</p>
                    <div class="jvm-cols">
                        <div>
                            if let Some((name, lines, pc, cf)) = &code {
                                <h3 class="small">{ name.clone() }</h3>
                                <ol class="jvm-code" data-testid="jvm-code" aria-label="bytecode of the current method">
                                    { for lines.iter().map(|l| html! {
                                        <li class={classes!((l.pc == *pc).then_some("current"))}><span class="addr">{ format!("{:>4} ", l.pc) }</span>{ l.text.clone() }</li>
                                    }) }
                                </ol>
                                <details data-testid="jvm-pool">
                                    <summary>{ format!("{}: constant pool ({} entries), {} methods", cf.name, cf.pool.entries.len() - 1, cf.methods.len()) }</summary>
                                    <table class="strace">
                                        <thead><tr><th scope="col">{"#"}</th><th scope="col">{"constant"}</th></tr></thead>
                                        <tbody>{ for (1..cf.pool.entries.len()).map(|i| html! {
                                            <tr><td class="num">{ i }</td><td><code>{ cf.pool.describe(i as u16) }</code></td></tr>
                                        }) }</tbody>
                                    </table>
                                    <ul>{ for cf.methods.iter().map(|mm| html! { <li><code>{ mm.label() }</code></li> }) }</ul>
                                </details>
                            }
                        </div>
                        <div>
                            <table class="strace" data-testid="jvm-frames">
                                <caption>{"Frames, innermost first"}</caption>
                                <thead><tr><th scope="col">{"method"}</th><th scope="col">{"pc"}</th><th scope="col">{"locals"}</th><th scope="col">{"operand stack"}</th></tr></thead>
                                <tbody>{ for frames.iter().rev().map(|f| html! {
                                    <tr>
                                        <td><code>{ format!("{}.{}", f.class, f.method) }</code></td>
                                        <td class="num">{ format!("{} {}", f.pc, f.instruction) }</td>
                                        <td><code>{ f.locals.iter().map(value).collect::<Vec<_>>().join(" ") }</code></td>
                                        <td><code>{ f.stack.iter().map(value).collect::<Vec<_>>().join(" ") }</code></td>
                                    </tr>
                                }) }</tbody>
                            </table>
                        </div>
                    </div>
                    { heap_picture(&snap) }
                    <p class="small">{"Heap: green live after the last collection, orange allocated since, blue moved by the copying collector, grey free; arcs are references."}</p>
                    <table class="strace" data-testid="jvm-gc-stats">
                        <caption>{ format!("The {} collector", snap.collector.name()) }</caption>
                        <tbody>
                            <tr><th scope="row">{"collections"}</th><td class="num">{ s.collections }</td></tr>
                            <tr><th scope="row">{"last pause (steps)"}</th><td class="num">{ s.last_pause_steps }</td></tr>
                            <tr><th scope="row">{"bytes reclaimed"}</th><td class="num">{ s.bytes_reclaimed }</td></tr>
                            <tr><th scope="row">{"objects moved"}</th><td class="num">{ s.objects_moved }</td></tr>
                            <tr><th scope="row">{"live objects / bytes in use"}</th><td class="num">{ format!("{} / {}", snap.objects.len(), snap.used) }</td></tr>
                        </tbody>
                    </table>
                    <pre class="console" data-testid="jvm-stdout" aria-label="standard output">{ m.stdout.clone() }</pre>
                    { super::jvm_jit::jit_view(m, super::jvm_jit_step::eip(&ctx, *opened, m), super::jvm_jit_step::controls(&ctx, &vm, &opened, &error, Rc::new(redraw.clone()))) }
                </>
            }
        }
    };
    drop(guard);
    html! {
        <Panel id="panel-jvm" title="JVM workbench" hint="javac class files interpreted bytecode by bytecode; frames, heap and garbage collection.">
            <div class="row">
                <label>{"program "}<select data-testid="jvm-main" onchange={pick_main}>
                    { for mains.iter().map(|m| html! { <option value={m.clone()} selected={*main == *m}>{ m.clone() }</option> }) }
                </select></label>
                <label>{"collector "}<select data-testid="jvm-gc" onchange={pick_gc}>
                    <option value="mark-sweep" selected={*gc == GcKind::MarkSweep}>{"mark-sweep"}</option>
                    <option value="copying" selected={*gc == GcKind::Copying}>{"copying"}</option>
                </select></label>
                <label>{"heap "}<select data-testid="jvm-heap-size" onchange={pick_heap}>
                    { for [16u32, 48, 256, 1024].iter().map(|k| html! { <option value={k.to_string()} selected={*heap_kb == *k}>{ format!("{k} KiB") }</option> }) }
                </select></label>
                <label>{"JIT "}<select data-testid="jvm-jit-threshold" onchange={
                    let jit = jit.clone();
                    Callback::from(move |e: Event| jit.set(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value().parse().unwrap_or(0)))
                }>
                    { for [0u32, 10, 1000].iter().map(|t| html! { <option value={t.to_string()} selected={*jit == *t}>{ if *t == 0 { "off".to_string() } else { format!("after {t}") } }</option> }) }
                </select></label>
                <label>{"class files "}<input type="file" multiple=true accept=".class" data-testid="jvm-files" onchange={pick_files}/></label>
                <button data-testid="jvm-load" onclick={load}>{"Load"}</button>
                <button data-testid="jvm-step" onclick={run(1)}>{"Step"}</button>
                <button data-testid="jvm-step-100" onclick={run(100)}>{"Step 100"}</button>
                <button data-testid="jvm-run" onclick={run(BUDGET)}>{"Run to the end"}</button>
                <button data-testid="jvm-collect" onclick={collect}>{"Collect now"}</button>
            </div>
            { super::jvm_demo::bar(&vm, &demo_at, &error, Rc::new(redraw.clone())) }
            if let Some(e) = &*error {
                <p class="error" data-testid="jvm-error">{ e.clone() }</p>
            }
            { body }
        </Panel>
    }
}
