//! Hardware watchpoints (`Z2`/`Z3`/`Z4`): the memory the next instruction reads and
//! writes, decoded from the guest's bytes at CS:EIP before it runs.

use emulator_core::CpuState;
use iced_x86::{Decoder, DecoderOptions, InstructionInfoFactory, OpAccess, Register};

/// The kinds of watchpoint gdb asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `Z2`: a write.
    Write,
    /// `Z3`: a read.
    Read,
    /// `Z4`: a read or a write.
    Access,
}

impl Kind {
    /// The `Z` type number's kind.
    pub fn from_type(t: &str) -> Option<Kind> {
        match t {
            "2" => Some(Kind::Write),
            "3" => Some(Kind::Read),
            "4" => Some(Kind::Access),
            _ => None,
        }
    }

    /// The stop reply's key for a hit.
    fn reply_key(self) -> &'static str {
        match self {
            Kind::Write => "watch",
            Kind::Read => "rwatch",
            Kind::Access => "awatch",
        }
    }
}

/// A watched range of guest-linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watch {
    pub kind: Kind,
    pub addr: u32,
    pub len: u32,
}

/// One memory access of an instruction: its linear range and direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub addr: u32,
    pub len: u32,
    pub read: bool,
    pub write: bool,
}

/// The value of a register the address computation names (a segment's base for a
/// segment register).
fn register(c: &CpuState, r: Register) -> Option<u64> {
    let seg = |i: usize| Some(u64::from(c.seg[i].base));
    match r {
        Register::ES => seg(0),
        Register::CS => seg(1),
        Register::SS => seg(2),
        Register::DS => seg(3),
        Register::FS => seg(4),
        Register::GS => seg(5),
        _ if r.is_gpr32() => c.gpr.get(r.number()).map(|&v| u64::from(v)),
        _ if r.is_gpr16() => c.gpr.get(r.number()).map(|&v| u64::from(v & 0xffff)),
        _ => None,
    }
}

/// The memory the instruction in `code` (the bytes at CS:EIP) reads and writes (the
/// first element of a string instruction); empty when it does not decode.
pub fn accesses(c: &CpuState, code: &[u8]) -> Vec<Access> {
    let bitness = if c.seg[1].big() { 32 } else { 16 };
    let mut decoder = Decoder::with_ip(bitness, code, u64::from(c.eip), DecoderOptions::NONE);
    let insn = decoder.decode();
    if insn.is_invalid() {
        return Vec::new();
    }
    let mut factory = InstructionInfoFactory::new();
    factory
        .info(&insn)
        .used_memory()
        .iter()
        .filter_map(|u| {
            let (read, write) = match u.access() {
                OpAccess::Read | OpAccess::CondRead => (true, false),
                OpAccess::Write | OpAccess::CondWrite => (false, true),
                OpAccess::ReadWrite | OpAccess::ReadCondWrite => (true, true),
                _ => return None,
            };
            let addr = u.virtual_address(0, |r, _, _| register(c, r))?;
            Some(Access {
                addr: addr as u32,
                len: u.memory_size().size().max(1) as u32,
                read,
                write,
            })
        })
        .collect()
}

/// The stop reply for the first watchpoint the accesses touch.
pub fn hit(watches: &[Watch], accesses: &[Access]) -> Option<String> {
    watches.iter().find_map(|w| {
        let touched = accesses.iter().any(|a| {
            let overlap =
                a.addr < w.addr.wrapping_add(w.len) && w.addr < a.addr.wrapping_add(a.len);
            overlap
                && match w.kind {
                    Kind::Write => a.write,
                    Kind::Read => a.read,
                    Kind::Access => a.read || a.write,
                }
        });
        touched.then(|| format!("T05{}:{:08x};", w.kind.reply_key(), w.addr))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat32() -> CpuState {
        let mut m = emulator_core::Machine::new(Default::default()).unwrap();
        m.load_flat(0x10000, &[0x90], emulator_core::FlatEntry::Protected32)
            .unwrap();
        m.cpu().clone()
    }

    #[test]
    fn reads_and_writes_of_an_instruction() {
        let mut c = flat32();
        c.gpr[4] = 0x8000; // ESP
        c.gpr[3] = 0x2000; // EBX
                           // push eax: a 4-byte write below ESP
        assert_eq!(
            accesses(&c, &[0x50]),
            [Access {
                addr: 0x7ffc,
                len: 4,
                read: false,
                write: true
            }]
        );
        // add [ebx+4], ecx: a read-modify-write
        assert_eq!(
            accesses(&c, &[0x01, 0x4b, 0x04]),
            [Access {
                addr: 0x2004,
                len: 4,
                read: true,
                write: true
            }]
        );
        assert!(accesses(&c, &[0x0f, 0xff]).is_empty());
        let w = |kind| {
            [Watch {
                kind,
                addr: 0x2006,
                len: 2,
            }]
        };
        let read = [Access {
            addr: 0x2004,
            len: 4,
            read: true,
            write: false,
        }];
        assert_eq!(
            hit(&w(Kind::Read), &read).as_deref(),
            Some("T05rwatch:00002006;")
        );
        assert_eq!(
            hit(&w(Kind::Access), &read).as_deref(),
            Some("T05awatch:00002006;")
        );
        assert_eq!(hit(&w(Kind::Write), &read), None);
        let before = [Access {
            addr: 0x2002,
            len: 4,
            read: true,
            write: true,
        }];
        assert_eq!(hit(&w(Kind::Access), &before), None);
    }
}
