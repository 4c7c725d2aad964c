//! The GDB commands vmlab answers while the guest is stopped: registers in gdb's
//! i386 layout, guest-linear memory, breakpoints, watchpoints and thread queries.

use emulator_core::{CpuState, Machine};

use super::watch::{Kind, Watch};
use crate::run_report;

/// What a packet asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer with this packet body.
    Reply(String),
    /// Resume: one instruction (`true`) or until something stops the guest.
    Resume { step: bool },
    /// gdb detached: the guest runs on without it.
    Detach,
    /// gdb killed the guest.
    Kill,
}

/// Longest memory read or write answered at once.
const MAX_MEM: usize = 0x1000;

fn error() -> Action {
    Action::Reply("E01".into())
}

fn ok() -> Action {
    Action::Reply("OK".into())
}

fn hex_u32(s: &str) -> Option<u32> {
    u32::from_str_radix(s, 16).ok()
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `addr,len` as numbers.
fn addr_len(s: &str) -> Option<(u32, usize)> {
    let (a, l) = s.split_once(',')?;
    Some((hex_u32(a)?, usize::try_from(hex_u32(l)?).ok()?))
}

/// gdb's i386 register order: eax ecx edx ebx esp ebp esi edi eip eflags cs ss ds
/// es fs gs, each 32 bits little-endian.
pub const REGS: usize = 16;
/// `CpuState::seg` indices (ES CS SS DS FS GS) for gdb's cs ss ds es fs gs.
const SEG_ORDER: [usize; 6] = [1, 2, 3, 0, 4, 5];

/// The register file the guest sees: under a VMM the guest's own view.
pub fn guest_state(m: &Machine) -> CpuState {
    run_report::guest_cpu(m).unwrap_or_else(|| m.cpu().clone())
}

/// Register `n` in gdb's numbering.
pub fn reg(c: &CpuState, n: usize) -> Option<u32> {
    Some(match n {
        0..=7 => c.gpr[n],
        8 => c.eip,
        9 => c.eflags,
        10..=15 => u32::from(c.seg[SEG_ORDER[n - 10]].selector),
        _ => return None,
    })
}

/// Writes register `n`. Segment registers cannot be reloaded from here: writing the
/// value they already hold is accepted, any other value refused. Under a VMM the
/// hardware keeps its own IF and IOPL.
fn set_reg(m: &mut Machine, n: usize, v: u32) -> Result<(), ()> {
    let keep = if m.vmm().is_some() {
        emulator_core::state::flags::IF | emulator_core::state::flags::IOPL
    } else {
        0
    };
    match n {
        0..=7 => m.cpu_mut().gpr[n] = v,
        8 => m.cpu_mut().eip = v,
        9 => {
            let c = m.cpu_mut();
            c.eflags = (v & !keep) | (c.eflags & keep);
        }
        10..=15 if u32::from(m.cpu().seg[SEG_ORDER[n - 10]].selector) == v => {}
        _ => return Err(()),
    }
    Ok(())
}

/// The guest's linear memory as the guest sees it (a side-effect-free probe of its
/// own page tables); stops at the first page that is not present.
pub fn read_mem(m: &Machine, addr: u32, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    for i in 0..len.min(MAX_MEM) {
        let Some(phys) = m.guest_physical(addr.wrapping_add(i as u32)) else {
            break;
        };
        let mut b = [0u8];
        m.peek_phys(phys, &mut b);
        out.push(b[0]);
    }
    out
}

fn write_mem(m: &mut Machine, addr: u32, bytes: &[u8]) -> Result<(), ()> {
    for (i, b) in bytes.iter().enumerate() {
        let phys = m.guest_physical(addr.wrapping_add(i as u32)).ok_or(())?;
        m.write_phys(phys, &[*b]).map_err(|_| ())?;
    }
    Ok(())
}

/// The state kept across packets.
#[derive(Default)]
pub struct Session {
    pub watches: Vec<Watch>,
    /// Instructions of the run's budget used so far.
    pub used: u64,
}

impl Session {
    /// Answers one packet body; a malformed one gets `E01`, an unknown one the
    /// empty reply.
    pub fn handle(&mut self, m: &mut Machine, packet: &[u8]) -> Action {
        let Ok(p) = std::str::from_utf8(packet) else {
            return error();
        };
        let reply = |s: &str| Action::Reply(s.into());
        match p {
            "?" => reply("S05"),
            "g" => {
                let c = guest_state(m);
                let bytes: Vec<u8> = (0..REGS)
                    .filter_map(|n| reg(&c, n))
                    .flat_map(u32::to_le_bytes)
                    .collect();
                Action::Reply(to_hex(&bytes))
            }
            "c" | "vCont;c" => Action::Resume { step: false },
            "s" | "vCont;s" => Action::Resume { step: true },
            "vCont?" => reply("vCont;c;s"),
            "k" => Action::Kill,
            "D" => Action::Detach,
            "qAttached" => reply("1"),
            "qfThreadInfo" => reply("m1"),
            "qsThreadInfo" => reply("l"),
            "qC" => reply("QC1"),
            _ => self.handle_with_args(m, p),
        }
    }

    fn handle_with_args(&mut self, m: &mut Machine, p: &str) -> Action {
        let (head, rest) = p.split_at(1);
        match head {
            "G" => self.write_regs(m, rest),
            "p" => match hex_u32(rest).and_then(|n| reg(&guest_state(m), n as usize)) {
                Some(v) => Action::Reply(to_hex(&v.to_le_bytes())),
                None => error(),
            },
            "P" => {
                let parsed = rest.split_once('=').and_then(|(n, v)| {
                    let b: [u8; 4] = hex_bytes(v)?.try_into().ok()?;
                    Some((hex_u32(n)? as usize, u32::from_le_bytes(b)))
                });
                match parsed.map(|(n, v)| set_reg(m, n, v)) {
                    Some(Ok(())) => ok(),
                    _ => error(),
                }
            }
            "m" => match addr_len(rest) {
                Some((a, l)) => {
                    let bytes = read_mem(m, a, l);
                    if bytes.is_empty() && l > 0 {
                        Action::Reply("E14".into())
                    } else {
                        Action::Reply(to_hex(&bytes))
                    }
                }
                None => error(),
            },
            "M" => {
                let parsed = rest
                    .split_once(':')
                    .and_then(|(al, data)| Some((addr_len(al)?, hex_bytes(data)?)));
                match parsed {
                    Some(((a, l), d)) if d.len() == l && write_mem(m, a, &d).is_ok() => ok(),
                    _ => error(),
                }
            }
            "c" | "s" => match hex_u32(rest) {
                Some(addr) => {
                    m.cpu_mut().eip = addr;
                    Action::Resume { step: head == "s" }
                }
                None => error(),
            },
            "H" | "T" => ok(),
            "Z" | "z" => self.point(m, head == "Z", rest),
            "q" if rest.starts_with("Supported") => Action::Reply("PacketSize=4000".into()),
            "v" if rest.starts_with("Cont;s") => Action::Resume { step: true },
            "v" if rest.starts_with("Cont;c") => Action::Resume { step: false },
            _ => Action::Reply(String::new()),
        }
    }

    fn write_regs(&mut self, m: &mut Machine, hex: &str) -> Action {
        let Some(bytes) = hex_bytes(hex) else {
            return error();
        };
        let saved = m.cpu().clone();
        for (n, chunk) in bytes.chunks_exact(4).take(REGS).enumerate() {
            let v = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if set_reg(m, n, v).is_err() {
                *m.cpu_mut() = saved;
                return error();
            }
        }
        ok()
    }

    /// `Z`/`z` `type,addr,kind`: breakpoints and write, read and access watchpoints.
    fn point(&mut self, m: &mut Machine, insert: bool, args: &str) -> Action {
        let mut parts = args.splitn(3, ',');
        let (Some(kind), Some(addr), Some(len)) = (parts.next(), parts.next(), parts.next()) else {
            return error();
        };
        let (Some(addr), Some(len)) = (hex_u32(addr), hex_u32(len)) else {
            return error();
        };
        match (kind, Kind::from_type(kind), insert) {
            ("0" | "1", _, true) => m.add_breakpoint(addr),
            ("0" | "1", _, false) => m.remove_breakpoint(addr),
            (_, Some(kind), true) if (1..=8).contains(&len) => {
                self.watches.push(Watch { kind, addr, len })
            }
            (_, Some(_), true) => return error(),
            (_, Some(kind), false) => self.watches.retain(|w| *w != Watch { kind, addr, len }),
            _ => return Action::Reply(String::new()),
        }
        ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator_core::{FlatEntry, MachineConfig};

    fn machine() -> Machine {
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        m.load_flat(0x10000, &[0x90, 0x90, 0xf4], FlatEntry::Protected32)
            .unwrap();
        m
    }

    fn reply(s: &mut Session, m: &mut Machine, p: &str) -> String {
        match s.handle(m, p.as_bytes()) {
            Action::Reply(r) => r,
            other => panic!("{p}: {other:?}"),
        }
    }

    #[test]
    fn registers_and_memory() {
        let mut m = machine();
        let mut s = Session::default();
        assert_eq!(reply(&mut s, &mut m, "P0=78563412"), "OK");
        assert_eq!(m.cpu().gpr[0], 0x12345678);
        assert_eq!(reply(&mut s, &mut m, "p0"), "78563412");
        assert_eq!(reply(&mut s, &mut m, "p8"), "00000100");
        let g = reply(&mut s, &mut m, "g");
        assert_eq!(g.len(), REGS * 8);
        assert_eq!(reply(&mut s, &mut m, &format!("G{g}")), "OK");
        assert_eq!(reply(&mut s, &mut m, "m10000,3"), "9090f4");
        assert_eq!(reply(&mut s, &mut m, "M10001,1:cc"), "OK");
        assert_eq!(reply(&mut s, &mut m, "m10000,2"), "90cc");
    }

    #[test]
    fn malformed_packets_get_errors() {
        let mut m = machine();
        let mut s = Session::default();
        for bad in [
            "m",
            "mzz,4",
            "M0,2:ab",
            "P",
            "P0=12",
            "p99",
            "Gabc",
            "Z0,1",
            "Z2,0,99",
            "Pb=00000000",
        ] {
            assert!(reply(&mut s, &mut m, bad).starts_with('E'), "{bad}");
        }
        assert_eq!(reply(&mut s, &mut m, "Z3,10000,4"), "OK");
        assert_eq!(reply(&mut s, &mut m, "z3,10000,4"), "OK");
        assert!(s.watches.is_empty());
        assert_eq!(reply(&mut s, &mut m, "Z9,10000,4"), "");
        assert_eq!(reply(&mut s, &mut m, "vMustReplyEmpty"), "");
        assert!(matches!(s.handle(&mut m, &[0xff]), Action::Reply(r) if r == "E01"));
    }
}
