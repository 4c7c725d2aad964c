//! Component labs: the traits a Rust submission implements, the cases it is tried on,
//! and the line protocol between the grader and the submission's process.
//!
//! The grader builds the submission as a small program whose `main` calls one of the
//! `serve` functions here; it writes one case per line on the program's standard
//! input and reads one answer per line back, on a pipe of its own (the descriptor in
//! `VMLAB_ANSWER_FD`), then compares each answer with the reference's (see
//! `native::component`). A panic in the submission answers that case
//! with `panic: …` and the program goes on with the next case.

pub mod gc_cases;
pub mod gc_mark;
pub mod jvm_bytecodes;
pub mod jvm_cases;
pub mod shadow;
pub mod shift;
pub mod switch;
// The process VM's memory-call trait. `memcalls.rs` here is a link to the process VM's
// file, so the API crate that submissions build against (no dependencies) has it too.
#[cfg(feature = "harness")]
pub use vmlab_procvm::memcalls;
#[cfg(not(feature = "harness"))]
pub mod memcalls;
pub mod precopy_cases;
pub mod procmem;
// The pre-copy engine's stop-policy interface. `stop_policy.rs` here is a link to the
// migration crate's file, so the API crate has it too.
#[cfg(feature = "harness")]
pub use vmlab_migrate::stop_policy;
#[cfg(not(feature = "harness"))]
pub mod stop_policy;
// The translator's ALU family. `xlate_alu.rs` is compiled by the core as its IR's
// operands and the family's trait; with the harness this is that very module.
#[cfg(feature = "harness")]
pub use emulator_core::translate::alu_family::api as xlate_alu;
#[cfg(not(feature = "harness"))]
pub mod xlate_alu;
pub mod xlate_cases;

use std::io::{BufRead, Write};

/// The components a lab can ask for (`component` in `lab.toml`).
pub const COMPONENTS: [&str; 8] = [
    "shift-rotate",
    "shadow-fill",
    "learning-switch",
    "procvm-memory",
    "jvm-bytecodes",
    "gc-mark",
    "xlate-alu",
    "precopy-stop",
];

/// Which cases a component-lab test runs through the differential driver.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "harness", derive(serde::Deserialize))]
#[cfg_attr(feature = "harness", serde(deny_unknown_fields))]
pub struct CaseSelect {
    /// Operation or scenario names to include (empty: all).
    #[cfg_attr(feature = "harness", serde(default))]
    pub select: Vec<String>,
    /// Operand sizes in bits to include (empty: all).
    #[cfg_attr(feature = "harness", serde(default))]
    pub sizes: Vec<u8>,
    /// Include the hand-picked edge cases.
    #[cfg_attr(feature = "harness", serde(default))]
    pub edge: bool,
    /// Random cases to add.
    #[cfg_attr(feature = "harness", serde(default))]
    pub random: u32,
    /// Seed of the random cases.
    #[cfg_attr(feature = "harness", serde(default))]
    pub seed: u64,
}

/// A small deterministic generator (SplitMix64) for random cases; the same seed gives
/// the same cases on every host.
#[derive(Clone, Debug)]
pub struct CaseRng(u64);

impl CaseRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        CaseRng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// One of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// Parses a hexadecimal field (with or without `0x`).
pub fn parse_hex(field: Option<&str>) -> Result<u32, String> {
    let f = field.ok_or("missing field")?;
    let digits = f.strip_prefix("0x").unwrap_or(f);
    u32::from_str_radix(digits, 16).map_err(|_| format!("bad number {f:?}"))
}

/// Where answers go: the descriptor the grader names in `VMLAB_ANSWER_FD` (its own
/// pipe, so the submission's `println!` cannot disturb the protocol), or standard
/// output when the program is run by hand.
fn answer_channel() -> Box<dyn Write> {
    #[cfg(unix)]
    if let Some(fd) = std::env::var("VMLAB_ANSWER_FD")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|&fd| fd > 2)
    {
        use std::os::fd::FromRawFd;
        // SAFETY: the grader opens this descriptor for the program and nothing else
        // in the process owns it; it is taken once, here.
        #[allow(unsafe_code)]
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        return Box::new(file);
    }
    Box::new(std::io::stdout())
}

/// Answers cases from standard input until it closes: `answer` turns one case line
/// into one answer line, sent at once; a panic answers `panic: …`.
pub fn serve(answer: &dyn Fn(&str) -> Result<String, String>) {
    std::panic::set_hook(Box::new(|_| {}));
    let stdin = std::io::stdin();
    let mut out = answer_channel();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let reply = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| answer(&line))) {
            Ok(Ok(reply)) => reply,
            Ok(Err(bad_case)) => format!("error: {bad_case}"),
            Err(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                format!("panic: {}", msg.replace('\n', " "))
            }
        };
        // One write and a flush per case: an answer given is never lost to a later hang.
        if writeln!(out, "{reply}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
}
