//! Several CPUs in one machine: each keeps its registers, flags, TLB and caches,
//! memory is shared, and switching CPUs resumes each where it stopped.

mod common;

use emulator_core::{FlatEntry, Machine, MachineConfig, StopReason};

const ZF: u32 = 1 << 6;
const EBX: usize = 3;

fn machine() -> Machine {
    let bin = common::assemble("emulator-core/tests/asm/cpus.asm", &["ITER=1000"]);
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(0x1000, &bin, FlatEntry::Protected32).unwrap();
    m
}

fn shared_counter(m: &Machine) -> u32 {
    let mut b = [0u8; 4];
    m.peek_phys(0x3000, &mut b);
    u32::from_le_bytes(b)
}

#[test]
fn a_machine_has_one_cpu_by_default() {
    let mut m = machine();
    assert_eq!(m.cpu_count(), 1);
    assert_eq!(m.cpus().count(), 1);
    assert_eq!(m.current_cpu(), 0);
    assert_eq!(m.cpu_at(0).map(|c| c.state()), Some(m.cpu()));
    assert!(m.cpu_at(1).is_none());
    assert!(!m.switch_cpu(1), "there is no CPU 1");
    assert!(m.switch_cpu(0));
    assert_eq!(m.run(10_000), StopReason::Halted);
    assert_eq!(shared_counter(&m), 1000);
}

#[test]
fn cpus_share_memory_and_keep_their_own_state() {
    let mut m = machine();
    let start = m.cpu().clone();
    assert_eq!(m.add_cpu(), 1);
    assert_eq!(m.cpu_count(), 2);

    // CPU 0 runs part of its loop and is parked mid-way.
    assert_eq!(m.run(1201), StopReason::BudgetExhausted);
    let cpu0 = m.cpu().clone();
    assert_eq!(cpu0.gpr[EBX], 300);

    // CPU 1 starts the same code from the start and runs it to the end.
    assert!(m.switch_cpu(1));
    assert_eq!(m.current_cpu(), 1);
    assert_eq!(m.cpu().eip, 0xfff0, "a new CPU is in the RESET state");
    *m.cpu_mut() = start.clone();
    assert_eq!(m.run(100_000), StopReason::Halted);
    assert_eq!(m.cpu().gpr[EBX], 1000);
    assert_ne!(m.cpu().eflags & ZF, 0, "CPU 1 ended with its CMP equal");
    assert_eq!(shared_counter(&m), 1300, "CPU 1 saw CPU 0's increments");
    assert_eq!(
        m.cpu_at(0).map(|c| c.state().clone()),
        Some(cpu0.clone()),
        "the parked CPU 0 is untouched"
    );

    // CPU 0 resumes where it stopped, with its own registers and flags.
    assert!(m.switch_cpu(0));
    let tsc1 = m.cpu_at(1).unwrap().state().tsc;
    assert_eq!(
        m.cpu().tsc,
        tsc1,
        "the machine's clock went on while CPU 1 ran"
    );
    let resumed = emulator_core::CpuState {
        tsc: cpu0.tsc,
        ..m.cpu().clone()
    };
    assert_eq!(resumed, cpu0);
    assert_eq!(m.run(100_000), StopReason::Halted);
    assert_eq!(m.cpu().gpr[EBX], 1000);
    assert_ne!(m.cpu().eflags & ZF, 0);
    assert_eq!(shared_counter(&m), 2000);
    let states: Vec<u32> = m.cpus().map(|c| c.state().gpr[EBX]).collect();
    assert_eq!(states, [1000, 1000]);
}

#[test]
fn each_cpu_has_its_virtual_cpu_under_a_vmm() {
    let cfg = MachineConfig {
        mode: emulator_core::ExecMode::HwAssist {
            paging: emulator_core::GuestPaging::Nested,
        },
        ..MachineConfig::default()
    };
    let mut m = Machine::new(cfg).unwrap();
    let fresh = m.vmm().unwrap().vcpu.clone();
    assert_eq!(m.add_cpu(), 1);
    assert_eq!(m.vmm().unwrap().vcpu_at(1), Some(&fresh));
    m.vmm_mut().unwrap().vcpu.cr3 = 0x1234_5000;
    assert!(m.switch_cpu(1));
    let v = m.vmm().unwrap();
    assert_eq!(v.vcpu, fresh, "CPU 1's virtual CPU is its own");
    assert_eq!(v.vcpu_at(0).map(|c| c.cr3), Some(0x1234_5000));
    assert!(m.switch_cpu(0));
    assert_eq!(m.vmm().unwrap().vcpu.cr3, 0x1234_5000);
    assert!(m.vmm().unwrap().vcpu_at(2).is_none());
}

#[test]
fn a_snapshot_holds_every_cpu_and_older_ones_still_load() {
    let mut m = machine();
    let start = m.cpu().clone();
    m.add_cpu();
    assert_eq!(m.run(601), StopReason::BudgetExhausted);
    assert!(m.switch_cpu(1));
    *m.cpu_mut() = start;
    assert_eq!(m.run(401), StopReason::BudgetExhausted);
    let snap = m.snapshot();
    assert_eq!(snap.cpu_count(), 2);

    // The original runs on: CPU 1 to its end, then CPU 0.
    let finish = |m: &mut Machine| {
        assert_eq!(m.run(100_000), StopReason::Halted);
        assert!(m.switch_cpu(0));
        assert_eq!(m.run(100_000), StopReason::Halted);
        let regs: Vec<_> = m.cpus().map(|c| c.state().clone()).collect();
        (regs, shared_counter(m), m.icount())
    };
    let want = finish(&mut m);
    assert_eq!(want.1, 2000);

    // A one-CPU machine restored from it has both CPUs, CPU 1 running.
    let mut r = Machine::new(MachineConfig::default()).unwrap();
    r.restore(&snap).unwrap();
    assert_eq!((r.cpu_count(), r.current_cpu()), (2, 1));
    assert_eq!(finish(&mut r), want);

    // A snapshot written before machines had several CPUs has neither field.
    let mut one = machine();
    assert_eq!(one.run(700), StopReason::BudgetExhausted);
    let mut json = serde_json::to_value(one.snapshot()).unwrap();
    let fields = json.as_object_mut().unwrap();
    assert!(fields.remove("parked").is_some() && fields.remove("running").is_some());
    let old: emulator_core::Snapshot = serde_json::from_value(json).unwrap();
    let mut back = machine();
    back.add_cpu();
    back.restore(&old).unwrap();
    assert_eq!(back.cpu_count(), 1);
    assert_eq!(back.cpu(), one.cpu());
    assert_eq!(back.run(100_000), one.run(100_000));
    assert_eq!(shared_counter(&back), 1000);
}
