//! The shadow-page-table fill component: on a page fault under shadow paging, decide
//! from the guest's own PDE and PTE whether the fault is the guest's (a *true* fault,
//! injected with its error code) or the VMM's (a *hidden* fault: build the shadow PTE
//! and set the guest's accessed/dirty bits as the real MMU would have).
//!
//! The rules, from the Intel SDM vol. 3 (4.3, 4.6, 4.8) for 32-bit paging:
//! - a not-present PDE or PTE is a true fault with error code P = 0;
//! - with both present, the effective U/S and R/W are the AND of the two levels
//!   (a 4 MiB page, PDE.PS with CR4.PSE, has the PDE's only); a user access to a
//!   supervisor page, a user write to a read-only page, or a supervisor write to a
//!   read-only page with CR0.WP set is a true fault with P = 1;
//! - error code bits: 0 P, 1 W/R (a write), 2 U/S (a user access);
//! - a hidden fault sets A in the PDE and in the PTE (for a 4 MiB page, only the
//!   PDE has one), and D in the PTE (or the 4 MiB PDE) on a write. A true fault
//!   leaves the guest's entries unchanged.
//!
//! The shadow PTE holds the host frame (`host_base` + the guest-physical frame; for a
//! 4 MiB guest page, the 4 KiB frame of the faulting address) and the bits P, U/S,
//! R/W, A and D (bits 0, 2, 1, 5, 6), nothing else:
//! - U/S is the effective U/S;
//! - R/W is set only when writes are allowed and the guest entry is already dirty
//!   after this access, so that the first write to a clean page faults again and
//!   the VMM can set the guest's D bit; D is set exactly when R/W is;
//! - the exception: a supervisor write to a read-only page with CR0.WP clear is
//!   allowed; the shadow then maps the page read/write but supervisor-only
//!   (U/S = 0) so user code still cannot write it.

use super::{parse_hex, CaseRng};

/// Present.
pub const P: u32 = 1 << 0;
/// Read/write.
pub const RW: u32 = 1 << 1;
/// User/supervisor.
pub const US: u32 = 1 << 2;
/// Accessed.
pub const A: u32 = 1 << 5;
/// Dirty.
pub const D: u32 = 1 << 6;
/// Page size (in a PDE: a 4 MiB page when CR4.PSE is set).
pub const PS: u32 = 1 << 7;

/// The fault being handled and the guest's entries for its linear address.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FillInput {
    /// The faulting linear address (CR2).
    pub linear: u32,
    /// The guest's PDE for it.
    pub pde: u32,
    /// The guest's PTE for it (meaningless when the PDE is not present or maps a 4 MiB page).
    pub pte: u32,
    /// The access was a write.
    pub write: bool,
    /// The access was made at CPL 3.
    pub user: bool,
    /// The guest's CR0.WP.
    pub wp: bool,
    /// The guest's CR4.PSE.
    pub pse: bool,
    /// Host-physical address of guest-physical 0 (guest RAM is contiguous on the host).
    pub host_base: u32,
}

/// What the VMM does with the fault.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FillResult {
    /// The guest's tables deny the access: inject #PF with this error code.
    TrueFault {
        /// The #PF error code (P, W/R, U/S).
        error_code: u32,
    },
    /// A hidden fault: install `shadow_pte` and write back the guest's entries.
    Fill {
        /// The shadow PTE to install.
        shadow_pte: u32,
        /// The guest's PDE with its A (and, for a 4 MiB page, D) bit updated.
        guest_pde: u32,
        /// The guest's PTE with A and D updated (unchanged for a 4 MiB page).
        guest_pte: u32,
    },
}

/// What a submission implements.
pub trait ShadowFill {
    /// Handles one shadow-paging fault.
    fn fill(&self, input: &FillInput) -> FillResult;
}

impl FillInput {
    /// Whether the PDE maps a 4 MiB page.
    pub fn large(&self) -> bool {
        self.pse && self.pde & PS != 0
    }
    /// `not-present`, `small` or `large`: the kind of case, for selecting tests.
    pub fn category(&self) -> &'static str {
        if self.pde & P == 0 || (!self.large() && self.pte & P == 0) {
            "not-present"
        } else if self.large() {
            "large"
        } else {
            "small"
        }
    }
    /// The line sent to the submission: `linear pde pte write user wp pse host_base`.
    pub fn to_line(&self) -> String {
        format!(
            "{:x} {:x} {:x} {} {} {} {} {:x}",
            self.linear,
            self.pde,
            self.pte,
            u8::from(self.write),
            u8::from(self.user),
            u8::from(self.wp),
            u8::from(self.pse),
            self.host_base
        )
    }
    /// Parses [`FillInput::to_line`]'s output.
    pub fn from_line(line: &str) -> Result<FillInput, String> {
        let mut f = line.split_whitespace();
        let linear = parse_hex(f.next())?;
        let pde = parse_hex(f.next())?;
        let pte = parse_hex(f.next())?;
        let mut flag = || -> Result<bool, String> {
            match f.next() {
                Some("0") => Ok(false),
                Some("1") => Ok(true),
                other => Err(format!("bad flag {other:?}")),
            }
        };
        let (write, user, wp, pse) = (flag()?, flag()?, flag()?, flag()?);
        let host_base = parse_hex(f.next())?;
        Ok(FillInput {
            linear,
            pde,
            pte,
            write,
            user,
            wp,
            pse,
            host_base,
        })
    }
    /// A readable description.
    pub fn describe(&self) -> String {
        format!(
            "{} {} at {:#010x}, PDE {:#010x}, PTE {:#010x}, CR0.WP={} CR4.PSE={} host base {:#x}",
            if self.user { "user" } else { "supervisor" },
            if self.write { "write" } else { "read" },
            self.linear,
            self.pde,
            self.pte,
            u8::from(self.wp),
            u8::from(self.pse),
            self.host_base
        )
    }
}

/// Formats a result as an answer line: `fault EC` or `fill SHADOW PDE PTE` (hex).
pub fn answer_line(r: FillResult) -> String {
    match r {
        FillResult::TrueFault { error_code } => format!("fault {error_code:x}"),
        FillResult::Fill {
            shadow_pte,
            guest_pde,
            guest_pte,
        } => format!("fill {shadow_pte:x} {guest_pde:x} {guest_pte:x}"),
    }
}

/// Parses [`answer_line`]'s output.
pub fn parse_answer(line: &str) -> Result<FillResult, String> {
    let mut f = line.split_whitespace();
    match f.next() {
        Some("fault") => Ok(FillResult::TrueFault {
            error_code: parse_hex(f.next())?,
        }),
        Some("fill") => Ok(FillResult::Fill {
            shadow_pte: parse_hex(f.next())?,
            guest_pde: parse_hex(f.next())?,
            guest_pte: parse_hex(f.next())?,
        }),
        _ => Err(format!("answered {line:?}")),
    }
}

fn show(r: &FillResult) -> String {
    match *r {
        FillResult::TrueFault { error_code } => format!("true fault, error code {error_code:#x}"),
        FillResult::Fill {
            shadow_pte,
            guest_pde,
            guest_pte,
        } => format!(
            "fill: shadow PTE {shadow_pte:#010x}, guest PDE {guest_pde:#010x}, guest PTE {guest_pte:#010x}"
        ),
    }
}

/// Compares a submission's answer line with the reference result.
pub fn compare(input: &FillInput, want: FillResult, got_line: &str) -> Result<(), String> {
    let got = parse_answer(got_line).map_err(|e| format!("{}: {e}", input.describe()))?;
    if got != want {
        return Err(format!(
            "{}: expected {}, got {}",
            input.describe(),
            show(&want),
            show(&got)
        ));
    }
    Ok(())
}

/// The cases a test selects: the edge cases (every combination of the P, R/W, U/S,
/// PS and D bits with every kind of access), then `random` seeded ones.
pub fn cases(select: &super::CaseSelect) -> Vec<FillInput> {
    let keep =
        |c: &FillInput| select.select.is_empty() || select.select.iter().any(|s| s == c.category());
    let mut out = Vec::new();
    if select.edge {
        for pde_bits in 0..16u32 {
            let bit = |n: u32, flag: u32| if (pde_bits >> n) & 1 != 0 { flag } else { 0 };
            let pde_flags = bit(0, P) | bit(1, RW) | bit(2, US) | bit(3, PS);
            for pte_bits in 0..16u32 {
                let bit = |n: u32, flag: u32| if (pte_bits >> n) & 1 != 0 { flag } else { 0 };
                let pte_flags = bit(0, P) | bit(1, RW) | bit(2, US) | bit(3, D);
                for access in 0..8u32 {
                    for pse in [false, true] {
                        let c = FillInput {
                            linear: 0x0040_3123,
                            pde: 0x0012_3000
                                | pde_flags
                                | if pde_bits & 8 != 0 { 0x0080_0000 } else { 0 },
                            pte: 0x0045_6000 | pte_flags,
                            write: access & 1 != 0,
                            user: access & 2 != 0,
                            wp: access & 4 != 0,
                            pse,
                            host_base: 0x0100_0000,
                        };
                        if keep(&c) {
                            out.push(c);
                        }
                    }
                }
            }
        }
    }
    let mut rng = CaseRng::new(select.seed);
    let bases = [0, 0x0010_0000, 0x0200_0000, 0x4000_0000];
    let mut tries = 0u32;
    let mut added = 0u32;
    while added < select.random && tries < select.random.saturating_mul(50) {
        tries += 1;
        let mut pde = rng.next_u32() & !0x0000_0f00;
        let mut pte = rng.next_u32() & !0x0000_0f00;
        if !rng.next_u32().is_multiple_of(8) {
            pde |= P;
        }
        if !rng.next_u32().is_multiple_of(8) {
            pte |= P;
        }
        // Keep host frames inside 32 bits.
        pde &= 0x3fff_ffff;
        pte &= 0x3fff_ffff;
        let c = FillInput {
            linear: rng.next_u32(),
            pde,
            pte,
            write: rng.next_u32() & 1 != 0,
            user: rng.next_u32() & 1 != 0,
            wp: rng.next_u32() & 1 != 0,
            pse: rng.next_u32() & 1 != 0,
            host_base: rng.pick(&bases),
        };
        if keep(&c) {
            out.push(c);
            added += 1;
        }
    }
    out
}

/// The component's program body: answers fill cases on standard input with `imp`.
pub fn serve(imp: &dyn ShadowFill) {
    super::serve(&|line| FillInput::from_line(line).map(|c| answer_line(imp.fill(&c))));
}
