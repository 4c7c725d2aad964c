//! Attaches the VMM to the machine: the hooks the CPU calls at its single
//! points of exception delivery, interrupt acceptance, instruction dispatch and
//! page walk, and the machine's memory, devices and TLB as the VMM's host.

use alloc::boxed::Box;
use iced_x86::Instruction;

use crate::error::Exception;
use crate::events::{Event, EventKind};
use crate::machine::Machine;
use crate::mmu::{self, PagingRegs};
use crate::state::flags;
use crate::stop::StopReason;

use super::guest::PhysMem;
use super::{Delivery, GuestEvent, Vmm, VmmHost};

impl VmmHost for Machine {
    fn mem(&mut self) -> &mut dyn PhysMem {
        &mut self.mem
    }
    fn port_in(&mut self, port: u16, size: u8) -> u32 {
        Machine::port_in(self, port, size)
    }
    fn port_out(&mut self, port: u16, size: u8, value: u32) -> Option<StopReason> {
        Machine::port_out(self, port, size, value);
        self.stop
    }
    fn flush_tlb(&mut self) {
        self.cpu.mmu.flush();
        self.note_tlb_invalidation();
    }
    fn invalidate_tlb(&mut self, linear: u32) {
        self.cpu.mmu.invalidate(linear);
        self.note_tlb_invalidation();
    }
}

impl Machine {
    /// The VMM this machine runs its guest under (`None` when bare).
    pub fn vmm(&self) -> Option<&Vmm> {
        self.vmm.as_deref()
    }

    /// The VMM, to change its exit controls or cost model.
    pub fn vmm_mut(&mut self) -> Option<&mut Vmm> {
        self.vmm.as_deref_mut()
    }

    /// The two-dimensional walk of `linear` under nested paging, every memory
    /// reference in order, as a side-effect-free probe (`None` unless the machine
    /// runs under hardware assistance with nested paging and the guest has paging on).
    pub fn nested_walk(&self, linear: u32) -> Option<super::nested::NestedWalk> {
        let v = self.vmm.as_deref()?;
        let nested = matches!(
            v.mode(),
            crate::config::ExecMode::HwAssist {
                paging: crate::config::GuestPaging::Nested
            }
        );
        if !nested || !self.cpu.paging() {
            return None;
        }
        let regs = PagingRegs::of(&self.cpu);
        Some(super::nested::NestedPaging::probe(
            regs,
            linear,
            &v.p2m,
            |a| self.mem.read_u32(a),
        ))
    }

    /// Where guest-linear `linear` lives in guest-physical memory: through the
    /// guest's own page tables (under trap-and-emulate the virtual CPU's CR0, CR3
    /// and CR4, whatever the shadow table holds yet); bare, the hardware's walk. A
    /// side-effect-free probe; `None` when the walk ends at a page that is not present.
    pub fn guest_physical(&self, linear: u32) -> Option<u32> {
        let Some(v) = self.vmm.as_deref() else {
            return self.translate(linear).physical;
        };
        let regs = v.guest_paging(&self.cpu);
        mmu::probe(&mut mmu::ReadOnly(|a| self.mem.read_u32(a)), regs, linear).physical
    }

    /// Where guest-linear `linear` lives in host-physical memory: its guest-physical
    /// address moved by the VMM's physical-to-machine map (under nested paging,
    /// the nested table's walk of it); bare, the guest-physical address itself.
    pub fn host_physical(&self, linear: u32) -> Option<u32> {
        let gpa = self.guest_physical(linear)?;
        let Some(v) = self.vmm.as_deref() else {
            return Some(gpa);
        };
        if let Some(w) = self.nested_walk(linear) {
            return w.host_physical;
        }
        Some(v.p2m.host_of(gpa))
    }

    /// Builds the VMM the configuration asks for.
    pub(crate) fn build_vmm(
        cfg: &crate::config::MachineConfig,
    ) -> Result<Option<Box<Vmm>>, crate::error::HostError> {
        Ok(Vmm::new(cfg)?.map(Box::new))
    }

    /// Whether an external interrupt may be taken now (the VMM's virtual IF for a
    /// deprivileged guest kernel, the hardware IF otherwise).
    #[inline]
    pub(crate) fn interrupts_enabled(&self) -> bool {
        match self.vmm.as_deref() {
            None => self.cpu.eflags & flags::IF != 0,
            Some(v) => v.interrupts_enabled(&self.cpu),
        }
    }

    /// The RAM address of `linear` when the TLB holds its page (no walk): under a
    /// VMM the TLB holds machine frames and, for the access, the guest-physical page
    /// the frame store holds.
    #[inline(always)]
    pub(crate) fn tlb_lookup(&mut self, linear: u32, acc: u8) -> Option<u32> {
        self.cpu.mmu.lookup(linear, acc, self.cpu.cr0)
    }

    /// A linear-to-physical translation through the TLB; on a miss the VMM's walk
    /// (shadow or nested) when it virtualizes paging, else the hardware's.
    #[inline(always)]
    pub(crate) fn translate_access(
        &mut self,
        regs: PagingRegs,
        linear: u32,
        acc: u8,
    ) -> Result<u32, Exception> {
        match self.vmm.as_deref_mut() {
            None => self.cpu.mmu.translate(&mut self.mem, regs, linear, acc),
            Some(vmm) => {
                let cpu = &self.cpu.state;
                let r = self.cpu.mmu.translate_with(
                    &mut self.mem,
                    regs,
                    linear,
                    acc,
                    |mem, regs, linear, acc| match vmm.translate(mem, cpu, linear, acc) {
                        Some(r) => r,
                        None => mmu::walk(mem, regs, linear, acc).map(|w| {
                            let fill = (vmm.p2m.host_of(w.frame()), w.frame(), w.tlb_bits());
                            vmm.protect_writes(mem, cpu, linear, fill, acc, false)
                        }),
                    },
                );
                let events = match vmm.has_events() {
                    true => vmm.take_events(),
                    false => alloc::vec::Vec::new(),
                };
                let stop = vmm.take_stop_request();
                let flush =
                    vmm.take_flush_request() | vmm.shadow.take_tlb_flush() | vmm.take_p2m_flush();
                for e in events {
                    self.record_event(Event {
                        icount: self.icount,
                        linear_eip: e.linear_eip,
                        kind: e.kind,
                    });
                }
                if stop && self.stop.is_none() {
                    self.stop = Some(StopReason::VmExit);
                }
                if flush {
                    self.cpu.mmu.flush();
                }
                r
            }
        }
    }

    /// Runs a VMM hook with the architectural EFLAGS materialised, then takes back
    /// the state it changed and its events.
    fn with_vmm(
        &mut self,
        f: impl FnOnce(&mut Vmm, &mut Machine, &mut crate::state::CpuState) -> Delivery,
    ) -> Delivery {
        let Some(mut vmm) = self.vmm.take() else {
            return Delivery::Native;
        };
        let mut cpu = self.cpu.state.clone();
        cpu.eflags = self.eflags();
        let d = f(&mut vmm, self, &mut cpu);
        let eflags = cpu.eflags;
        self.cpu.state = cpu;
        self.set_eflags(eflags);
        self.settle_vmm(&mut vmm);
        // an emulated HLT (or a halt the VMM ended) changes what the run loop watches
        self.update_attention();
        self.vmm = Some(vmm);
        d
    }

    /// Takes the VMM's events into the ring and acts on its stop and flush requests.
    pub(crate) fn settle_vmm(&mut self, vmm: &mut Vmm) {
        self.drain_vmm_events(vmm);
        if vmm.take_stop_request() && self.stop.is_none() {
            self.stop = Some(StopReason::VmExit);
        }
        if vmm.take_flush_request() {
            // no VPID/ASID: the exit and the entry back flush the TLB
            self.cpu.mmu.flush();
        }
    }

    fn drain_vmm_events(&mut self, vmm: &mut Vmm) {
        for e in vmm.take_events() {
            self.record_event(Event {
                icount: self.icount,
                linear_eip: e.linear_eip,
                kind: e.kind,
            });
        }
    }

    fn vmm_finish(&mut self, d: Delivery) -> bool {
        match d {
            Delivery::Native => false,
            Delivery::Fault(e) => {
                self.exception(e);
                true
            }
            Delivery::Done => true,
            Delivery::Stop(s) => {
                if s == StopReason::TripleFault {
                    self.log(EventKind::TripleFault);
                    self.cpu.halted = true;
                }
                self.stop = Some(s);
                true
            }
        }
    }

    /// Exception hook: `true` when the VMM took it (emulated or injected it).
    pub(crate) fn vmm_exception(&mut self, e: Exception) -> bool {
        if self.vmm.is_none() {
            return false;
        }
        let d = self.with_vmm(|v, m, cpu| v.intercept(m, cpu, GuestEvent::Exception(e)));
        let emulated = d != Delivery::Native
            && matches!(e, Exception::GeneralProtection(_))
            && self.vmm.as_deref().is_some_and(|v| v.last_emulated());
        if emulated {
            // the privileged instruction retired on the virtual CPU
            self.icount += 1;
        }
        self.vmm_finish(d)
    }

    /// The INTR line is up but the guest cannot take the interrupt: under hardware
    /// assistance the VMM may set interrupt-window exiting ([`Vmm::interrupt_held`]).
    pub(crate) fn vmm_interrupt_held(&mut self) {
        if self.vmm.as_deref().is_some_and(Vmm::arms_window) {
            self.with_vmm(|v, _, cpu| {
                v.interrupt_held(cpu);
                Delivery::Native
            });
        }
    }

    /// External-interrupt hook: `true` when the VMM injected it.
    pub(crate) fn vmm_external(&mut self, vector: u8) -> bool {
        if self.vmm.is_none() {
            return false;
        }
        let d = self.with_vmm(|v, m, cpu| v.intercept(m, cpu, GuestEvent::External { vector }));
        self.vmm_finish(d)
    }

    /// Software-interrupt hook: `Some` when the VMM delivered it, or the fault its
    /// delivery raised (which the CPU then raises at the INT instruction).
    pub(crate) fn vmm_software(&mut self, vector: u8) -> Option<Result<(), Exception>> {
        self.vmm.as_ref()?;
        let d = self.with_vmm(|v, m, cpu| v.intercept(m, cpu, GuestEvent::Software { vector }));
        match d {
            Delivery::Fault(e) => Some(Err(e)),
            d => self.vmm_finish(d).then_some(Ok(())),
        }
    }

    /// Instruction hook, before dispatch with EIP at the instruction: `true` when the
    /// VMM executed it (it retires as one instruction).
    pub(crate) fn vmm_before_execute(&mut self, insn: &Instruction) -> bool {
        match self.vmm.as_deref() {
            Some(v) if v.interested(&self.cpu, insn) => {}
            _ => return false,
        }
        let d = self.with_vmm(|v, m, cpu| v.before_execute(m, cpu, insn));
        // an instruction that faults does not retire
        if !matches!(d, Delivery::Native | Delivery::Fault(_)) {
            self.icount += 1;
        }
        self.vmm_finish(d)
    }
}
