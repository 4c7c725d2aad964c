//! Stopping before compiled code: the VM stops where it would enter a region, the
//! frame loads into the JIT's machine with EIP at that pc's x86, the machine steps the
//! code instruction by instruction (each address mapping back to a bytecode of the
//! region), and the program then finishes with what `java` prints.

mod common;

use vmlab_jvm::{GcKind, Outcome, Vm, VmConfig};

fn vm<'s>(jit: u32, src: &'s common::Dir) -> Vm<'s> {
    Vm::new(
        src,
        "Loops",
        VmConfig {
            gc: GcKind::MarkSweep,
            jit_threshold: jit,
            ..VmConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("Loops: {e}"))
}

#[test]
fn the_vm_stops_before_compiled_code_and_its_machine_steps_the_x86() {
    let (want, _, _) = common::java("Loops");
    let src = common::Dir(common::classes().to_path_buf());
    let mut v = vm(50, &src);
    v.jit.stop_at_entry = true;
    assert_eq!(v.run(10_000_000).unwrap(), Outcome::Budget);
    let s = v.jit.staged.expect("stopped before compiled code");
    assert_eq!(v.jit.stats.compiled, 1);
    assert_eq!(v.jit.stats.entries, 0, "nothing ran compiled yet");
    let region = v.jit.regions[s.region].clone();
    assert!(region.title.starts_with("Loops.sumTo"), "{}", region.title);
    let top = v.frames.last().expect("a frame");
    assert_eq!(top.pc, s.pc, "the interpreter waits at the staged pc");
    let m = v.load_staged().unwrap().expect("staged");
    let eip = m.cpu().eip;
    assert_eq!(eip, region.pcs[&s.pc], "EIP at the x86 of the staged pc");
    let (first, last) = region.bytecode_pcs(eip).expect("a bytecode's x86");
    assert!((first..=last).contains(&s.pc), "{first}..={last}");
    assert_eq!(v.jit.region_at(eip).map(|(i, _)| i), Some(s.region));
    // Step the x86 one instruction at a time: every address is the region's, and the
    // bytecode pcs it passes through include a back edge.
    let mut seen = Vec::new();
    let m = v.jit_machine_mut().expect("the JIT's machine");
    for _ in 0..200 {
        m.step();
        let eip = m.cpu().eip;
        assert!(region.contains(eip), "EIP {eip:#x} left the region");
        if let Some((first, last)) = region.bytecode_pcs(eip) {
            seen.extend(first..=last);
        }
    }
    // The loop is inverted, so its back edge goes to the body, not to the staged pc:
    // the pcs go backwards somewhere.
    assert!(seen.windows(2).any(|w| w[1] < w[0]), "{seen:?}");
    assert!(seen.iter().any(|&p| p != s.pc), "{seen:?}");
    // The steps in the machine do not change the VM: the run enters the staged code
    // afresh. Stop at every entry, step a little each time, and finish.
    let mut stops = 1;
    loop {
        match v.run(10_000_000).unwrap() {
            Outcome::Budget => {
                assert!(v.jit.staged.is_some());
                stops += 1;
                assert!(stops < 100_000, "no progress");
                if let Some(m) = v.load_staged().unwrap() {
                    assert!(m.cpu().eip >= vmlab_jvm::jit::CODE_BASE);
                }
                if let Some(m) = v.jit_machine_mut() {
                    m.step();
                }
            }
            o => {
                assert_eq!(o, Outcome::Finished);
                break;
            }
        }
    }
    assert_eq!(v.stdout, want);
    assert!(stops > 10, "only {stops} entries");
    assert_eq!(v.jit.stats.entries as usize, stops);
}

#[test]
fn an_interpreted_step_drops_the_stage_and_nothing_is_staged_without_the_jit() {
    let src = common::Dir(common::classes().to_path_buf());
    let mut v = vm(50, &src);
    v.jit.stop_at_entry = true;
    v.run(10_000_000).unwrap();
    assert!(v.jit.staged.is_some());
    v.step().unwrap();
    assert!(v.jit.staged.is_none());
    assert!(v.load_staged().unwrap().is_none());
    assert_eq!(v.enter_staged(100).unwrap(), 0);
    let mut off = vm(0, &src);
    off.jit.stop_at_entry = true;
    assert_eq!(off.run(100_000_000).unwrap(), Outcome::Finished);
    assert!(off.jit.staged.is_none() && off.jit_machine_mut().is_none());
}
