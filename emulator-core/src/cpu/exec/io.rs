//! Port I/O: IN and OUT with the IOPL check and the TSS I/O permission bitmap; the port
//! accessors the string forms share.

use iced_x86::OpKind;

use crate::cpu::decode::Decoded;
use crate::cpu::{EAX, EDX};
use crate::error::Exception;
use crate::events::EventKind;
use crate::machine::Machine;
use crate::platform::IoEffect;
use crate::state::cr0;
use crate::stop::StopReason;

impl Machine {
    /// #GP(0) unless CPL <= IOPL or the TSS I/O bitmap allows every port of the access.
    pub(crate) fn io_permitted(&mut self, port: u16, size: u8) -> Result<(), Exception> {
        if self.cpu.cr0 & cr0::PE == 0 || (self.cpu.cpl <= self.cpu.iopl() && !self.cpu.v86()) {
            return Ok(());
        }
        let tr = self.cpu.tr;
        let gp = Exception::GeneralProtection(0);
        if !crate::descriptor::tss32(tr.attrs) || tr.limit < 0x67 {
            return Err(gp);
        }
        let map = self.read_lin(tr.base.wrapping_add(0x66), 2, 0)?;
        let first = map + port as u32 / 8;
        let last = map + (port as u32 + size as u32 - 1) / 8;
        if last > tr.limit {
            return Err(gp);
        }
        let bits = self.read_lin(
            tr.base.wrapping_add(first),
            2.min((last - first + 1) as u8),
            0,
        )?;
        let shift = port as u32 % 8;
        let mask = ((1u32 << size) - 1) << shift;
        if bits & mask != 0 {
            return Err(gp);
        }
        Ok(())
    }

    /// Reads a port (no permission check), recording the access.
    pub(crate) fn port_in(&mut self, port: u16, size: u8) -> u32 {
        let v = self.platform.io_read(port, size, self.cpu.tsc);
        self.counters.io += 1;
        self.log(EventKind::PortIo {
            port,
            size,
            value: v,
            write: false,
        });
        self.refresh_platform();
        v
    }

    /// Writes a port (no permission check), recording the access; a debug-exit write
    /// ends the run after this instruction.
    pub(crate) fn port_out(&mut self, port: u16, size: u8, v: u32) {
        self.counters.io += 1;
        self.log(EventKind::PortIo {
            port,
            size,
            value: v,
            write: true,
        });
        if let IoEffect::DebugExit(code) = self.platform.io_write(port, size, v, self.cpu.tsc) {
            self.stop = Some(StopReason::DebugExit(code));
        }
        // A queue notify: the device moves the data now, by DMA into guest RAM.
        let ram = u32::try_from(self.mem.ram_size()).unwrap_or(u32::MAX);
        self.platform.service_dma(&mut self.mem, ram);
        self.refresh_platform();
    }

    fn port_operand(&self, d: &Decoded, n: u32) -> u16 {
        match d.ins.op_kind(n) {
            OpKind::Immediate8 => d.ins.immediate8() as u16,
            _ => self.cpu.gpr[EDX] as u16,
        }
    }

    pub(super) fn op_in(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.ins.op0_register().size() as u8;
        let port = self.port_operand(d, 1);
        self.io_permitted(port, size)?;
        let v = self.port_in(port, size);
        self.gpr_write(EAX, size, v);
        Ok(())
    }

    pub(super) fn op_out(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.ins.op1_register().size() as u8;
        let port = self.port_operand(d, 0);
        self.io_permitted(port, size)?;
        let v = self.cpu.gpr[EAX] & crate::cpu::size_mask(size);
        self.port_out(port, size, v);
        Ok(())
    }
}
