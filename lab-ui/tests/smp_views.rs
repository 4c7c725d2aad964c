//! The lab's multiprocessor machine: the CPU options hold across reloads and machine
//! files, the CPU strip follows each CPU, and stepping back restores every CPU.

use emulator_core::ExecMode;
use lab_ui::demos;
use lab_ui::protocol::{Until, ADVANCE_BUDGET};
use lab_ui::smp::{CpuMode, CpuView, RunState, Smp};
use lab_ui::worker::session::{Loaded, Session};

/// The AP start-up demo's guest on a machine of `cpus` CPUs.
fn session(cpus: u32) -> (Session, lab_ui::program::Program) {
    let d = demos::find("ap-startup").expect("the demo");
    let p = demos::assemble(d.source, d.manifest.boot).expect("assembles");
    let loaded = Loaded::flat(&p);
    let smp = Smp {
        cpus,
        quantum: 100,
        ..Smp::default()
    };
    let s = Session::with_smp(loaded, ExecMode::Bare, smp).expect("loads");
    (s, p)
}

/// What a CPU's column shows of its architectural state.
fn arch(c: &CpuView) -> (RunState, CpuMode, u16, u32, [u32; 8], u32) {
    (c.state, c.mode, c.cs, c.eip, c.gpr, c.eflags)
}

#[test]
fn the_strip_follows_each_cpu_from_reset_to_halt() {
    let (mut s, p) = session(2);
    let v = s.view(false);
    assert_eq!(
        v.smp.options,
        Smp {
            cpus: 2,
            quantum: 100,
            ..Smp::default()
        }
    );
    let states: Vec<RunState> = v.smp.cpus.iter().map(|c| c.state).collect();
    assert_eq!(states, [RunState::Running, RunState::WaitSipi]);
    assert!(v.smp.cpus[0].current && !v.smp.cpus[1].current);
    assert_eq!(
        v.smp.cpus[0].linear_eip, v.linear_eip,
        "CPU 0 is the one shown"
    );
    s.advance(Until::Stop, ADVANCE_BUDGET);
    let v = s.view(false);
    assert_eq!(v.stop, "halted");
    assert!(
        v.serial_append.contains("started 1 time(s)"),
        "{}",
        v.serial_append
    );
    let states: Vec<RunState> = v.smp.cpus.iter().map(|c| c.state).collect();
    assert_eq!(states, [RunState::Halted, RunState::Halted]);
    let ap = &v.smp.cpus[1];
    assert_eq!((ap.mode, ap.cs), (CpuMode::Protected, 0x08));
    assert_eq!(Some(ap.linear_eip), p.symbol("ap_halt").map(|a| a + 1));
    assert!(ap.instructions > 0 && v.smp.cpus[0].instructions > ap.instructions);
    assert_eq!(
        v.smp.cpus.iter().map(|c| c.instructions).sum::<u64>(),
        v.icount,
        "every instruction retired on one CPU"
    );
    let halt = p.symbol("ap_halt").expect("label");
    let next = &ap.disasm[0].text;
    assert!(
        next.starts_with("jmp") && next.contains(&format!("{halt:x}")),
        "CPU 1's next instruction jumps back to its HLT: {next}"
    );
}

#[test]
fn stepping_back_restores_every_cpu_and_the_options_hold_across_reloads() {
    let (mut s, p) = session(2);
    let flat = p.symbol("ap_flat").expect("label");
    s.advance(Until::Linear(flat), ADVANCE_BUDGET);
    let at = s.view(false);
    assert!(
        at.smp.cpus.iter().all(|c| c.state == RunState::Running) && !at.smp.cpus[0].current,
        "both CPUs run by now, CPU 1 in its turn: {:?}",
        at.smp.cpus.iter().map(|c| c.state).collect::<Vec<_>>()
    );
    s.step();
    assert!(s.step_back().expect("a checkpoint"));
    let back = s.view(false);
    assert_eq!(back.icount, at.icount);
    let cols = |v: &lab_ui::protocol::View| v.smp.cpus.iter().map(arch).collect::<Vec<_>>();
    assert_eq!(cols(&back), cols(&at));
    // a machine file keeps both CPUs and the quantum
    let file = s.to_file().expect("saves");
    let mut loaded = Session::from_file(&file).expect("loads");
    assert_eq!(
        loaded.smp(),
        Smp {
            cpus: 2,
            quantum: 100,
            ..Smp::default()
        }
    );
    assert_eq!(cols(&loaded.view(false)), cols(&at));
    // fewer CPUs: a reload on one CPU, which the options keep
    s.set_smp(Smp {
        cpus: 1,
        quantum: 10,
        ..Smp::default()
    })
    .expect("reloads");
    let one = s.view(false);
    assert_eq!((one.icount, one.smp.cpus.len()), (0, 1));
    s.reload(ExecMode::HW_ASSIST).expect("reloads");
    assert_eq!(
        s.view(false).smp.options,
        Smp {
            cpus: 1,
            quantum: 10,
            ..Smp::default()
        }
    );
}
