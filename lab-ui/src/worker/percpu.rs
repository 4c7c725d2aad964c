//! Reading each CPU of the machine for the CPU strip and the APIC panel, through the
//! same side-effect-free probes as the single-CPU panels.

use emulator_core::devices::apic::local::{lvt, MASKED, PERIODIC};
use emulator_core::{ExecMode, Machine};

use super::collect;
use crate::smp::{vectors, CpuMode, CpuView, RunState, Smp, SmpView, TimerView};

/// Instructions each CPU's column disassembles.
const LINES: usize = 4;

/// The paging registers CPU `i` translates through: the guest's own (its virtual
/// CPU's under trap-and-emulate), as the single-CPU panels use them.
fn paging_of(m: &Machine, i: usize) -> (u32, u32, u32) {
    if let (ExecMode::TrapEmulate { .. }, Some(v)) = (m.config().mode, m.vmm()) {
        if let Some(c) = v.vcpu_at(i) {
            return (c.cr0, c.cr3, c.cr4);
        }
    }
    match m.cpu_at(i) {
        Some(c) => (c.state().cr0, c.state().cr3, c.state().cr4),
        None => collect::guest_paging(m),
    }
}

/// Every CPU of `m`, and the options it was built with.
pub fn smp_view(m: &Machine) -> SmpView {
    let now = m.cpu().tsc;
    let current = m.current_cpu();
    let cpus = m
        .cpus()
        .enumerate()
        .map(|(i, c)| {
            let s = c.state();
            let a = c.apic();
            let state = if a.wait_for_sipi {
                RunState::WaitSipi
            } else if s.halted {
                RunState::Halted
            } else {
                RunState::Running
            };
            let linear_eip = collect::linear_eip(s);
            let timer = a.lvt[lvt::TIMER];
            let mut tlb: Vec<u32> = c.tlb_entries().iter().map(|e| e.linear_page).collect();
            tlb.sort_unstable();
            tlb.dedup();
            CpuView {
                index: i,
                current: i == current,
                state,
                mode: CpuMode::of(s.cr0),
                cs: s.sreg(emulator_core::SegReg::Cs).selector,
                eip: s.eip,
                linear_eip,
                gpr: s.gpr,
                eflags: s.eflags,
                instructions: c.retired(),
                apic_id: a.id,
                apic_enabled: a.enabled(),
                tpr: a.tpr,
                irr: vectors(&a.irr),
                isr: vectors(&a.isr),
                ipis_received: a.ipis_received,
                timer: TimerView {
                    periodic: timer & PERIODIC != 0,
                    masked: timer & MASKED != 0,
                    vector: (timer & 0xff) as u8,
                    initial: a.initial_count,
                    current: a.current_count(now),
                    fired: a.timer_fired,
                },
                tlb,
                disasm: collect::disassemble_with(
                    m,
                    paging_of(m, i),
                    collect::code_bitness(s),
                    linear_eip,
                    LINES,
                ),
                tsc: m.tsc_of(i).unwrap_or_default(),
                host: m.host_state(i),
                spin: m.spin_instructions_of(i),
            }
        })
        .collect();
    SmpView {
        options: Smp {
            cpus: m.config().cpus.max(1),
            quantum: m.config().quantum,
            host: m.host_schedule(),
            tsc: m.tsc_policy(),
        },
        cpus,
        ipis: m.counters().ipis,
        tsc_drift: m.tsc_drift(),
        spin_instructions: m.counters().spin_instructions,
    }
}
