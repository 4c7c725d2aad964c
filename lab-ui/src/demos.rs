//! The lecture demos (folders under `demos/`, embedded by crate `vmlab-demos`) and
//! the worker commands that bring one to a step.

pub use vmlab_demos::{all, find, menu, Boot, Demo, ExitControlsSet, Panel, Run, Step};

use emulator_core::vmm::{ExitControls, ExitReason};

use crate::program::{Diag, Program};
use crate::protocol::{Command, CrossoverRun, Space, Until};
use crate::state::LabState;
use emulator_core::ExecMode;

/// Assembles a demo's guest `source` (its own, or the editor's text while the demo
/// is open) as the demo boots it: a flat binary, or a ROM ([`Program::into_rom`]).
pub fn assemble(source: &str, boot: Boot) -> Result<Program, Vec<Diag>> {
    let p = crate::assemble::assemble("demo.asm", source)?;
    match boot {
        Boot::Flat => Ok(p),
        Boot::Rom => p.into_rom().map_err(|message| {
            vec![Diag {
                line: 1,
                col: 1,
                message,
            }]
        }),
    }
}

/// The mode a demo starts in.
pub fn mode(demo: &Demo) -> ExecMode {
    demo.manifest.mode.parse::<ExecMode>().unwrap_or_default()
}

/// The mode step `upto` of `demo` runs in: `mode` unless a step up to it reran the
/// guest in a mode of its own (`mode = ...` in the manifest).
pub fn mode_at(demo: &Demo, upto: usize, mode: ExecMode) -> ExecMode {
    demo.manifest
        .step_mode(upto)
        .and_then(|m| m.parse::<ExecMode>().ok())
        .unwrap_or(mode)
}

/// A step's exit controls: those it names, the rest on (as the VMM starts).
pub fn exit_controls(set: &ExitControlsSet) -> ExitControls {
    let on = ExitControls::default();
    ExitControls {
        hlt: set.hlt.unwrap_or(on.hlt),
        io: set.io.unwrap_or(on.io),
        cr3_write: set.cr3_write.unwrap_or(on.cr3_write),
        cr0_cr4_write: set.cr0_cr4_write.unwrap_or(on.cr0_cr4_write),
        invlpg: set.invlpg.unwrap_or(on.invlpg),
        exceptions: set.exceptions.unwrap_or(on.exceptions),
        external_interrupts: set.external_interrupts.unwrap_or(on.external_interrupts),
        interrupt_window: set.interrupt_window.unwrap_or(on.interrupt_window),
        apic_virtualization: set.apic_virtualization.unwrap_or(on.apic_virtualization),
    }
}

/// The machine a demo runs on: its `cpus` and `quantum` (one CPU and the default
/// quantum when it names none), with no host schedule.
pub fn machine(demo: &Demo) -> crate::smp::Smp {
    let d = crate::smp::Smp::default();
    crate::smp::Smp {
        cpus: demo.manifest.cpu_count(),
        quantum: demo.manifest.quantum.unwrap_or(d.quantum),
        ..d
    }
}

/// [`machine`] with the host schedule step `upto` runs under (`host_slice`, `ple`,
/// `cosched`, and the steps' `host-schedule`).
pub fn machine_at(demo: &Demo, upto: usize) -> crate::smp::Smp {
    let h = demo.manifest.host_schedule_at(upto);
    crate::smp::Smp {
        host: emulator_core::smp::HostSchedule {
            slice: h.slice,
            cosched: h.cosched,
            ple_window: if h.ple {
                emulator_core::smp::DEFAULT_PLE_WINDOW
            } else {
                0
            },
        },
        ..machine(demo)
    }
}

/// The exit controls step `first` (which starts the guest) runs with: its own, on a
/// demo with `apicv` with APIC virtualization unless the step turns it off.
fn start_controls(demo: &Demo, first: usize) -> Option<ExitControls> {
    let set = demo.steps().get(first).and_then(|s| s.exit_controls);
    match (set, demo.manifest.apicv) {
        (Some(set), apicv) => Some(ExitControls {
            apic_virtualization: set.apic_virtualization.unwrap_or(apicv),
            ..exit_controls(&set)
        }),
        (None, true) => Some(ExitControls {
            apic_virtualization: true,
            ..ExitControls::default()
        }),
        (None, false) => None,
    }
}

/// The commands that load `program` in `mode` and bring it to step `upto` of
/// `demo`: every step's run from the start, then what step `upto` shows. A step
/// that sets a mode or exit controls reruns the guest from its start, so the
/// replay begins at the last such step.
pub fn commands(demo: &Demo, program: &Program, mode: ExecMode, upto: usize) -> Vec<Command> {
    let first = demo.manifest.rerun_at(upto).unwrap_or(0);
    let mut cmds = vec![
        Command::SetSmp(machine_at(demo, upto)),
        program.load_command(mode_at(demo, upto, mode)),
    ];
    if let Some(d) = disk_spec(demo) {
        cmds.push(Command::SetDisk(Some(d)));
    }
    // The TLB setting outlives reloads: steps before the rerun leave the last one
    // they chose; the replayed steps set theirs as they come.
    let tlb = |s: &vmlab_demos::Step| s.tlb.as_deref().and_then(|t| t.parse().ok());
    if let Some(t) = demo.steps().iter().take(first).rev().find_map(tlb) {
        cmds.push(Command::SetTlb(t));
    }
    if let Some(p) = demo
        .steps()
        .iter()
        .take(first)
        .rev()
        .find_map(|s| s.pt_protect)
    {
        cmds.push(Command::SetPtProtect(p));
    }
    // The tier also outlives reloads: the demo's, then the last one a step before the
    // rerun chose.
    let mut tier =
        crate::xlate::tier_of(demo.manifest.tier.as_deref(), demo.manifest.threshold, None);
    for s in demo.steps().iter().take(first) {
        tier = crate::xlate::tier_of(s.tier.as_deref(), s.threshold, tier).or(tier);
    }
    if let Some((tier, threshold)) = tier {
        cmds.push(Command::SetTier { tier, threshold });
    }
    if let Some(c) = start_controls(demo, first) {
        cmds.push(Command::SetExitControls(c));
    }
    for step in demo.steps().iter().take(upto + 1).skip(first) {
        if let Some(t) = tlb(step) {
            cmds.push(Command::SetTlb(t));
        }
        if let Some(p) = step.pt_protect {
            cmds.push(Command::SetPtProtect(p));
        }
        if let Some(t) = crate::xlate::tier_of(step.tier.as_deref(), step.threshold, tier) {
            tier = Some(t);
            cmds.push(Command::SetTier {
                tier: t.0,
                threshold: t.1,
            });
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
            Run::ToGc => {}
        }
        if let Some(name) = step.disk.as_ref().and_then(|d| d.snapshot.clone()) {
            cmds.push(Command::DiskSnapshot(name));
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
    if demo
        .steps()
        .get(upto)
        .is_some_and(|s| !s.crossover.is_empty())
    {
        cmds.push(Command::Crossover(crossover_runs(demo, program, mode)));
    }
    cmds
}

/// The disk a demo's `[disk]` attaches, if any.
pub fn disk_spec(demo: &Demo) -> Option<crate::diskview::DiskSpec> {
    let d = demo.manifest.disk.as_ref()?;
    Some(crate::diskview::DiskSpec {
        controller: crate::diskview::Controller::parse(&d.controller).ok()?,
        source: crate::diskview::DiskSource::Built {
            format: d.format.clone(),
            sectors: d.sectors,
            seed: d.seed,
            cluster_bits: d.cluster_bits(),
            backing: d.has_backing(),
        },
        virtio_service: d.virtio_service.unwrap_or_default(),
    })
}

/// The crossover's runs: one from each step that (re)starts the guest, stopping at
/// the labels the steps up to the next such step run to.
pub fn crossover_runs(demo: &Demo, program: &Program, mode: ExecMode) -> Vec<CrossoverRun> {
    let mut runs: Vec<CrossoverRun> = Vec::new();
    for (i, step) in demo.steps().iter().enumerate() {
        if i == 0 || step.mode.is_some() || step.exit_controls.is_some() {
            runs.push(CrossoverRun {
                mode: mode_at(demo, i, mode),
                controls: start_controls(demo, i),
                stops: Vec::new(),
            });
        }
        if let (Run::To(label), Some(run)) = (&step.run, runs.last_mut()) {
            if let Some(a) = program.symbol(label) {
                run.stops.push(a);
            }
        }
    }
    runs.retain(|r| !r.stops.is_empty());
    runs
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
    fn a_rom_demo_is_mapped_below_one_mib_and_starts_at_the_reset_vector() {
        let d = all()
            .iter()
            .find(|d| d.manifest.boot == Boot::Rom)
            .expect("a demo boots a ROM");
        let p = assemble(d.source, d.manifest.boot).expect("assembles");
        assert!(p.rom);
        assert_eq!(p.origin, 0x10_0000 - p.image.len() as u32);
        // the jump at F000:FFF0 is where the CPU fetches after reset
        assert_eq!(p.symbol("reset_vector"), Some(0xF_FFF0));
        assert!(p.line_of(0xF_FFF0).is_some(), "the source map moved too");
        assert!(matches!(
            p.load_command(ExecMode::default()),
            Command::LoadRom { .. }
        ));
        let mut s = crate::worker::session::Session::new(
            crate::worker::session::Loaded::rom(p.image.clone()).expect("a ROM's size"),
            ExecMode::default(),
        )
        .expect("loads");
        // the architectural reset: CS base FFFF0000, IP FFF0, the ROM's top copy
        assert_eq!(s.view(false).linear_eip, 0xFFFF_FFF0);
        let flat = assemble("bits 32\norg 0x10000\n    hlt\n", Boot::Rom).expect_err("too small");
        assert!(flat[0].message.contains("64 or 128 KiB"), "{flat:?}");
    }

    #[test]
    fn every_manifest_mode_is_a_machine_mode() {
        for name in vmlab_demos::manifest::MODES {
            let m = name.parse::<ExecMode>().expect(name);
            assert_eq!(m.name(), name);
        }
    }

    #[test]
    fn a_step_with_a_mode_or_exit_controls_reruns_the_guest() {
        let source = "bits 32\norg 0x10000\nstart:\n    mov esp, 0x90000\nthere:\n    hlt\n";
        let manifest = vmlab_demos::Manifest::parse(
            "title = \"t\"\norder = 1\nguest = \"g.asm\"\nmode = \"trap-emulate\"\n\
             [[step]]\ntitle = \"a\"\ntext = \"b\"\nrun = { to = \"there\" }\nfocus = [\"log\"]\n\
             [[step]]\ntitle = \"c\"\ntext = \"d\"\nmode = \"hw-assist-shadow\"\nexit-controls = { hlt = false }\nrun = \"to-end\"\nfocus = [\"log\"]\n\
             [[step]]\ntitle = \"e\"\ntext = \"f\"\ntranslate = 0x1000\nfocus = [\"log\"]\n",
        )
        .expect("parses");
        manifest.validate(source).expect("valid");
        let d = Demo {
            id: "t",
            source,
            manifest,
        };
        let p = crate::assemble::assemble("demo.asm", source).expect("assembles");
        let shadow = "hw-assist-shadow".parse::<ExecMode>().expect("a mode");
        assert_eq!(mode_at(&d, 0, mode(&d)), ExecMode::TRAP_EMULATE);
        assert_eq!(mode_at(&d, 2, mode(&d)), shadow);
        let cmds = commands(&d, &p, mode(&d), 2);
        assert_eq!(cmds[0], Command::SetSmp(crate::smp::Smp::default()));
        let cmds = &cmds[1..];
        assert!(matches!(cmds[0], Command::Load { mode, .. } if mode == shadow));
        let controls = ExitControls {
            hlt: false,
            ..ExitControls::default()
        };
        assert_eq!(
            cmds[1..],
            [
                Command::SetExitControls(controls),
                Command::Advance(Until::Stop),
                Command::Translate(0x1000)
            ]
        );
        let first = commands(&d, &p, mode(&d), 0);
        assert_eq!(first.len(), 3, "{first:?}");
    }

    #[test]
    fn machine_options_come_first_and_apicv_holds_until_a_step_turns_it_off() {
        let source = "bits 32\norg 0x10000\nstart:\n    nop\nthere:\n    hlt\n";
        let manifest = vmlab_demos::Manifest::parse(
            "title = \"t\"\norder = 1\nguest = \"g.asm\"\nmode = \"hw-assist\"\ncpus = 2\nquantum = 7\napicv = true\n\
             [[step]]\ntitle = \"a\"\ntext = \"b\"\nrun = { to = \"there\" }\nfocus = [\"cpus\"]\n\
             [[step]]\ntitle = \"c\"\ntext = \"d\"\nexit-controls = { apic-virtualization = false }\nfocus = [\"apic\"]\n\
             [[step]]\ntitle = \"e\"\ntext = \"f\"\nexit-controls = { hlt = false }\nfocus = [\"apic\"]\n",
        )
        .expect("parses");
        manifest.validate(source).expect("valid");
        let d = Demo {
            id: "t",
            source,
            manifest,
        };
        let p = crate::assemble::assemble("demo.asm", source).expect("assembles");
        let smp = crate::smp::Smp {
            cpus: 2,
            quantum: 7,
            ..crate::smp::Smp::default()
        };
        let apicv = |cmds: &[Command]| {
            cmds.iter().find_map(|c| match c {
                Command::SetExitControls(c) => Some(c.apic_virtualization),
                _ => None,
            })
        };
        let first = commands(&d, &p, mode(&d), 0);
        assert_eq!(first[0], Command::SetSmp(smp));
        assert!(matches!(first[1], Command::Load { .. }));
        assert_eq!(apicv(&first), Some(true), "{first:?}");
        assert_eq!(apicv(&commands(&d, &p, mode(&d), 1)), Some(false));
        assert_eq!(apicv(&commands(&d, &p, mode(&d), 2)), Some(true));
        assert_eq!(machine(find("ipi-shootdown").expect("a demo")).cpus, 2);
        assert_eq!(
            machine(find("page-walk").expect("a demo")),
            crate::smp::Smp::default()
        );
    }

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
        let cmds = commands(d, &p, ExecMode::Bare, 1)[1..].to_vec();
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
