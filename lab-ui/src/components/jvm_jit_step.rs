//! Stepping into compiled code from the JIT view: runs the JVM to the next compile,
//! entry of compiled code or deopt, opens the JIT's machine (the staged frame loaded,
//! EIP at the compiled code) in the lab's registers, disassembly and memory panels,
//! where the usual controls step it, and says which bytecode EIP is in.

use std::cell::RefCell;
use std::rc::Rc;

use emulator_core::{ExecMode, FlatEntry};
use yew::prelude::*;

use super::Ctx;
use crate::protocol::Command;
use crate::state::Action;
use crate::worker::session::Loaded;
use crate::worker::snapfile::{self, MachineFile};
use vmlab_demos::jit_player::run_until;
use vmlab_jvm::Vm;

type Machine = Rc<RefCell<Option<Vm<'static>>>>;

/// The machine file of the JIT's machine with the staged frame loaded, and the
/// region it is in.
fn staged_file(vm: &mut Vm<'static>) -> Result<(usize, Vec<u8>), String> {
    let s = vm
        .jit
        .staged
        .ok_or("no compiled code is waiting: run to a compile or an entry first")?;
    if !s.loaded {
        vm.load_staged().map_err(|e| e.to_string())?;
    }
    let region = vm
        .jit
        .regions
        .get(s.region)
        .ok_or_else(|| format!("no compiled region {}", s.region))?;
    let m = vm.jit.machine_ref().ok_or("the JIT has no machine yet")?;
    let bytes = snapfile::encode(&MachineFile {
        program: Loaded {
            image: region.bytes.clone(),
            origin: region.base,
            entry: FlatEntry::Protected32,
            setup: None,
            rom: false,
        },
        mode: ExecMode::Bare,
        machine: m.snapshot(),
    })?;
    Ok((s.region, bytes))
}

/// Where the x86 being stepped is: the region and EIP. The lab's panels win once the
/// JIT's machine was opened there (region `opened`); else the staged frame's machine.
pub fn eip(ctx: &Ctx, opened: Option<usize>, m: &Vm) -> Option<(usize, u32)> {
    if let (Some(i), Some(view)) = (opened, ctx.state.view.as_ref()) {
        if m.jit
            .regions
            .get(i)
            .is_some_and(|r| r.contains(view.cpu.eip))
        {
            return Some((i, view.cpu.eip));
        }
    }
    let s = m.jit.staged.filter(|s| s.loaded)?;
    Some((s.region, m.jit.machine_ref()?.cpu().eip))
}

/// The buttons: run to the next compile, entry or deopt; open in the panels.
pub fn controls(
    ctx: &Ctx,
    vm: &Machine,
    opened: &UseStateHandle<Option<usize>>,
    error: &UseStateHandle<Option<String>>,
    redraw: Rc<dyn Fn()>,
) -> Html {
    let run_to = |until: &'static str| {
        let (vm, error, redraw) = (vm.clone(), error.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(m) = vm.borrow_mut().as_mut() {
                if let Err(e) = run_until(m, until) {
                    error.set(Some(e));
                }
            }
            redraw();
        })
    };
    let open = {
        let (vm, opened, error, ctx) = (vm.clone(), opened.clone(), error.clone(), ctx.clone());
        let redraw = redraw.clone();
        Callback::from(move |_: MouseEvent| {
            let Some(file) = vm.borrow_mut().as_mut().map(staged_file) else {
                return;
            };
            match file {
                Ok((region, bytes)) => {
                    ctx.dispatch(Action::Status(
                        "the JIT's machine is in the panels: step its x86 with Step".into(),
                    ));
                    ctx.send.emit(Command::LoadMachine(bytes));
                    opened.set(Some(region));
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
            redraw();
        })
    };
    let guard = vm.borrow();
    let staged = guard.as_ref().and_then(|m| m.jit.staged);
    let running = guard.as_ref().is_some_and(|m| !m.frames.is_empty());
    html! {
        <div class="row" data-testid="jvm-jit-step">
            <button data-testid="jvm-jit-to-compile" disabled={!running} onclick={run_to("compile")}
                title="run until the JIT compiles a region; stop before its code runs">{"Run to the next compile"}</button>
            <button data-testid="jvm-jit-to-entry" disabled={!running} onclick={run_to("entry")}
                title="run until compiled code is about to be entered">{"Run to the next entry"}</button>
            <button data-testid="jvm-jit-to-deopt" disabled={!running} onclick={run_to("deopt")}
                title="run until compiled code leaves for the interpreter in the middle of a method">{"Run to the next deopt"}</button>
            <button data-testid="jvm-jit-open" disabled={staged.is_none()} onclick={open}
                title="show the JIT's machine, the frame loaded, in the registers, disassembly and memory panels">{"Open in panels"}</button>
            <span class="small" data-testid="jvm-jit-staged">{
                match staged {
                    Some(s) => format!("compiled code waits at pc {}: the interpreter has not entered it yet", s.pc),
                    None => "no compiled code waits".to_string(),
                }
            }</span>
        </div>
    }
}
