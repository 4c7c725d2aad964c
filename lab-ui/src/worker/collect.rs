//! Reading the machine for the page through side-effect-free probes: disassembly,
//! memory, page tables, walks, TLB, counters, events, VGA.

use emulator_core::mmu::{self, PageWalk, PagingRegs};
use emulator_core::VgaText;
use emulator_core::{CpuState, Event, EventKind, ExecMode, GuestPaging, Machine, SegReg};
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use crate::protocol::{
    CounterSet, DisasmLine, LogEntry, MemoryView, Space, TableEntry, TableTree, VmmCounters, Walk,
    WalkStep,
};

/// CS base + EIP.
pub fn linear_eip(cpu: &CpuState) -> u32 {
    cpu.sreg(SegReg::Cs).base.wrapping_add(cpu.eip)
}

/// 16 or 32, from CS's D bit (real mode is 16).
pub fn code_bitness(cpu: &CpuState) -> u32 {
    if cpu.protected_mode() && cpu.sreg(SegReg::Cs).big() {
        32
    } else {
        16
    }
}

/// The probe walk of `linear` through the guest's own tables (the virtual CPU's
/// under trap-and-emulate): no A/D bits, no TLB fill.
pub fn guest_probe(m: &Machine, linear: u32) -> PageWalk {
    probe_with(m, guest_paging(m), linear)
}

/// The probe walk of `linear` with paging registers `(cr0, cr3, cr4)` (one CPU's).
pub fn probe_with(m: &Machine, (cr0, cr3, cr4): (u32, u32, u32), linear: u32) -> PageWalk {
    let read = |addr: u32| {
        let mut b = [0u8; 4];
        m.peek_phys(addr, &mut b);
        u32::from_le_bytes(b)
    };
    mmu::probe(
        &mut mmu::ReadOnly(read),
        PagingRegs { cr0, cr3, cr4 },
        linear,
    )
}

/// The guest-physical address of `linear` through the guest's own tables, without
/// touching A/D bits or the TLB.
pub fn guest_translate(m: &Machine, linear: u32) -> Option<u32> {
    guest_probe(m, linear).physical
}

/// Reads linear memory as the guest sees it, page by page; `false` when a page is
/// not mapped by the guest.
pub fn guest_peek_linear(m: &Machine, linear: u32, buf: &mut [u8]) -> bool {
    peek_linear_with(m, guest_paging(m), linear, buf)
}

/// [`guest_peek_linear`] through paging registers `(cr0, cr3, cr4)` (one CPU's).
pub fn peek_linear_with(m: &Machine, paging: (u32, u32, u32), linear: u32, buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        let addr = linear.wrapping_add(done as u32);
        let in_page = (0x1000 - (addr & 0xfff)) as usize;
        let len = in_page.min(buf.len() - done);
        let Some(phys) = probe_with(m, paging, addr).physical else {
            return false;
        };
        m.peek_phys(phys, &mut buf[done..done + len]);
        done += len;
    }
    true
}

/// Decodes `count` instructions from `linear`; unreadable bytes end the listing.
pub fn disassemble(m: &Machine, linear: u32, count: usize) -> Vec<DisasmLine> {
    disassemble_with(m, guest_paging(m), code_bitness(m.cpu()), linear, count)
}

/// [`disassemble`] as a CPU with paging registers `(cr0, cr3, cr4)` running
/// `bits`-bit code sees it.
pub fn disassemble_with(
    m: &Machine,
    paging: (u32, u32, u32),
    bits: u32,
    linear: u32,
    count: usize,
) -> Vec<DisasmLine> {
    let mut bytes = vec![0u8; count * 15];
    let mut readable = 0;
    // Read page by page so that a mapped page before an unmapped one still shows.
    while readable < bytes.len() {
        let addr = linear.wrapping_add(readable as u32);
        let in_page = (0x1000 - (addr & 0xfff)) as usize;
        let len = in_page.min(bytes.len() - readable);
        if !peek_linear_with(m, paging, addr, &mut bytes[readable..readable + len]) {
            break;
        }
        readable += len;
    }
    bytes.truncate(readable);
    let mut decoder = Decoder::with_ip(bits, &bytes, u64::from(linear), DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    formatter.options_mut().set_hex_prefix("0x");
    formatter.options_mut().set_hex_suffix("");
    formatter.options_mut().set_uppercase_hex(false);
    let mut out = Vec::with_capacity(count);
    while decoder.can_decode() && out.len() < count {
        let pos = decoder.position();
        let i = decoder.decode();
        let mut text = String::new();
        if i.is_invalid() {
            text.push_str("(bad)");
        } else {
            formatter.format(&i, &mut text);
        }
        let raw = bytes.get(pos..pos + i.len()).unwrap_or(&[]);
        out.push(DisasmLine {
            addr: i.ip() as u32,
            bytes: raw.iter().map(|b| format!("{b:02x}")).collect(),
            text,
        });
        if i.is_invalid() {
            break;
        }
    }
    if out.is_empty() {
        out.push(DisasmLine {
            addr: linear,
            bytes: String::new(),
            text: "(not mapped)".into(),
        });
    }
    out
}

/// 16-byte rows from `addr`; a linear row whose page is unmapped is `None`.
pub fn memory(m: &Machine, addr: u32, space: Space, rows: u32) -> MemoryView {
    let rows = (0..rows)
        .map(|r| {
            let a = addr.wrapping_add(r * 16);
            let mut buf = vec![0u8; 16];
            match space {
                Space::Physical => {
                    m.peek_phys(a, &mut buf);
                    Some(buf)
                }
                Space::Linear => guest_peek_linear(m, a, &mut buf).then_some(buf),
            }
        })
        .collect();
    MemoryView { addr, space, rows }
}

/// The guest's own paging registers: the virtual CPU's under trap-and-emulate
/// (the hardware then runs on shadow tables), the hardware's otherwise.
pub fn guest_paging(m: &Machine) -> (u32, u32, u32) {
    match (m.config().mode, m.vmm()) {
        (ExecMode::TrapEmulate { .. }, Some(v)) => (v.vcpu.cr0, v.vcpu.cr3, v.vcpu.cr4),
        _ => {
            let c = m.cpu();
            (c.cr0, c.cr3, c.cr4)
        }
    }
}

fn read_table(m: &Machine, base: u32) -> Vec<TableEntry> {
    let mut buf = vec![0u8; 4096];
    m.peek_phys(base & !0xfff, &mut buf);
    buf.chunks_exact(4)
        .enumerate()
        .map(|(i, b)| TableEntry {
            index: i as u32,
            raw: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        })
        .filter(|e| e.present())
        .collect()
}

/// The guest's tables from its CR3, when its paging is on.
pub fn guest_tables(m: &Machine) -> Option<TableTree> {
    let (cr0, cr3, cr4) = guest_paging(m);
    if cr0 & emulator_core::state::cr0::PG == 0 {
        return None;
    }
    let pse = cr4 & emulator_core::state::cr4::PSE != 0;
    let directory = read_table(m, cr3);
    let tables = directory
        .iter()
        .filter(|p| !(pse && p.large()))
        .map(|p| (p.index, read_table(m, p.frame())))
        .collect();
    Some(TableTree {
        title: "guest (linear → guest-physical)".into(),
        root: cr3 & !0xfff,
        directory,
        tables,
    })
}

/// The VMM's shadow (trap-emulate) or nested (hw-assist) tables, when it keeps some.
pub fn vmm_tables(m: &Machine) -> Option<TableTree> {
    let v = m.vmm()?;
    if m.config().mode == ExecMode::Bare {
        return None;
    }
    let shadow = v.uses_shadow();
    const P: u32 = 1;
    const W: u32 = 2;
    const U: u32 = 4;
    const A: u32 = 0x20;
    const D: u32 = 0x40;
    if shadow {
        let (_, cr3, _) = guest_paging(m);
        let directory: Vec<TableEntry> = v
            .shadow
            .directory(cr3)
            .into_iter()
            .map(|p| TableEntry {
                index: p.index,
                raw: (p.host_address & !0xfff) | P | W | U,
            })
            .collect();
        let tables = directory
            .iter()
            .map(|p| {
                let ptes = v
                    .shadow
                    .table(cr3, p.index)
                    .into_iter()
                    .map(|t| TableEntry {
                        index: t.index,
                        raw: (t.frame & !0xfff)
                            | P
                            | A
                            | if t.writable { W } else { 0 }
                            | if t.user { U } else { 0 }
                            | if t.dirty { D } else { 0 },
                    })
                    .collect();
                (p.index, ptes)
            })
            .collect();
        Some(TableTree {
            title: format!(
                "shadow of the guest directory at {:08x} (linear → host-physical, what the MMU uses)",
                cr3 & !0xfff
            ),
            root: v.shadow.root_address(cr3).unwrap_or(0),
            directory,
            tables,
        })
    } else {
        let directory: Vec<TableEntry> = v
            .nested_directory()
            .into_iter()
            .map(|p| TableEntry {
                index: p.index,
                raw: (p.host_address & !0xfff) | P | W | U,
            })
            .collect();
        let tables = directory
            .iter()
            .map(|p| {
                let ptes = v
                    .nested_table(p.index)
                    .into_iter()
                    .map(|t| TableEntry {
                        index: t.index,
                        raw: (t.host_physical & !0xfff) | P | W | U,
                    })
                    .collect();
                (p.index, ptes)
            })
            .collect();
        Some(TableTree {
            title: "nested (guest-physical → host-physical)".into(),
            root: emulator_core::vmm::nested::NESTED_ROOT,
            directory,
            tables,
        })
    }
}

/// Translates `linear` through the guest's tables step by step, and adds what the
/// MMU (shadow or nested under a VMM) resolves it to.
pub fn walk(m: &Machine, linear: u32) -> Walk {
    let w = guest_probe(m, linear);
    let mut steps = Vec::new();
    for (step, level) in [(w.pde, "PDE"), (w.pte, "PTE")] {
        if let Some(s) = step {
            steps.push(WalkStep {
                level: format!("{level} {}", s.index),
                entry_addr: s.entry_addr,
                entry: s.raw,
            });
        }
    }
    let result = match (w.physical, w.pte) {
        (Some(p), _) => Ok(p),
        (None, None) => Err("the PDE is not present: a #PF".to_string()),
        (None, Some(_)) => Err("the PTE is not present: a #PF".to_string()),
    };
    let mode = m.config().mode;
    let shadowed = matches!(
        mode,
        ExecMode::TrapEmulate { .. }
            | ExecMode::HwAssist {
                paging: GuestPaging::Shadow
            }
    );
    let detail = match (mode, shadow_frame(m, linear)) {
        (ExecMode::Bare, _) if !w.paging => "paging is off: linear = physical".to_string(),
        (ExecMode::Bare, _) => String::new(),
        (_, Some(p)) if shadowed => format!("the shadow tables map it to host-physical {p:08x}"),
        _ if shadowed => {
            "not in the shadow tables yet: the next access takes a hidden fault".to_string()
        }
        _ => {
            let refs = steps.len() + 1;
            format!(
                "two-dimensional walk: each of the {refs} guest-physical references goes through the nested table"
            )
        }
    };
    Walk {
        linear,
        steps,
        result,
        detail,
        root: guest_paging(m).1 & !0xfff,
        host: m.host_physical(linear),
        nested: m.nested_walk(linear),
    }
}

/// The host frame the active shadow page table holds for `linear`'s page (which
/// may be stale until the guest's INVLPG or CR3 write), if the shadow has one.
fn shadow_frame(m: &Machine, linear: u32) -> Option<u32> {
    let shadow = &m.vmm()?.shadow;
    let page = linear & !0xfff;
    shadow
        .table(shadow.active()?, linear >> 22)
        .into_iter()
        .find(|e| e.linear == page)
        .map(|e| e.frame | (linear & 0xfff))
}

/// One line per valid TLB entry.
pub fn tlb(m: &Machine) -> Vec<String> {
    m.tlb_entries()
        .into_iter()
        .map(|e| {
            format!(
                "{:08x} → {:08x} {}{}{}",
                e.linear_page,
                e.frame,
                if e.user { 'U' } else { 'S' },
                if e.writable { 'W' } else { 'R' },
                if e.dirty { 'D' } else { '.' }
            )
        })
        .collect()
}

/// Every counter of the machine and of its VMM.
pub fn counters(m: &Machine) -> CounterSet {
    CounterSet {
        machine: m.counters().clone(),
        vmm: m.vmm().map(|vmm| {
            let stats = vmm.stats();
            VmmCounters {
                exits: stats.exits,
                sensitive_total: stats.sensitive_total,
                shadow: stats.shadow,
                nested: stats.nested,
                tlb: stats.tlb,
            }
        }),
    }
}

/// The VMM's switches for the toolbar: page-table write protection while it keeps
/// shadow tables, the exit controls under hardware assistance.
pub fn vmm_settings(m: &Machine) -> Option<crate::protocol::VmmSettings> {
    let v = m.vmm()?;
    Some(crate::protocol::VmmSettings {
        pt_protect: v.uses_shadow().then_some(v.shadow.pt_protect),
        controls: matches!(m.config().mode, ExecMode::HwAssist { .. }).then_some(v.controls),
    })
}

/// The guest's virtual CPU under trap-and-emulate, one line for the registers panel.
pub fn vcpu_line(m: &Machine) -> Option<String> {
    let v = m.vmm()?;
    let c = &v.vcpu;
    Some(format!(
        "guest sees: CPL {} IF {} IOPL {} CR0 {:08x} CR3 {:08x} CR4 {:08x} IDTR {:08x}/{:04x}",
        v.guest_cpl(m.cpu()),
        u8::from(v.interrupts_enabled(m.cpu())),
        c.iopl,
        c.cr0,
        c.cr3,
        c.cr4,
        c.idtr.base,
        c.idtr.limit
    ))
}

/// The VGA text screen as 25 rows of 80 cells.
pub fn vga(m: &Machine) -> Vec<Vec<(u8, u8)>> {
    let screen = m.vga_text();
    (0..VgaText::ROWS)
        .map(|r| screen.row(r).iter().map(|c| (c.ch, c.attr)).collect())
        .collect()
}

/// The linear page named in a VM exit's action: `… for 0x…` of a shadow fill,
/// `CR2=0x…` of an injected page fault.
fn fault_page(reason: emulator_core::vmm::ExitReason, action: &str) -> Option<u32> {
    use emulator_core::vmm::ExitReason;
    let marker = match reason {
        ExitReason::ShadowFill => "for 0x",
        ExitReason::PageFault => "CR2=0x",
        _ => return None,
    };
    let at = action.find(marker)? + marker.len();
    let digits: String = action[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u32::from_str_radix(&digits, 16).ok().map(|a| a & !0xfff)
}

/// A log line for an event.
pub fn log_entry(e: &Event) -> LogEntry {
    let page = match &e.kind {
        EventKind::VmExit { reason, action, .. } => fault_page(*reason, action),
        _ => None,
    };
    let (reason, text) = match &e.kind {
        EventKind::Exception(x) => ("exception".to_string(), x.to_string()),
        EventKind::Interrupt { vector, irq } if *irq == emulator_core::smp::APIC_IRQ => (
            "interrupt".to_string(),
            format!("local APIC (timer or IPI) on vector {vector:#x}"),
        ),
        EventKind::Interrupt { vector, irq } => (
            "interrupt".to_string(),
            format!("IRQ {irq} on vector {vector:#x}"),
        ),
        EventKind::SoftwareInterrupt { vector } => {
            ("software-interrupt".to_string(), format!("INT {vector:#x}"))
        }
        EventKind::PortIo {
            port,
            size,
            value,
            write,
        } => (
            "io".to_string(),
            if *write {
                format!("OUT {port:#06x} ← {value:#x} ({size} byte)")
            } else {
                format!("IN {port:#06x} → {value:#x} ({size} byte)")
            },
        ),
        EventKind::TripleFault => ("triple-fault".to_string(), "triple fault".to_string()),
        EventKind::VmExit {
            reason,
            instruction,
            action,
            cost,
        } => (
            format!("exit:{}", reason.name()),
            format!("{instruction} → {action} ({cost} cycles)"),
        ),
        EventKind::SensitiveInstruction {
            instruction,
            saw,
            real,
            differs,
        } if *differs => (
            "popek-goldberg".to_string(),
            format!("{instruction}: the guest saw {saw}, a real machine gives {real}"),
        ),
        EventKind::SensitiveInstruction {
            instruction, saw, ..
        } => (
            "sensitive".to_string(),
            format!("{instruction}: the guest saw {saw}, as on a real machine"),
        ),
    };
    LogEntry {
        icount: e.icount,
        linear_eip: e.linear_eip,
        reason,
        text,
        page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_entries_name_exit_reasons_by_their_name() {
        for reason in emulator_core::vmm::ExitReason::ALL {
            let e = Event {
                icount: 7,
                linear_eip: 0x1000,
                kind: EventKind::VmExit {
                    reason,
                    instruction: "mov cr3, eax".into(),
                    action: "switched shadow root".into(),
                    cost: 3000,
                },
            };
            let entry = log_entry(&e);
            assert_eq!(entry.reason, format!("exit:{}", reason.name()));
            assert_eq!(
                entry.text,
                "mov cr3, eax → switched shadow root (3000 cycles)"
            );
        }
        let fault = |reason, action: &str| {
            log_entry(&Event {
                icount: 1,
                linear_eip: 0x1000,
                kind: EventKind::VmExit {
                    reason,
                    instruction: "mov [0x300000], eax".into(),
                    action: action.into(),
                    cost: 900,
                },
            })
            .page
        };
        use emulator_core::vmm::ExitReason;
        assert_eq!(
            fault(
                ExitReason::ShadowFill,
                "hidden fault: filled shadow entry for 0x00020000 from the guest's tables"
            ),
            Some(0x20000)
        );
        assert_eq!(
            fault(
                ExitReason::PageFault,
                "true fault: injected #PF (CR2=0x00300123, error code 0x2)"
            ),
            Some(0x30_0000)
        );
        assert_eq!(fault(ExitReason::Io, "for 0x00020000"), None);
        let e = Event {
            icount: 0,
            linear_eip: 0,
            kind: EventKind::TripleFault,
        };
        assert_eq!(log_entry(&e).reason, "triple-fault");
    }

    #[test]
    fn only_a_sensitive_instruction_that_differs_is_a_popek_goldberg_entry() {
        let report = |differs| Event {
            icount: 5,
            linear_eip: 0x1000,
            kind: EventKind::SensitiveInstruction {
                instruction: "pushfd".into(),
                saw: "EFLAGS 0x2".into(),
                real: if differs {
                    "EFLAGS 0x202"
                } else {
                    "EFLAGS 0x2"
                }
                .into(),
                differs,
            },
        };
        let same = log_entry(&report(false));
        assert_eq!(same.reason, "sensitive");
        assert_eq!(
            same.text,
            "pushfd: the guest saw EFLAGS 0x2, as on a real machine"
        );
        let differs = log_entry(&report(true));
        assert_eq!(differs.reason, "popek-goldberg");
        assert!(differs.text.ends_with("a real machine gives EFLAGS 0x202"));
    }
}
