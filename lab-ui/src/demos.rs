//! The lecture demos (folders under `demos/`, embedded by crate `vmlab-demos`) and
//! the worker commands that bring one to a step.

pub use vmlab_demos::{all, find, Demo, Panel, Run, Step};

use emulator_core::vmm::ExitReason;

use crate::program::Program;
use crate::protocol::{Command, Space, Until};
use crate::state::LabState;
use emulator_core::ExecMode;

/// The mode a demo starts in.
pub fn mode(demo: &Demo) -> ExecMode {
    demo.manifest.mode.parse::<ExecMode>().unwrap_or_default()
}

/// The commands that load `program` in `mode` and bring it to step `upto` of
/// `demo`: every step's run from the start, then what step `upto` shows.
pub fn commands(demo: &Demo, program: &Program, mode: ExecMode, upto: usize) -> Vec<Command> {
    let mut cmds = vec![program.load_command(mode)];
    for step in demo.steps().iter().take(upto + 1) {
        if let Some(t) = step.tlb.as_deref().and_then(|t| t.parse().ok()) {
            cmds.push(Command::SetTlb(t));
        }
        match &step.run {
            Run::Look => {}
            Run::Instructions(n) => cmds.push(Command::Advance(Until::Steps(*n))),
            Run::To(label) => {
                if let Some(a) = program.symbol(label) {
                    cmds.push(Command::Advance(Until::Linear(a)));
                }
            }
            Run::ToTrap => cmds.push(Command::Advance(Until::Trap)),
            Run::ToExit(name) => {
                if let Some(r) = exit_reason(name) {
                    cmds.push(Command::Advance(Until::Exit(r)));
                }
            }
            Run::ToEnd => cmds.push(Command::Advance(Until::Stop)),
        }
        if let Some(a) = step.translate {
            cmds.push(Command::Translate(a));
        }
        if let Some(m) = step.memory {
            let space = match m.space {
                vmlab_demos::Space::Physical => Space::Physical,
                vmlab_demos::Space::Linear => Space::Linear,
            };
            cmds.push(Command::ShowMemory {
                addr: m.addr,
                space,
            });
        }
    }
    if demo.steps().get(upto).is_some_and(|s| s.compare) {
        cmds.push(Command::Compare);
    }
    cmds
}

/// The VM-exit reason a manifest names (`page-fault`, `cr3-write`…).
pub fn exit_reason(name: &str) -> Option<ExitReason> {
    ExitReason::ALL.into_iter().find(|r| r.name() == name)
}

/// In presentation mode with a demo open: the panels its step is about.
pub fn focus(state: &LabState) -> Option<&'static [Panel]> {
    if !state.presentation {
        return None;
    }
    let (d, i) = state.demo?;
    d.steps().get(i).map(|s| s.focus.as_slice())
}

/// Where the panel with `testid` goes when a step names its panels: `None` without
/// focus, `Some(None)` when the step leaves it out, `Some(Some(rank))` when it names
/// it (rank 0 first).
pub fn focus_rank(state: &LabState, testid: &str) -> Option<Option<usize>> {
    focus(state).map(|f| f.iter().position(|p| p.testid() == testid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demos_start_in_their_modes_and_steps_replay_from_a_load() {
        assert!(all().len() >= 7);
        for d in all() {
            assert_eq!(
                Some(mode(d)),
                d.manifest.mode.parse::<ExecMode>().ok(),
                "{}: the mode switch knows its mode",
                d.id
            );
        }
        let d = find("nested-paging").expect("a demo");
        assert_eq!(mode(d), ExecMode::HW_ASSIST);
        let p = crate::assemble::assemble("demo.asm", d.source).expect("assembles");
        let cmds = commands(d, &p, ExecMode::Bare, 1);
        assert!(matches!(
            cmds[0],
            Command::Load {
                mode: ExecMode::Bare,
                ..
            }
        ));
        let on = p.symbol("paging_on").expect("label");
        let mut state = LabState::default();
        state.apply(crate::state::Action::OpenDemo(d));
        assert_eq!(focus(&state), None, "only presentation mode focuses");
        state.presentation = true;
        assert_eq!(
            focus_rank(&state, Panel::Pagetables.testid()),
            Some(Some(1))
        );
        assert_eq!(focus_rank(&state, "panel-editor"), Some(None));
        assert_eq!(
            cmds[1..],
            [
                Command::Advance(Until::Linear(on)),
                Command::Translate(0x40_0000)
            ]
        );
    }
}
