//! The lab's panels and controls, one component per file, sharing one [`Ctx`].

pub mod compare;
pub mod controls;
pub mod counters;
pub mod cpus;
pub mod demo;
pub mod demo_steps;
pub mod devices;
pub mod disasm;
pub mod disk;
pub mod editor;
pub mod help;
pub mod host;
pub mod host_charts;
pub mod host_net;
pub mod host_procs;
pub mod host_schedule;
pub mod jvm;
pub mod jvm_demo;
pub mod jvm_jit;
pub mod jvm_jit_step;
pub mod labpage;
pub mod linux;
pub mod linux_parts;
pub mod log;
pub mod machinefile;
pub mod memory;
pub mod network;
pub mod network_parts;
pub mod pagetables;
pub mod pictures;
pub mod precopy_lab;
pub mod registers;
pub mod serial;
pub mod settings;
pub mod smp_settings;
pub mod test_scores;
pub mod tier_switch;
pub mod tlb;
pub mod tsc;
pub mod vga;
pub mod virtio_irq;
pub mod vmm_settings;
pub mod xlate;
pub mod xlate_lab;

use yew::prelude::*;

use crate::protocol::Command;
use crate::state::{Action, LabState};

/// What every panel gets: the state, and ways to change it and to talk to the machine.
#[derive(Clone, PartialEq)]
pub struct Ctx {
    /// The page's state and its reducer.
    pub state: UseReducerHandle<LabState>,
    /// Sends a command to the worker.
    pub send: Callback<Command>,
    /// Runs a page-level operation (assemble, open a demo…).
    pub op: Callback<Op>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ctx")
    }
}

/// Page-level operations that need more than one action or command.
#[derive(Clone, PartialEq, Debug)]
pub enum Op {
    /// Assembles the editor's text and loads it.
    AssembleAndLoad,
    /// Opens a demo by id (at its first step).
    OpenDemo(&'static str),
    /// Moves the open demo to a step (reloads and replays up to it).
    DemoStep(usize),
    /// Opens a lab by id with its draft (or its starter) and loads it with the lab's setup.
    OpenLab(String),
    /// Replaces the open lab's draft with its starter.
    LabStarter,
    /// Loads the editor's program with a visible test's setup and runs it to its end.
    DebugTest(usize),
    /// Switches the mode and reloads.
    SetMode(emulator_core::ExecMode),
    /// Copies a share link to the URL bar.
    Share,
}

impl Ctx {
    /// Dispatches an action to the reducer.
    pub fn dispatch(&self, action: Action) {
        self.state.dispatch(action);
    }
    /// A callback that sends `cmd` when fired.
    pub fn send_on<E>(&self, cmd: Command) -> Callback<E> {
        let send = self.send.clone();
        Callback::from(move |_| send.emit(cmd.clone()))
    }
}

/// The shared context of the page's components.
#[hook]
pub fn use_ctx() -> Ctx {
    use_context::<Ctx>().expect("components are mounted under the app's Ctx provider")
}

/// `0x1234abcd` as `1234abcd`.
pub fn hex32(v: u32) -> String {
    format!("{v:08x}")
}

/// Parses `0x…`, `…h` or plain hex.
pub fn parse_hex(text: &str) -> Option<u32> {
    let t = text
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X");
    let t = t.strip_suffix(['h', 'H']).unwrap_or(t);
    u32::from_str_radix(&t.replace('_', ""), 16).ok()
}

/// A file input's `change` handler: reads the picked file and hands its name and
/// bytes to `then`; a file that cannot be read is reported in the status line.
pub fn file_picker(ctx: &Ctx, then: impl Fn(&Ctx, &str, Vec<u8>) + 'static) -> Callback<Event> {
    let ctx = ctx.clone();
    let then = std::rc::Rc::new(then);
    Callback::from(move |e: Event| {
        let Some(file) = crate::storage::picked_file(&e) else {
            return;
        };
        let (ctx, then) = (ctx.clone(), then.clone());
        wasm_bindgen_futures::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                Ok(buf) => then(&ctx, &file.name(), js_sys::Uint8Array::new(&buf).to_vec()),
                Err(_) => ctx.dispatch(Action::Status(format!("could not read {}", file.name()))),
            }
        });
    })
}

/// A titled panel with a stable test id and an ARIA label.
#[derive(Properties, PartialEq, Debug)]
pub struct PanelProps {
    /// The `data-testid` (also the element id).
    pub id: AttrValue,
    /// The heading.
    pub title: AttrValue,
    /// A line that says what the panel shows, for newcomers.
    #[prop_or_default]
    pub hint: AttrValue,
    /// Extra CSS classes.
    #[prop_or_default]
    pub class: Classes,
    /// The panel's content.
    pub children: Html,
}

/// A titled panel.
#[function_component(Panel)]
pub fn panel(p: &PanelProps) -> Html {
    let ctx = use_ctx();
    let rank = crate::demos::focus_rank(&ctx.state, &p.id);
    let focus = match rank {
        None => classes!(),
        Some(None) => classes!("unfocused"),
        Some(Some(0)) => classes!("focused", "first"),
        Some(Some(_)) => classes!("focused"),
    };
    let style = rank.flatten().map(|i| format!("order: {i}"));
    // Focusable, so that a panel that scrolls can be scrolled from the keyboard.
    html! {
        <section class={classes!("panel", p.class.clone(), focus)} id={p.id.clone()} data-testid={p.id.clone()}
                 aria-label={p.title.clone()} tabindex="0" {style}>
            <h2 title={p.hint.clone()}>{ p.title.clone() }</h2>
            { p.children.clone() }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_parses_common_spellings() {
        assert_eq!(parse_hex("0x400000"), Some(0x40_0000));
        assert_eq!(parse_hex(" b8000h "), Some(0xb8000));
        assert_eq!(parse_hex("ffff_0000"), Some(0xffff_0000));
        assert_eq!(parse_hex("xyz"), None);
        assert_eq!(hex32(0xb8000), "000b8000");
    }
}
