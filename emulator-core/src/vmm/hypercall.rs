//! The paravirtual interface: how a guest finds vmlab's VMM and calls it.
//!
//! **Discovery** (as KVM and Xen guests do): CPUID leaf `0x4000_0000` returns
//! EAX = `0x4000_0001` (the highest hypervisor leaf) and the signature
//! `"vmlabvmlabvm"` in EBX, ECX, EDX; leaf `0x4000_0001` returns EAX = 1, the
//! interface version. CPUID always exits to the VMM (under trap-and-emulate
//! through CPUID faulting); on a bare machine the leaf holds no signature.
//!
//! **Calls**: `VMCALL` from the guest kernel with the number in EAX and
//! arguments in EBX, ECX; the result comes back in EAX (`0xFFFF_FFFF` for an
//! unknown call or a bad buffer). VMCALL from guest user mode is #UD.
//!
//! | EAX | call | arguments | result |
//! | --- | --- | --- | --- |
//! | 0 | version | | 1 |
//! | 1 | console write | EBX = buffer (guest-linear), ECX = length (at most 4096) | bytes written |
//! | 2 | interrupts off | | the previous interrupt flag (0/1) |
//! | 3 | interrupts restore | EBX = interrupt flag (0/1) | 0 |
//! | 4 | shutdown | EBX = exit status | does not return |
//! | 5 to 7 | the balloon (see [`super::balloon`]) | | |
//!
//! Calls 2 and 3 replace CLI/STI and the `pushf; cli; ... popf` idiom, whose POPF
//! a deprivileged kernel cannot use (see [`super::sensitive`]). The console write
//! sends the bytes to COM1's transmitter, as the guest's own driver would.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use iced_x86::Instruction;

use crate::state::{flags, CpuState};

use super::emulate::next_eip;
use super::exit::ExitReason;
use super::guest::{self, access};
use super::{format_instruction, Delivery, Vmm, VmmHost};

/// The signature in EBX, ECX, EDX of CPUID leaf 0x4000_0000.
pub const SIGNATURE: &[u8; 12] = b"vmlabvmlabvm";
/// Hypercall: interface version.
pub const HC_VERSION: u32 = 0;
/// Hypercall: write bytes to the console.
pub const HC_CONSOLE_WRITE: u32 = 1;
/// Hypercall: disable interrupts, return the previous flag.
pub const HC_IRQ_DISABLE: u32 = 2;
/// Hypercall: set the interrupt flag.
pub const HC_IRQ_RESTORE: u32 = 3;
/// Hypercall: stop the machine with an exit status.
pub const HC_SHUTDOWN: u32 = 4;
/// The longest console write.
pub const MAX_CONSOLE_WRITE: u32 = 4096;

fn sig_word(i: usize) -> u32 {
    let b = SIGNATURE;
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl Vmm {
    /// CPUID exit: the VMM answers the hypervisor leaves and passes the rest through.
    pub(crate) fn cpuid(&mut self, cpu: &mut CpuState, insn: &Instruction) -> Delivery {
        let leaf = cpu.gpr[0];
        let text = format_instruction(insn);
        match leaf {
            0x4000_0000 => {
                cpu.gpr[0] = 0x4000_0001;
                cpu.gpr[3] = sig_word(0);
                cpu.gpr[1] = sig_word(4);
                cpu.gpr[2] = sig_word(8);
            }
            0x4000_0001 => {
                cpu.gpr[0] = 1;
                cpu.gpr[3] = 0;
                cpu.gpr[1] = 0;
                cpu.gpr[2] = 0;
            }
            _ => {
                self.exit(
                    cpu,
                    ExitReason::Cpuid,
                    text,
                    format!("leaf {leaf:#x}: the hardware's answer, passed through"),
                );
                return Delivery::Native;
            }
        }
        cpu.eip = next_eip(cpu, insn);
        self.exit(
            cpu,
            ExitReason::Cpuid,
            text,
            format!("leaf {leaf:#x}: answered by the VMM (signature \"vmlabvmlabvm\")"),
        );
        Delivery::Done
    }

    fn interrupt_flag(&self, cpu: &CpuState) -> bool {
        if self.deprivileged() {
            self.vcpu.interrupt_flag
        } else {
            cpu.eflags & flags::IF != 0
        }
    }

    fn set_interrupt_flag(&mut self, cpu: &mut CpuState, on: bool) {
        if self.deprivileged() {
            self.set_virtual_if(cpu, on);
        } else if on {
            cpu.eflags |= flags::IF;
        } else {
            cpu.eflags &= !flags::IF;
        }
        if on {
            cpu.interrupt_shadow = true;
        }
    }

    /// VMCALL from the guest kernel.
    pub(crate) fn hypercall(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Delivery {
        let (nr, b, c) = (cpu.gpr[0], cpu.gpr[3], cpu.gpr[1]);
        let mut stop = None;
        let (result, action): (u32, String) = match nr {
            HC_VERSION => (1, String::from("version: 1")),
            HC_CONSOLE_WRITE => {
                let len = c.min(MAX_CONSOLE_WRITE);
                let mut buf = vec![0u8; len as usize];
                let regs = self.guest_paging(cpu);
                match guest::read_linear(host.mem(), regs, b, &mut buf, access::READ) {
                    Ok(()) => {
                        for byte in &buf {
                            if let Some(s) = host.port_out(0x3f8, 1, *byte as u32) {
                                stop = Some(s);
                            }
                        }
                        (len, format!("console write: {len} bytes to COM1"))
                    }
                    Err(e) => (u32::MAX, format!("console write: bad buffer ({e})")),
                }
            }
            HC_IRQ_DISABLE => {
                let was = self.interrupt_flag(cpu);
                self.set_interrupt_flag(cpu, false);
                (
                    was as u32,
                    format!("interrupts off (were {})", if was { "on" } else { "off" }),
                )
            }
            HC_IRQ_RESTORE => {
                let on = b & 1 != 0;
                self.set_interrupt_flag(cpu, on);
                (0, format!("interrupts {}", if on { "on" } else { "off" }))
            }
            HC_SHUTDOWN => {
                stop = host.port_out(0xf4, 1, b & 0xff);
                (0, format!("shutdown with status {}", b & 0xff))
            }
            super::balloon::HC_BALLOON_TARGET => (
                self.balloon.target,
                format!("balloon target: {} pages", self.balloon.target),
            ),
            super::balloon::HC_BALLOON_GIVE | super::balloon::HC_BALLOON_TAKE => {
                let give = nr == super::balloon::HC_BALLOON_GIVE;
                let (r, what) = self.balloon.call(give, b, self.ram_bytes);
                (r, format!("balloon {b:#x}: {what}"))
            }
            _ => (u32::MAX, format!("unknown hypercall {nr}")),
        };
        cpu.gpr[0] = result;
        cpu.eip = next_eip(cpu, insn);
        let text = format_instruction(insn);
        self.exit(cpu, ExitReason::Hypercall, text, action);
        match stop {
            Some(s) => Delivery::Stop(s),
            None => Delivery::Done,
        }
    }
}
