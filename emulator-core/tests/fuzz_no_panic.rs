//! Random instruction streams from random machine states: the machine never panics,
//! `run(budget)` always returns having retired at most `budget` instructions, and a
//! snapshot taken mid-stream continues exactly as the original run did.
//!
//! The default run is bounded for CI: 2000 streams of at most 3 × 500 instructions
//! (about 1.5 million retired). Set `VMLAB_FUZZ_ITERS=N` for a longer run of `N`
//! streams. A failure names the stream and its seed; replay it alone with
//! `VMLAB_FUZZ_FIRST=<stream> VMLAB_FUZZ_ITERS=1`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use emulator_core::{FlatEntry, Machine, MachineConfig, StopReason};

/// Streams in the default (CI) run.
const DEFAULT_ITERS: u64 = 2000;
/// Instructions per `run` call, and `run` calls per stream.
const BUDGET: u64 = 500;
const RUNS_PER_STREAM: usize = 3;
/// Guest RAM (small, so building a machine per stream is cheap).
const RAM_MIB: u32 = 2;
/// A stream that takes longer than this is reported as a hang.
const WATCHDOG: Duration = Duration::from_secs(300);

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Opcode bytes worth over-representing: prefixes, the two-byte escape, string and
/// stack instructions, far transfers, interrupts, I/O, system and segment loads.
const INTERESTING: &[u8] = &[
    0x0f, 0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, // prefixes
    0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0x6c, 0x6d, 0x6e, 0x6f, 0x60, 0x61,
    0x9c, 0x9d, 0xc8, 0xc9, 0xcf, 0xca, 0xcb, 0x9a, 0xea, 0xcc, 0xcd, 0xce, 0xe4, 0xe5, 0xe6, 0xe7,
    0xec, 0xed, 0xee, 0xef, 0xf4, 0xfa, 0xfb, 0x8e, 0x8c, 0xc4, 0xc5, 0x07, 0x17, 0x1f, 0xf6, 0xf7,
    0xd4, 0xd5, 0x27, 0x2f, 0x37, 0x3f, 0xe2, 0xe3, 0x00, 0x01, 0x20, 0x22, 0x23, 0x21, 0xb2, 0xb4,
    0xb5, 0x02, 0x03, 0x06, 0xa2, 0x31,
];

/// Random code: mostly random bytes, a quarter from [`INTERESTING`].
fn code(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            if rng.chance(25) {
                INTERESTING[rng.below(INTERESTING.len() as u64) as usize]
            } else {
                rng.next() as u8
            }
        })
        .collect()
}

fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len.div_ceil(8))
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    v.truncate(len);
    v
}

/// A machine in a random starting state: real mode, flat protected mode or a ROM, with
/// random code, random data, random registers and flags; sometimes a random IVT/IDT
/// and, rarely, wild control and segment state.
fn random_machine(rng: &mut Rng) -> Machine {
    let cfg = MachineConfig {
        ram_mib: RAM_MIB,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(cfg).expect("a 2 MiB machine builds");
    // Random data where memory operands often land.
    let data_at = rng.below(0x1_0000) as u32 * 16 % (RAM_MIB << 20).saturating_sub(0x1_0000);
    m.write_phys(data_at, &random_bytes(rng, 0x4000))
        .expect("data fits in RAM");
    match rng.below(10) {
        0..=3 => {
            let addr = 0x7c00 + rng.below(0x100) as u32;
            let len = 256 + rng.below(4096) as usize;
            let image = code(rng, len);
            m.load_flat(addr, &image, FlatEntry::Real16)
                .expect("real-mode image fits");
            if rng.chance(50) {
                m.write_phys(0, &random_bytes(rng, 0x400))
                    .expect("IVT fits");
            }
        }
        4..=8 => {
            let addr = 0x1_0000 + rng.below(0x1000) as u32;
            let len = 256 + rng.below(4096) as usize;
            let image = code(rng, len);
            m.load_flat(addr, &image, FlatEntry::Protected32)
                .expect("protected-mode image fits");
            if rng.chance(50) {
                let idt_base = 0x2_0000 + rng.below(0x100) as u32 * 8;
                m.write_phys(idt_base, &random_bytes(rng, 0x800))
                    .expect("IDT fits");
                let cpu = m.cpu_mut();
                cpu.idtr.base = idt_base;
                cpu.idtr.limit = 0x7ff;
            }
        }
        _ => {
            let len = if rng.chance(50) { 64 << 10 } else { 128 << 10 };
            let mut rom = code(rng, len);
            // A far jump at the reset vector into the random ROM half of the time.
            if rng.chance(50) {
                let at = len - 16;
                rom[at..at + 5].copy_from_slice(&[0xea, 0x00, 0x00, 0x00, 0xf0]);
            }
            m.load_rom(&rom).expect("a 64/128 KiB ROM loads");
        }
    }
    let cpu = m.cpu_mut();
    for (i, r) in cpu.gpr.iter_mut().enumerate() {
        if i != 4 || rng.chance(20) {
            *r = match rng.below(4) {
                0 => 0,
                1 => rng.u32() & 0xffff,
                _ => rng.u32(),
            };
        }
    }
    // Random status flags and DF; sometimes IF, TF or an IOPL.
    cpu.eflags = (cpu.eflags & !0x0cd5) | (rng.u32() & 0x0cd5);
    if rng.chance(30) {
        cpu.eflags |= 0x200;
    }
    if rng.chance(5) {
        cpu.eflags |= 0x100;
    }
    if rng.chance(10) {
        cpu.eflags |= rng.u32() & 0x3000;
    }
    if rng.chance(3) {
        // Wild state: arbitrary control registers and segment caches.
        cpu.cr0 = rng.u32();
        cpu.cr3 = rng.u32() & !0xfff & ((RAM_MIB << 20) - 1);
        cpu.cr4 = rng.u32() & 0x9f;
        for s in cpu.seg.iter_mut() {
            if rng.chance(50) {
                s.selector = rng.u32() as u16;
                s.base = rng.u32();
                s.limit = rng.u32();
                s.attrs = rng.u32() as u16;
            }
        }
        cpu.cpl = rng.below(4) as u8;
        cpu.gdtr.base = rng.u32();
        cpu.gdtr.limit = rng.u32() as u16;
    }
    m
}

/// Everything a continuation must reproduce: registers, instruction count, all of RAM
/// and the serial output.
fn observable(m: &Machine) -> (emulator_core::Snapshot, Vec<u8>) {
    (m.snapshot(), m.serial_output())
}

/// Whether two observations agree on CPU state, instruction count, RAM and serial output.
fn same(a: &(emulator_core::Snapshot, Vec<u8>), b: &(emulator_core::Snapshot, Vec<u8>)) -> bool {
    a.0.cpu() == b.0.cpu() && a.0.icount() == b.0.icount() && a.0.ram() == b.0.ram() && a.1 == b.1
}

/// Runs stream `iteration`; panics (with the seed) on any violated property.
fn stream(iteration: u64) -> u64 {
    let seed = 0x5eed_0000_0000_0000 ^ iteration;
    let mut rng = Rng::new(seed);
    let mut m = random_machine(&mut rng);
    let mut retired = 0;
    let check_snapshot = iteration & 7 == 0;
    for run in 0..RUNS_PER_STREAM {
        let snap = (check_snapshot && run == 1).then(|| m.snapshot());
        let before = m.icount();
        let reason = m.run(BUDGET);
        let used = m.icount() - before;
        assert!(
            used <= BUDGET,
            "stream {iteration} (seed {seed:#x}): run({BUDGET}) retired {used} instructions, stopping with {reason:?}"
        );
        retired += used;
        if let Some(snap) = snap {
            let original = observable(&m);
            m.restore(&snap)
                .unwrap_or_else(|e| panic!("stream {iteration} (seed {seed:#x}): restore: {e}"));
            let again = m.run(BUDGET);
            assert_eq!(
                again, reason,
                "stream {iteration} (seed {seed:#x}): stop reason after restore"
            );
            assert!(
                same(&observable(&m), &original),
                "stream {iteration} (seed {seed:#x}): the continuation from a snapshot differs"
            );
        }
        if matches!(reason, StopReason::TripleFault | StopReason::DebugExit(_)) {
            break;
        }
    }
    for _ in 0..4 {
        let before = m.icount();
        m.step();
        assert!(
            m.icount() - before <= 1,
            "stream {iteration} (seed {seed:#x}): step retired more than one instruction"
        );
    }
    retired
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

#[test]
fn random_streams_neither_panic_nor_hang() {
    let iters = env_u64("VMLAB_FUZZ_ITERS").unwrap_or(DEFAULT_ITERS);
    let first = env_u64("VMLAB_FUZZ_FIRST").unwrap_or(0);
    let current = Arc::new(AtomicU64::new(first));
    let (done_tx, done_rx) = mpsc::channel();
    let progress = Arc::clone(&current);
    let started = Instant::now();
    std::thread::spawn(move || {
        let mut retired = 0u64;
        for i in first..first + iters {
            progress.store(i, Ordering::Relaxed);
            match catch_unwind(AssertUnwindSafe(|| stream(i))) {
                Ok(n) => retired += n,
                Err(e) => {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let _ = done_tx.send(Err(format!(
                        "stream {i} (seed {:#x}) failed: {msg}",
                        0x5eed_0000_0000_0000u64 ^ i
                    )));
                    return;
                }
            }
        }
        let _ = done_tx.send(Ok(retired));
    });
    // A hang shows as silence: each stream is bounded, so the whole run has a deadline.
    let deadline = WATCHDOG + Duration::from_millis(iters.saturating_mul(50));
    match done_rx.recv_timeout(deadline) {
        Ok(Ok(retired)) => {
            eprintln!(
                "{iters} streams, {retired} instructions retired in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            assert!(retired > 0, "no instruction retired at all");
        }
        Ok(Err(msg)) => panic!("{msg}"),
        Err(_) => panic!(
            "no result after {deadline:?}: stream {} hangs",
            current.load(Ordering::Relaxed)
        ),
    }
}
