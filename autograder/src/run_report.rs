//! What `vmlab run` reports when the guest stops: the `--json` document (its schema
//! is `docs/run-json.md`), the JSON error object, and the text mode's VMM summary.

use emulator_core::{CpuState, ExecMode, Machine, SegReg, Segment, StopReason, TableReg};
use serde_json::{json, Map, Value};

/// The schema's name and version, the report's first field.
pub const SCHEMA: &str = "vmlab-run/1";

/// Exception vectors by SDM mnemonic (vector 9 is the reserved coprocessor overrun).
const VECTORS: [&str; 22] = [
    "#DE",
    "#DB",
    "NMI",
    "#BP",
    "#OF",
    "#BR",
    "#UD",
    "#NM",
    "#DF",
    "vector-9",
    "#TS",
    "#NP",
    "#SS",
    "#GP",
    "#PF",
    "vector-15",
    "#MF",
    "#AC",
    "#MC",
    "#XM",
    "#VE",
    "#CP",
];

fn hex32(v: u32) -> Value {
    Value::String(format!("{v:#010x}"))
}

fn hex16(v: u16) -> Value {
    Value::String(format!("{v:#06x}"))
}

fn segment(s: &Segment) -> Value {
    json!({
        "selector": hex16(s.selector),
        "base": hex32(s.base),
        "limit": hex32(s.limit),
        "attrs": hex16(s.attrs),
    })
}

fn table(t: &TableReg) -> Value {
    json!({ "base": hex32(t.base), "limit": hex32(u32::from(t.limit)) })
}

/// A register view: general registers, EIP, EFLAGS, control registers and CPL by
/// name, segments and descriptor tables as objects, addresses as hex strings.
fn registers(c: &CpuState) -> Map<String, Value> {
    let mut r = Map::new();
    for (name, v) in ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
        .iter()
        .zip(c.gpr)
    {
        r.insert((*name).into(), hex32(v));
    }
    for (name, v) in [
        ("eip", c.eip),
        ("eflags", c.eflags),
        ("cr0", c.cr0),
        ("cr2", c.cr2),
        ("cr3", c.cr3),
        ("cr4", c.cr4),
    ] {
        r.insert(name.into(), hex32(v));
    }
    r.insert("cpl".into(), json!(c.cpl));
    let segs: Map<String, Value> = ["es", "cs", "ss", "ds", "fs", "gs"]
        .iter()
        .zip(&c.seg)
        .map(|(n, s)| ((*n).to_string(), segment(s)))
        .collect();
    r.insert("segments".into(), Value::Object(segs));
    r.insert("gdtr".into(), table(&c.gdtr));
    r.insert("idtr".into(), table(&c.idtr));
    r.insert("ldtr".into(), segment(&c.ldtr));
    r.insert("tr".into(), segment(&c.tr));
    r.insert("halted".into(), json!(c.halted));
    r
}

/// A 256-bit APIC register as the vectors whose bits are set.
fn vectors(bits: &[u32; 8]) -> Vec<u8> {
    (0..=255u8)
        .filter(|&v| bits[usize::from(v >> 5)] & (1 << (v & 31)) != 0)
        .collect()
}

/// One CPU's entry in `cpus`: its registers, the instructions it retired, whether
/// it waits for a start-up IPI, and its local APIC.
fn cpu_entry(i: usize, c: &emulator_core::Cpu, now: u64) -> Value {
    use emulator_core::devices::apic::local::{lvt, MASKED, PERIODIC};
    let a = c.apic();
    let timer = a.lvt[lvt::TIMER];
    json!({
        "index": i,
        "instructions": c.retired(),
        "halted": c.state().halted,
        "wait_for_sipi": a.wait_for_sipi,
        "registers": registers(c.state()),
        "apic": {
            "id": a.id,
            "enabled": a.enabled(),
            "tpr": a.tpr,
            "ppr": a.ppr(),
            "irr": vectors(&a.irr),
            "isr": vectors(&a.isr),
            "timer": {
                "mode": if timer & PERIODIC != 0 { "periodic" } else { "one-shot" },
                "masked": timer & MASKED != 0,
                "vector": timer & 0xff,
                "initial_count": a.initial_count,
                "current_count": a.current_count(now),
                "divisor": a.divisor(),
                "fired": a.timer_fired,
            },
            "ipis_received": a.ipis_received,
        },
    })
}

/// The guest's own view under a VMM: under trap-and-emulate the virtual CPU's
/// control registers, descriptor tables, CPL, IF and IOPL over the hardware's
/// general registers; under hardware assistance the guest runs on the hardware
/// state itself. `None` on the bare machine.
pub fn guest_cpu(m: &Machine) -> Option<CpuState> {
    let vmm = m.vmm()?;
    let cpu = m.cpu();
    let mut c = cpu.clone();
    if matches!(m.config().mode, ExecMode::TrapEmulate { .. }) {
        let v = &vmm.vcpu;
        c.cr0 = v.cr0;
        c.cr2 = v.cr2;
        c.cr3 = v.cr3;
        c.cr4 = v.cr4;
        c.gdtr = v.gdtr;
        c.idtr = v.idtr;
        c.ldtr = v.ldtr;
        c.tr = v.tr;
        const IF: u32 = 1 << 9;
        const IOPL: u32 = 3 << 12;
        c.eflags = (c.eflags & !(IF | IOPL))
            | if vmm.interrupts_enabled(cpu) { IF } else { 0 }
            | (u32::from(v.iopl) << 12);
    }
    c.cpl = vmm.guest_cpl(cpu);
    if vmm.deprivileged() && c.protected_mode() {
        // the guest's own CS and SS carry its virtual CPL; the hardware's carry the
        // ring the VMM runs it at (ring compression)
        for s in [SegReg::Cs, SegReg::Ss] {
            let seg = &mut c.seg[s as usize];
            if seg.selector & !3 != 0 {
                seg.selector = (seg.selector & !3) | u16::from(c.cpl);
            }
        }
    }
    Some(c)
}

/// The `--json` report of a finished run.
pub fn report(m: &Machine, stop: StopReason, exit_status: u8) -> Value {
    let mode = m.config().mode;
    let stats = m.vmm().map(|v| v.stats());
    let counters = m.counters();
    let exceptions: Map<String, Value> = counters
        .exceptions
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(v, n)| {
            let name = VECTORS
                .get(v)
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("vector-{v}"));
            (name, json!(n))
        })
        .collect();
    let vmm = stats.as_ref().map(|s| {
        let findings: Vec<Value> = s
            .popek_goldberg
            .iter()
            .map(|r| {
                json!({
                    "linear_eip": hex32(r.linear_eip),
                    "instruction": r.instruction,
                    "saw": r.saw,
                    "real": r.real,
                    "differs": r.differs,
                })
            })
            .collect();
        json!({
            "mode": s.mode,
            "host_offset": hex32(emulator_core::vmm::p2m::OFFSET),
            "exits": s.exits,
            "shadow": s.shadow,
            "nested": s.nested,
            "sensitive_total": s.sensitive_total,
            "popek_goldberg": findings,
            "tlb": s.tlb,
        })
    });
    json!({
        "schema": SCHEMA,
        "ok": true,
        "stop": stop.name(),
        "exit_status": exit_status,
        "debug_exit_value": match stop {
            StopReason::DebugExit(v) => Some(v),
            _ => None,
        },
        "instructions": m.icount(),
        "mode": stats.as_ref().map(|s| s.mode.as_str()).unwrap_or("bare"),
        "guest_ring": match mode {
            ExecMode::TrapEmulate { guest_ring } => Some(guest_ring.number()),
            _ => None,
        },
        "paging": match mode {
            ExecMode::HwAssist { paging } => serde_json::to_value(paging).ok(),
            _ => None,
        },
        "host": registers(m.cpu()),
        "quantum": m.config().quantum,
        "cpus": m
            .cpus()
            .enumerate()
            .map(|(i, c)| {
                let mut e = cpu_entry(i, c, m.cpu().tsc);
                e["tsc"] = crate::run_tsc::cpu_tsc(m, i);
                e
            })
            .collect::<Vec<_>>(),
        "guest": guest_cpu(m).as_ref().map(registers),
        "post_writes": m.post_writes().iter().map(|w| json!({
            "port": hex16(w.port),
            "value": hex32(w.value),
            "instructions": w.icount,
        })).collect::<Vec<_>>(),
        "counters": {
            "instructions": counters.instructions,
            "exceptions": exceptions,
            "irqs": counters.irqs,
            "software_interrupts": counters.software_interrupts,
            "io": counters.io,
            "tlb_hits": counters.tlb_hits,
            "tlb_misses": counters.tlb_misses,
            "page_walks": counters.page_walks,
            "ipis": counters.ipis,
            "shootdowns": counters.shootdowns,
            "spin_instructions": counters.spin_instructions,
        },
        "host_schedule": m.host_schedule(),
        "tsc": crate::run_tsc::report(m),
        "vmm": vmm,
        "disk": disk_json(m),
    })
}

/// The `--json` document when nothing could run: the message names what is wrong.
pub fn error(message: &str, exit_status: u8) -> Value {
    json!({
        "schema": SCHEMA,
        "ok": false,
        "exit_status": exit_status,
        "error": { "kind": "bad-input", "message": message },
    })
}

/// Popek–Goldberg findings listed in the text summary, at most.
const LISTED: usize = 3;

/// The `disk` object: the ATA drive's or the virtio-blk device's work.
fn disk_json(m: &Machine) -> Value {
    let p = m.platform();
    if let Some(v) = p.virtio_blk() {
        let t = &v.transport;
        return json!({
            "interface": "virtio",
            "transport": t.interface(),
            "sectors_read": v.sectors_read,
            "sectors_written": v.sectors_written,
            "virtqueue": {
                "requests": v.requests,
                "notifies": t.queues.iter().map(|q| q.notifies).sum::<u64>(),
                "interrupts": t.interrupts,
                "suppressed_interrupts": t.suppressed,
                "announced_requests": t.announced,
                "requests_per_interrupt": per_interrupt(t.announced, t.interrupts),
                "unkicked_requests": t.unkicked,
                "event_idx": t.event_idx(),
                "service_fixed": v.busy.service.fixed,
                "service_per_512": v.busy.service.per_unit,
                "busy_rounds": v.busy.rounds,
                "notifies_skipped": v.busy.skipped,
                "busy_notifies": v.busy.busy_notifies,
            },
        });
    }
    p.ata().map_or(Value::Null, |a| {
        json!({
            "interface": "ata",
            "transport": null,
            "sectors_read": a.sectors_read,
            "sectors_written": a.sectors_written,
            "virtqueue": null,
        })
    })
}

/// Completions per interrupt raised (interrupt coalescing), `null` without one.
fn per_interrupt(announced: u64, interrupts: u64) -> Value {
    if interrupts == 0 {
        return Value::Null;
    }
    json!(announced as f64 / interrupts as f64)
}

/// The disk line of the closing summary: sectors moved and, under a VMM, the I/O exits
/// per MiB moved (by ATA PIO every word through the data port is one exit; virtio-blk
/// costs one notify per batch of requests).
pub fn disk_summary(m: &Machine) -> Option<String> {
    let p = m.platform();
    let (read, written, how, error) = match (p.virtio_blk(), p.ata()) {
        (Some(v), _) => (
            v.sectors_read,
            v.sectors_written,
            format!(
                "virtio-blk, {} interface: {} requests, {} notifies, {} interrupts ({} requests announced), {} suppressed{}",
                v.transport.interface(),
                v.requests,
                v.transport.queues.iter().map(|q| q.notifies).sum::<u64>(),
                v.transport.interrupts,
                v.transport.announced,
                v.transport.suppressed,
                if v.busy.rounds > 0 {
                    format!(
                        "; busy {} rounds, {} kicks skipped, {} notifies while busy",
                        v.busy.rounds, v.busy.skipped, v.busy.busy_notifies
                    )
                } else {
                    String::new()
                }
            ),
            v.host_error.clone().or_else(|| {
                v.transport
                    .error
                    .as_ref()
                    .map(|e| format!("device error: {e}"))
            }),
        ),
        (None, Some(a)) => (
            a.sectors_read,
            a.sectors_written,
            "ATA PIO".to_string(),
            a.host_error.clone(),
        ),
        (None, None) => return None,
    };
    let sectors = read + written;
    let mut line = format!(
        "disk: {read} sectors read, {written} written ({} KiB moved by {how})",
        sectors / 2
    );
    if let (Some(v), true) = (m.vmm(), sectors > 0) {
        let io = v.stats().exits.count(emulator_core::vmm::ExitReason::Io);
        let per_mib = io as f64 * 2048.0 / sectors as f64;
        line.push_str(&format!("; {io} I/O exits, {per_mib:.0} per MiB moved"));
        let mmio = v.stats().exits.count(emulator_core::vmm::ExitReason::Mmio);
        if mmio > 0 {
            line.push_str(&format!(", {mmio} MMIO exits"));
        }
    }
    if let Some(e) = error {
        line.push_str(&format!("; last error: {e}"));
    }
    Some(line)
}

/// The text mode's closing lines under a VMM: exits by reason and the
/// Popek–Goldberg findings. Empty on the bare machine.
pub fn vmm_summary(m: &Machine) -> Vec<String> {
    let Some(s) = m.vmm().map(|v| v.stats()) else {
        return Vec::new();
    };
    let mut by_count: Vec<_> = s.exits.by_reason.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1));
    let reasons: Vec<String> = by_count
        .iter()
        .map(|(r, n)| format!("{} {n}", r.name()))
        .collect();
    let mut lines = vec![format!(
        "vmm {}: {} exits ({}), {} cycles",
        s.mode,
        s.exits.total,
        if reasons.is_empty() {
            "none".to_string()
        } else {
            reasons.join(", ")
        },
        s.exits.cycles
    )];
    let differing: Vec<_> = s.popek_goldberg.iter().filter(|r| r.differs).collect();
    lines.push(format!(
        "Popek–Goldberg: {} sensitive unprivileged instructions ran, {} of those kept behave differently than on a real machine",
        s.sensitive_total,
        differing.len()
    ));
    for r in differing.iter().take(LISTED) {
        lines.push(format!(
            "  {:#010x} {}: saw {}; a real machine gives {}",
            r.linear_eip, r.instruction, r.saw, r.real
        ));
    }
    if differing.len() > LISTED {
        lines.push(format!(
            "  … and {} more (see --json)",
            differing.len() - LISTED
        ));
    }
    lines
}
