//! The APIC pages as a CPU sees them (its own local APIC, the shared I/O APIC), the
//! delivery of IPIs, INIT and SIPI to the CPUs, and which controller interrupts a CPU.

use alloc::vec::Vec;

use crate::cpu::{Cpu, CS};
use crate::descriptor;
use crate::devices::apic::local::{reg, Written};
use crate::devices::apic::{page_of, ApicPage, Delivery, Icr, Redirect, Shorthand};
use crate::machine::Machine;
use crate::state::Segment;
use crate::vmm::ExitReason;

use super::APIC_IRQ;

impl Machine {
    /// A physical read that lands in an APIC page (`None` elsewhere).
    #[cold]
    pub(crate) fn apic_read(&mut self, addr: u32, size: u8) -> Option<u32> {
        let v = match page_of(addr)? {
            ApicPage::Local(off) => {
                let v = self.cpu.apic.read(off & !3, self.cpu.tsc);
                self.apic_exit(ExitReason::ApicAccess, || {
                    alloc::format!("read {off:#05x}: {v:#x}")
                });
                v
            }
            ApicPage::Io(off) => self.platform.io_apic().read(off & !3),
        };
        let v = v >> (8 * (addr & 3));
        Some(match size {
            1 => v & 0xff,
            2 => v & 0xffff,
            _ => v,
        })
    }

    /// A physical write that lands in an APIC page; false when it does not.
    #[cold]
    pub(crate) fn apic_write(&mut self, addr: u32, value: u32) -> bool {
        match page_of(addr) {
            Some(ApicPage::Local(off)) => {
                let reason = match off & !0xf {
                    reg::EOI => ExitReason::Eoi,
                    reg::ICR_LOW => ExitReason::Ipi,
                    _ => ExitReason::ApicAccess,
                };
                self.apic_exit(reason, || alloc::format!("write {off:#05x} := {value:#x}"));
                let now = self.cpu.tsc;
                match self.cpu.apic.write(off & !3, value, now) {
                    Written::Nothing => {}
                    Written::Ipi(icr) => self.send_ipi(icr),
                    Written::LevelEoi(v) => {
                        for r in self.platform.io_apic_mut().eoi(v) {
                            self.redirect(r);
                        }
                    }
                }
            }
            Some(ApicPage::Io(off)) => {
                if let Some(r) = self.platform.io_apic_mut().write(off & !3, value) {
                    self.redirect(r);
                }
            }
            None => return false,
        }
        self.refresh_platform();
        true
    }

    /// Under a VMM, an access to the local APIC page exits.
    fn apic_exit(&mut self, reason: ExitReason, action: impl FnOnce() -> alloc::string::String) {
        if reason != ExitReason::Ipi && self.apic_virtualized() {
            return; // the virtual-APIC page answers
        }
        let Some(mut vmm) = self.vmm.take() else {
            return;
        };
        vmm.apic_exit(&self.cpu.state, reason, action());
        self.settle_vmm(&mut vmm);
        self.vmm = Some(vmm);
    }

    /// Hardware assistance with APIC virtualization and posted interrupts is on.
    pub(crate) fn apic_virtualized(&self) -> bool {
        self.vmm.as_deref().is_some_and(|v| {
            v.controls.apic_virtualization && matches!(v.mode(), crate::ExecMode::HwAssist { .. })
        })
    }

    /// The CPUs whose local APIC a destination names.
    fn destinations(&self, logical: bool, dest: u8) -> Vec<usize> {
        self.cpus()
            .enumerate()
            .filter(|(_, c)| {
                if logical {
                    c.apic.matches_logical(dest)
                } else {
                    dest == 0xff || c.apic.id == dest
                }
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Sends the IPI the running CPU wrote to its ICR.
    fn send_ipi(&mut self, icr: Icr) {
        let me = self.current_cpu();
        let targets: Vec<usize> = match icr.shorthand {
            Shorthand::None => self.destinations(icr.logical, icr.dest),
            Shorthand::SelfOnly => alloc::vec![me],
            Shorthand::All => (0..self.cpu_count()).collect(),
            Shorthand::AllButSelf => (0..self.cpu_count()).filter(|&i| i != me).collect(),
        };
        self.counters.ipis += 1;
        let targets = if icr.delivery == Delivery::LowestPriority {
            targets.into_iter().take(1).collect()
        } else {
            targets
        };
        for t in targets {
            self.deliver_ipi(t, icr);
        }
    }

    /// Delivers one IPI to CPU `target`.
    fn deliver_ipi(&mut self, target: usize, icr: Icr) {
        let now = self.cpu.tsc;
        if matches!(icr.delivery, Delivery::Fixed | Delivery::LowestPriority) {
            self.host.note_ipi_vector(icr.vector);
        }
        let Some(c) = self.parked.get_mut(&mut self.cpu, target) else {
            return;
        };
        match icr.delivery {
            Delivery::Fixed | Delivery::LowestPriority => {
                c.apic.accept(icr.vector, icr.level);
                c.apic.ipis_received += 1;
            }
            Delivery::Init if icr.assert => {
                c.reset_keeping_tsc();
                c.state.tsc = c.state.tsc.max(now);
                c.apic.wait_for_sipi = true;
                c.state.halted = true;
            }
            Delivery::Startup => start_up(c, icr.vector),
            // INIT de-assert, SMI, NMI, ExtINT and reserved modes are not modelled
            _ => {}
        }
    }

    /// Delivers what the I/O APIC sent.
    fn redirect(&mut self, r: Redirect) {
        let targets = self.destinations(r.logical, r.dest);
        let targets = if r.delivery == 1 {
            targets.into_iter().take(1).collect()
        } else {
            targets
        };
        for t in targets {
            if let Some(c) = self.parked.get_mut(&mut self.cpu, t) {
                c.apic.accept(r.vector, r.level);
            }
        }
    }

    /// Delivers what device lines made the I/O APIC send.
    #[cold]
    pub(crate) fn deliver_io_apic(&mut self) {
        let sent = core::mem::take(&mut self.platform.io_apic_mut().outbox);
        for r in sent {
            self.redirect(r);
        }
    }

    /// Raises or lowers I/O APIC input `pin` (a device's interrupt line).
    pub fn set_io_apic_input(&mut self, pin: usize, level: bool) {
        if let Some(r) = self.platform.io_apic_mut().set_irq(pin, level) {
            self.redirect(r);
        }
        self.refresh_platform();
    }

    /// The 8259's INTR reaches the running CPU (CPU 0, its APIC passing it on).
    #[inline]
    pub(crate) fn pic_reaches_cpu(&self) -> bool {
        self.current_cpu() == 0 && self.cpu.apic.passes_pic()
    }

    /// Brings the running CPU's APIC timer up to now.
    pub(crate) fn advance_local_timer(&mut self) {
        let now = self.cpu.tsc;
        self.cpu.apic.advance(now);
    }

    /// The INTA cycle for the running CPU: its local APIC first, then the 8259 when
    /// it reaches this CPU. `(vector, irq)`, the irq being [`APIC_IRQ`] for the APIC.
    pub(crate) fn acknowledge_interrupt(&mut self) -> Option<(u8, u8)> {
        if let Some(v) = self.cpu.apic.acknowledge() {
            return Some((v, APIC_IRQ));
        }
        if self.pic_reaches_cpu() {
            return self.platform.acknowledge_interrupt();
        }
        None
    }
}

/// A start-up IPI: a CPU waiting for it starts in real mode at CS:IP = vector×0x100:0.
fn start_up(c: &mut Cpu, vector: u8) {
    if !c.apic.wait_for_sipi {
        return;
    }
    c.apic.wait_for_sipi = false;
    c.state.halted = false;
    for s in c.state.seg.iter_mut() {
        *s = Segment::real_mode(0);
    }
    c.state.seg[CS] = Segment::real_mode((vector as u16) << 8);
    c.state.seg[CS].attrs = descriptor::CODE_ATTRS;
    c.state.eip = 0;
}
