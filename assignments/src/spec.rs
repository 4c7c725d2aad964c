//! A lab's test files (`tests/visible.toml`, `tests/hidden.toml`): machine setup and checks.
//!
//! Visible and hidden tests share this format and the same harness; they differ only
//! in where they are read from and whom the results are shown to.

use std::collections::BTreeMap;

use emulator_core::ExecMode;
use serde::Deserialize;

/// Bytes placed in physical memory before the run, or expected there after it.
/// Exactly one of `text`, `hex`, `bytes`, `dwords` is given.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemBytes {
    /// Physical address.
    pub addr: u32,
    /// UTF-8 text (use `\u0000` for a NUL).
    #[serde(default)]
    pub text: Option<String>,
    /// Hex bytes, spaces allowed (`"de ad be ef"`).
    #[serde(default)]
    pub hex: Option<String>,
    /// Byte values.
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
    /// Little-endian dwords.
    #[serde(default)]
    pub dwords: Option<Vec<u32>>,
}

impl MemBytes {
    /// The bytes this entry stands for.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let given = [
            self.text.is_some(),
            self.hex.is_some(),
            self.bytes.is_some(),
            self.dwords.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return Err(format!(
                "memory entry at {:#x}: give exactly one of text, hex, bytes, dwords",
                self.addr
            ));
        }
        if let Some(t) = &self.text {
            return Ok(t.as_bytes().to_vec());
        }
        if let Some(b) = &self.bytes {
            return Ok(b.clone());
        }
        if let Some(d) = &self.dwords {
            return Ok(d.iter().flat_map(|w| w.to_le_bytes()).collect());
        }
        let hex: String = self
            .hex
            .iter()
            .flat_map(|h| h.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        if !hex.len().is_multiple_of(2) {
            return Err(format!(
                "memory entry at {:#x}: odd number of hex digits",
                self.addr
            ));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(hex.get(i..i + 2).unwrap_or(""), 16).map_err(|_| {
                    format!("memory entry at {:#x}: bad hex digits at {}", self.addr, i)
                })
            })
            .collect()
    }
}

/// An expected register value: a number, or `{ value, mask }` to compare some bits only.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
pub enum RegExpect {
    /// All 32 bits.
    Exact(u32),
    /// Only the bits in `mask`.
    Masked {
        /// Expected value of the masked bits.
        value: u32,
        /// Which bits to compare.
        mask: u32,
    },
}

impl RegExpect {
    /// `(value, mask)`.
    pub fn parts(self) -> (u32, u32) {
        match self {
            RegExpect::Exact(v) => (v, u32::MAX),
            RegExpect::Masked { value, mask } => (value & mask, mask),
        }
    }
}

/// How a test run must stop.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopExpect {
    /// HLT (the usual end of a guest lab program).
    #[default]
    Halted,
    /// A write to the debug-exit port.
    DebugExit,
    /// Any stop except running out of budget or a triple fault.
    Any,
}

/// An expected linear-to-physical translation in the page tables CR3 points at.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageExpect {
    /// The linear address to translate.
    pub linear: u32,
    /// Whether it must be mapped at all.
    #[serde(default = "yes")]
    pub present: bool,
    /// The physical address it must reach.
    #[serde(default)]
    pub phys: Option<u32>,
    /// Effective R/W (PDE and PTE both writable).
    #[serde(default)]
    pub writable: Option<bool>,
    /// Effective U/S (PDE and PTE both user).
    #[serde(default)]
    pub user: Option<bool>,
}

fn yes() -> bool {
    true
}

/// A bound on how many times something happened.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountExpect {
    /// Exactly this many.
    #[serde(default)]
    pub exactly: Option<u64>,
    /// At least this many.
    #[serde(default)]
    pub min: Option<u64>,
    /// At most this many.
    #[serde(default)]
    pub max: Option<u64>,
}

impl CountExpect {
    /// Whether `n` satisfies the bound; otherwise a description of the bound.
    pub fn check(&self, n: u64) -> Result<(), String> {
        if let Some(e) = self.exactly {
            if n != e {
                return Err(format!("exactly {e}"));
            }
        }
        if let Some(lo) = self.min {
            if n < lo {
                return Err(format!("at least {lo}"));
            }
        }
        if let Some(hi) = self.max {
            if n > hi {
                return Err(format!("at most {hi}"));
            }
        }
        Ok(())
    }
}

/// VM exits of one reason.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitExpect {
    /// The exit reason's name as the core reports it (`cr3-write`, `hlt`, `io`, …).
    pub reason: String,
    /// How many.
    #[serde(flatten)]
    pub count: CountExpect,
}

/// What a test checks after the run.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// How the run must stop (default: halted).
    #[serde(default)]
    pub stop: StopExpect,
    /// The debug-exit value, when `stop = "debug-exit"`.
    #[serde(default)]
    pub exit_code: Option<u8>,
    /// Registers by name (`eax`…`edi`, `eip`, `eflags`, `cr0`, `cr2`, `cr3`, `cr4`, `cpl`, `cs`…`gs`).
    #[serde(default)]
    pub regs: BTreeMap<String, RegExpect>,
    /// The whole serial output.
    #[serde(default)]
    pub serial: Option<String>,
    /// Strings the serial output must contain.
    #[serde(default)]
    pub serial_contains: Vec<String>,
    /// Strings the serial output must not contain.
    #[serde(default)]
    pub serial_absent: Vec<String>,
    /// Physical memory contents.
    #[serde(default)]
    pub mem: Vec<MemBytes>,
    /// Translations through the final page tables.
    #[serde(default)]
    pub pages: Vec<PageExpect>,
    /// VM exits by reason.
    #[serde(default)]
    pub exits: Vec<ExitExpect>,
    /// Popek–Goldberg reports (sensitive unprivileged instructions seen by the VMM).
    #[serde(default)]
    pub sensitive: Option<CountExpect>,
    /// The sectors of the test's disk that changed: exactly these, in any order.
    #[serde(default)]
    pub disk_changed: Option<Vec<u32>>,
    /// Sectors that must hold what other sectors held at the start.
    #[serde(default)]
    pub disk_copies: Vec<DiskCopy>,
    /// Linux-program tests: the exit status (128 + N for signal N).
    #[serde(default)]
    pub status: Option<i32>,
}

/// Most sectors a test's disk may have (4 MiB).
pub const MAX_DISK_SECTORS: u32 = 8192;

/// A virtio-blk disk a test attaches (`disk = { sectors = 2048, seed = 7 }`): byte `i`
/// of the image is a pattern of `seed`, so a program can only know a sector by
/// reading it.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DiskSpec {
    /// Its size in 512-byte sectors (1..=[`MAX_DISK_SECTORS`]).
    pub sectors: u32,
    /// The pattern's seed.
    pub seed: u32,
}

impl DiskSpec {
    /// The disk's contents at the start of the test.
    pub fn image(&self) -> Result<Vec<u8>, String> {
        if self.sectors == 0 || self.sectors > MAX_DISK_SECTORS {
            return Err(format!(
                "test setup: disk.sectors must be 1..={MAX_DISK_SECTORS}, not {}",
                self.sectors
            ));
        }
        let mut x = u64::from(self.seed) ^ 0x9e37_79b9_7f4a_7c15;
        Ok((0..self.sectors as usize * 512)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect())
    }
}

/// A sector that must hold, after the run, what sector `from` held at the start.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskCopy {
    /// The sector copied.
    pub from: u32,
    /// Where its contents must be.
    pub to: u32,
}

/// One test.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    /// The name shown to the student (unique within the lab).
    pub name: String,
    /// Points for passing.
    #[serde(default = "one")]
    pub points: f64,
    /// VMM mode, by its name (`bare`, `trap-emulate`, `trap-emulate-ring2`, …; see
    /// [`ExecMode::name`]).
    #[serde(default)]
    pub mode: ExecMode,
    /// Guest RAM in MiB (default: the lab's).
    #[serde(default)]
    pub ram_mib: Option<u32>,
    /// Instruction budget (default: the lab's).
    #[serde(default)]
    pub budget: Option<u64>,
    /// Processors (default: the lab's).
    #[serde(default)]
    pub cpus: Option<u32>,
    /// The interleaving quantum of several CPUs (default: the lab's).
    #[serde(default)]
    pub quantum: Option<u64>,
    /// Call routine number `n` of the image's routine table (a dword table at the
    /// load address) with a return address that halts; absent: start at the load address.
    #[serde(default)]
    pub call: Option<u32>,
    /// Register values set before the run.
    #[serde(default)]
    pub regs: BTreeMap<String, u32>,
    /// Memory filled before the run.
    #[serde(default)]
    pub mem: Vec<MemBytes>,
    /// Bytes queued on the serial port's input.
    #[serde(default)]
    pub serial_input: String,
    /// A virtio-blk disk attached to the machine.
    #[serde(default)]
    pub disk: Option<DiskSpec>,
    /// Checks after the run.
    #[serde(default)]
    pub expect: Expect,
    /// Component labs: the differential cases this test runs.
    #[serde(default)]
    pub cases: Option<crate::component::CaseSelect>,
    /// Run the image as a static i386 Linux program under the process VM, this way.
    #[serde(default)]
    pub linux: Option<crate::linux_test::LinuxRun>,
    /// Run the submission as a VM of the multi-VM host under these balloon targets.
    #[serde(default)]
    pub balloon: Option<crate::balloon_test::BalloonRun>,
}

fn one() -> f64 {
    1.0
}

/// A parsed test file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The tests, in order.
    #[serde(default, rename = "test")]
    pub tests: Vec<TestSpec>,
}

impl TestFile {
    /// Parses a test file; `what` names it in errors.
    pub fn parse(what: &str, text: &str) -> Result<TestFile, String> {
        let f: TestFile = vmlab_net::toml_de::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        for t in &f.tests {
            if !(t.points.is_finite() && t.points >= 0.0) {
                return Err(format!("{what}: test {:?} has bad points", t.name));
            }
            for m in &t.mem {
                m.to_bytes()
                    .map_err(|e| format!("{what}: test {:?}: {e}", t.name))?;
            }
            for m in &t.expect.mem {
                m.to_bytes()
                    .map_err(|e| format!("{what}: test {:?}: {e}", t.name))?;
            }
            for r in t.regs.keys().chain(t.expect.regs.keys()) {
                if crate::regs::Reg::parse(r).is_none() {
                    return Err(format!("{what}: test {:?}: unknown register {r:?}", t.name));
                }
            }
        }
        Ok(f)
    }
}
