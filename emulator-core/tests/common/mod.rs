//! Shared helpers for the integration tests: assembling guest sources with vmlab-asm.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Assembles `src` (relative to the workspace root) as a flat binary with `defines`
/// (`NAME` or `NAME=VALUE`); `%include` names are found beside the source, then in
/// `guests/include/`.
#[allow(dead_code)]
pub fn assemble(src: &str, defines: &[&str]) -> Vec<u8> {
    let path = root().join(src);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let shared = root().join("guests/include");
    let include = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .or_else(|_| std::fs::read_to_string(shared.join(name)))
            .ok()
    };
    let opts = vmlab_asm::Options {
        defines: defines.iter().map(|d| vmlab_asm::parse_define(d)).collect(),
        include: Some(&include),
        ..Default::default()
    };
    match vmlab_asm::assemble(src, &source, &opts) {
        Ok(out) => out.bytes,
        Err(errors) => panic!("vmlab-asm failed on {src}:\n{errors}"),
    }
}

/// A machine built from `config` with `image` loaded at 0x10000 and started in flat
/// 32-bit protected mode, as the device and VMM test guests expect.
#[allow(dead_code)]
pub fn flat32(config: emulator_core::MachineConfig, image: &[u8]) -> emulator_core::Machine {
    let mut m = emulator_core::Machine::new(config).expect("a machine");
    m.load_flat(0x10000, image, emulator_core::FlatEntry::Protected32)
        .expect("the guest loads");
    m
}

/// xorshift64*: a small deterministic generator for the randomised tests.
#[allow(dead_code)]
pub struct Rng(pub u64);

#[allow(dead_code)]
impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
/// Runs `m` in slices of `slices` instructions (cycled) until a stop other than an
/// exhausted budget, or until `total` instructions have retired; returns every stop.
#[allow(dead_code)]
pub fn run_slices(
    m: &mut emulator_core::Machine,
    slices: &[u64],
    total: u64,
) -> Vec<emulator_core::StopReason> {
    let mut stops = Vec::new();
    let mut i = 0;
    while m.icount() < total {
        let s = m.run(slices[i % slices.len()]);
        i += 1;
        stops.push(s);
        if s != emulator_core::StopReason::BudgetExhausted {
            break;
        }
    }
    stops
}

/// Everything a run leaves behind that a tier must not change.
#[allow(dead_code)]
#[derive(PartialEq, Debug)]
pub struct Run {
    pub stops: Vec<emulator_core::StopReason>,
    pub icount: u64,
    pub serial: String,
    pub post: Vec<(u16, u32, u64)>,
    pub snapshot: emulator_core::Snapshot,
}

/// What `m` left after a run that stopped with `stops`.
#[allow(dead_code)]
pub fn run_of(m: &emulator_core::Machine, stops: Vec<emulator_core::StopReason>) -> Run {
    Run {
        stops,
        icount: m.icount(),
        serial: String::from_utf8_lossy(&m.serial_output()).into_owned(),
        post: m
            .post_writes()
            .iter()
            .map(|w| (w.port, w.value, w.icount))
            .collect(),
        snapshot: m.snapshot(),
    }
}

/// Asserts that two runs ended alike: instruction count, stops, serial output, POST
/// writes, CPU, RAM and the whole snapshot.
#[allow(dead_code)]
pub fn assert_same_run(what: &str, a: &Run, b: &Run) {
    assert_eq!(a.icount, b.icount, "{what}: instruction count");
    assert_eq!(a.stops, b.stops, "{what}: stop reasons");
    assert_eq!(a.serial, b.serial, "{what}: serial output");
    assert_eq!(a.post, b.post, "{what}: POST writes");
    assert_eq!(a.snapshot.cpu(), b.snapshot.cpu(), "{what}: CPU state");
    assert!(a.snapshot.ram() == b.snapshot.ram(), "{what}: RAM differs");
    assert!(a.snapshot == b.snapshot, "{what}: snapshot differs");
}

/// Assembles a demo guest (`demos/<id>/<file>.asm`, `pc.inc` and the other shared
/// includes from `guests/include`); returns the image and its symbols.
#[allow(dead_code)]
pub fn assemble_demo(src: &str) -> (Vec<u8>, Vec<(String, u32)>) {
    let text = std::fs::read_to_string(root().join(src))
        .unwrap_or_else(|e| panic!("cannot read {src}: {e}"));
    let inc = root().join("guests/include");
    let include = |name: &str| std::fs::read_to_string(inc.join(name)).ok();
    let opts = vmlab_asm::Options {
        include: Some(&include),
        ..Default::default()
    };
    match vmlab_asm::assemble(src, &text, &opts) {
        Ok(out) => (out.bytes, out.symbols),
        Err(errors) => panic!("vmlab-asm failed on {src}:\n{errors}"),
    }
}

/// The value of label `name` in `symbols`.
#[allow(dead_code)]
pub fn symbol(symbols: &[(String, u32)], name: &str) -> u32 {
    symbols
        .iter()
        .find(|(n, _)| n == name)
        .map(|&(_, v)| v)
        .unwrap_or_else(|| panic!("no label {name}"))
}

/// A disk in memory the test can look at after the run.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Shared(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl emulator_core::devices::BlockStore for Shared {
    fn sectors(&self) -> u64 {
        self.0.lock().map_or(0, |d| d.len() as u64 / 512)
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), String> {
        let d = self.0.lock().map_err(|e| e.to_string())?;
        let at = lba as usize * 512;
        buf.copy_from_slice(d.get(at..at + buf.len()).ok_or("past the end")?);
        Ok(())
    }
    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<(), String> {
        let mut d = self.0.lock().map_err(|e| e.to_string())?;
        let at = lba as usize * 512;
        d.get_mut(at..at + data.len())
            .ok_or("past the end")?
            .copy_from_slice(data);
        Ok(())
    }
}

/// A machine of `cpus` CPUs (quantum 20) under `mode` with the SMP guest `src` loaded
/// at 0x8000 in flat 32-bit protected mode, the host's `slice` (0 for none, with or
/// without co-scheduling) and TSC `policy` set.
#[allow(dead_code)]
pub fn smp_under_host(
    src: &str,
    mode: emulator_core::ExecMode,
    cpus: u32,
    (slice, cosched): (u64, bool),
    policy: emulator_core::smp::TscPolicy,
) -> emulator_core::Machine {
    let bin = assemble(src, &[]);
    let mut m = emulator_core::Machine::new(emulator_core::MachineConfig {
        mode,
        cpus,
        quantum: 20,
        ..emulator_core::MachineConfig::default()
    })
    .expect("a machine");
    m.load_flat(0x8000, &bin, emulator_core::FlatEntry::Protected32)
        .expect("the guest loads");
    if slice > 0 {
        m.set_host_schedule(emulator_core::smp::HostSchedule {
            slice,
            cosched,
            ..Default::default()
        })
        .expect("a host schedule");
    }
    m.set_tsc_policy(policy).expect("a TSC policy");
    m
}
