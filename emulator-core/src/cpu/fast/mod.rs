//! The pre-decoded fast tier: code pages decoded once into compact operations with a
//! handler specialised per instruction form, run in a loop that stays on the current
//! code page. Anything the tier does not specialise, or any access off its fast path,
//! goes to the general interpreter for that one instruction.
//!
//! The tier runs only where its shortcuts hold: 32-bit protected mode with flat CS, DS,
//! ES and SS (base 0, limit 4 GiB), no single-step trap, no breakpoint watch, and no
//! VMM or one that lets plain instructions run natively (its per-instruction check
//! passes every form the tier specialises: none is privileged or sensitive). A handler
//! either completes its instruction or changes nothing and declines, so the machine
//! state after a run is the one the general interpreter produces; only the decode-cache
//! and TLB-hit counters differ (instruction fetches from the tier's pages are not
//! counted there).
//!
//! An operation's kind selects its handler. The loop over a page's operations
//! (`Machine::fast_ops`) dispatches with one `match` over every kind, each handler
//! inlined into it, which Wasm engines and native code both run as a jump table. A
//! flag-setting operation that a Jcc follows on the same page is decoded as a fused
//! pair (one of its kind's twins): one dispatch retires both instructions, and the
//! pair runs only when the budget and the next device deadline leave room for two, so
//! time stays exact. For JE/JNE and JB/JAE the twin tests ZF or CF itself, right where
//! the handler computed it; for the other conditions the loop evaluates the flags.
//!
//! The loop carries the offset in the page rather than the EIP, and every operation
//! holds the page offsets it continues at (the next instruction, a branch target, the
//! end of a fused pair). Finding the next operation then waits only for one load from
//! the current one, and the chain from one dispatch to the next stays that short.
//!
//! A fused Jcc that jumps forward over exactly one register-only operation (an ALU,
//! MOV, LEA, shift or IMUL form on registers) is if-converted: that operation runs
//! whichever way the Jcc goes, and its register and flags are put back when the Jcc is
//! taken (and only when the budget leaves room for all three). The host then has no
//! branch on a condition the guest takes at random (the bit test of a CRC loop, a
//! conditional increment); only the count of retired instructions depends on it.
//!
//! Operations are cached per physical page and keyed by the offset in the page, with
//! relative branch targets stored as page offsets, so a page mapped at several linear
//! addresses shares its operations. A page is dropped when a write bumps its code
//! generation (self-modifying code); the tier's own stores never touch a page that
//! holds decoded code, they leave those to the general path.

mod build;
mod ops;

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use crate::descriptor::{self, attr};
use crate::machine::Machine;
use crate::mmu::access;
use crate::state::{cr0, flags, Segment};

use super::{CS, DS, ES, SS};

/// A handler's answer when the general interpreter must run the instruction.
pub(crate) const DECLINE: u64 = 1 << 32;
/// The answer of an operation not decoded yet: decode it, then run it.
pub(crate) const DECODE: u64 = 1 << 33;
/// Set in a handler's answer when the operation's fused Jcc is to run: two
/// instructions retire.
pub(crate) const PAIR: u64 = 1 << 34;
/// Set with [`PAIR`] when the handler's arm evaluated the fused Jcc's condition.
pub(crate) const KNOWN: u64 = 1 << 35;
/// Set with [`KNOWN`] when the fused Jcc jumps.
pub(crate) const TAKEN: u64 = 1 << 36;

/// One pre-decoded instruction (32 bytes, so a page offset indexes with a shift).
#[derive(Clone, Copy, Debug)]
#[repr(align(32))]
pub(crate) struct Op {
    /// The specialised handler. A handler executes the operation and returns the page
    /// offset of the next instruction, or changes nothing and returns [`DECLINE`] (the
    /// general interpreter then runs the instruction). `Machine::cpu.eip` is not kept
    /// up to date while the tier runs.
    pub kind: ops::Kind,
    /// Instruction length in bytes.
    pub len: u8,
    /// Offset in the page of the instruction after this one (past the page end when
    /// it starts on the next page).
    pub next: u16,
    /// Memory operand size in bytes (1, 2 or 4).
    pub size: u8,
    /// Destination (or only) register number; the condition code of a Jcc.
    pub r0: u8,
    /// Source register number.
    pub r1: u8,
    /// Effective address: base and index register numbers (`NO_REG` when absent) and
    /// the index scale as a shift.
    pub base: u8,
    pub index: u8,
    pub scale: u8,
    /// Immediate operand, or the branch displacement from the next instruction.
    pub imm: u32,
    /// Address displacement.
    pub disp: u32,
    /// The fused Jcc's condition code (a kind with a Jcc fused in runs the Jcc that
    /// follows its instruction in the same dispatch).
    pub cc: u8,
    /// Page offset of the instruction after the fused Jcc.
    pub after: u16,
    /// Page offset of a branch target (wrapping: past the page when the target is on
    /// another page): the fused Jcc's, or a relative JMP, CALL or Jcc's own.
    pub target: u32,
    /// The fused Jcc's displacement when it jumps forward by 1 to 15 bytes (it may skip
    /// exactly one instruction), else 0.
    pub skip: u8,
}

// An operation stays 32 bytes: a page of them is 128 KiB, indexed with a shift.
const _: () = assert!(core::mem::size_of::<Op>() == 32);

/// Number of code pages the tier keeps (direct-mapped by physical page number).
const PAGES: usize = 64;
/// Bytes per page.
const PAGE_BYTES: usize = 4096;

/// The operations decoded from one physical page.
#[derive(Clone, Debug)]
struct CodePage {
    /// Physical page address, or `u32::MAX` when the slot is empty.
    phys: u32,
    /// The page's code generation when it was decoded.
    generation: u32,
    /// Per byte offset: the operation starting there ([`ops::UNDECODED`] until the
    /// first time it runs); allocated when the slot is first used.
    ops: Option<Box<[Op; PAGE_BYTES]>>,
}

impl CodePage {
    fn empty() -> CodePage {
        CodePage {
            phys: u32::MAX,
            generation: 0,
            ops: None,
        }
    }

    /// Starts the slot over for physical page `phys`; returns its operations.
    fn reset(&mut self, phys: u32, generation: u32) -> &mut [Op; PAGE_BYTES] {
        self.phys = phys;
        self.generation = generation;
        let ops = self.ops.get_or_insert_with(|| {
            let v: Box<[Op]> = vec![ops::UNDECODED; PAGE_BYTES].into_boxed_slice();
            match v.try_into() {
                Ok(b) => b,
                Err(_) => unreachable_len(),
            }
        });
        ops.fill(ops::UNDECODED);
        ops
    }
}

/// A boxed slice of `PAGE_BYTES` elements always converts to an array; this is never
/// reached.
#[cold]
fn unreachable_len() -> Box<[Op; PAGE_BYTES]> {
    Box::new([ops::UNDECODED; PAGE_BYTES])
}

/// The fast tier's page cache and its switch.
#[derive(Clone, Debug)]
pub(crate) struct FastTier {
    pages: Vec<CodePage>,
    /// The tier is used at all (off: every instruction takes the general path).
    pub enabled: bool,
    /// The translating tier's cache, cleared with this one.
    pub xlate: crate::cpu::translate::Translator,
}

impl Default for FastTier {
    fn default() -> Self {
        FastTier {
            pages: vec![CodePage::empty(); PAGES],
            enabled: true,
            xlate: Default::default(),
        }
    }
}

impl FastTier {
    /// Forgets every decoded page (new ROM, restored snapshot, loaded image).
    pub fn clear(&mut self) {
        for p in &mut self.pages {
            p.phys = u32::MAX;
        }
        self.xlate.clear();
    }
}

/// The attribute bits of a present 32-bit code segment.
const PRESENT_CODE32: u16 = attr::PRESENT | attr::CODE_OR_DATA | attr::CODE | attr::BIG;

/// A flat data segment: base 0, limit 4 GiB, present, writable, expand-up.
#[inline(always)]
fn flat_data(s: &Segment) -> bool {
    s.base == 0 && s.limit == u32::MAX && descriptor::writable_data_up(s.attrs)
}

impl Machine {
    /// The tier's shortcuts hold for the current machine state.
    #[inline(always)]
    fn fast_eligible(&self) -> bool {
        self.cpu.fast.enabled && self.flat_eligible()
    }

    /// The shortcuts of the fast and translating tiers hold: flat 32-bit code and data,
    /// no single-step trap, no VMM check on plain instructions.
    #[inline(always)]
    pub(crate) fn flat_eligible(&self) -> bool {
        let c = &self.cpu;
        let cs = &c.seg[CS];
        self.vmm
            .as_deref()
            .is_none_or(|v| v.plain_instructions_native())
            && c.cr0 & cr0::PE != 0
            && c.eflags & (flags::TF | flags::VM) == 0
            && cs.base == 0
            && cs.limit == u32::MAX
            && cs.attrs & PRESENT_CODE32 == PRESENT_CODE32
            && flat_data(&c.seg[DS])
            && flat_data(&c.seg[ES])
            && flat_data(&c.seg[SS])
            && c.seg[SS].attrs & attr::BIG != 0
    }

    /// Runs instructions from the fast tier. The caller has taken the budget unit of the
    /// instruction at EIP; returns false when that instruction must go to the general
    /// interpreter. Later instructions take their units from `left` and run only while
    /// no between-instruction check is due.
    pub(crate) fn fast_run(&mut self, left: &mut u64) -> bool {
        if !self.fast_eligible() {
            return false;
        }
        let mut pages = core::mem::take(&mut self.cpu.fast.pages);
        *left += 1;
        let ran = self.fast_pages(&mut pages, left);
        self.cpu.fast.pages = pages;
        if !ran {
            *left -= 1;
        }
        ran
    }

    /// The physical page of the code at linear `lin`, when the TLB (or flat physical
    /// addressing) gives it without a walk.
    #[inline(always)]
    pub(crate) fn fast_code_page(&mut self, lin: u32) -> Option<u32> {
        if self.cpu.cr0 & cr0::PG == 0 {
            return Some(lin & !0xfff);
        }
        let acc = self.user_acc() | access::READ;
        self.tlb_lookup(lin, acc).map(|p| p & !0xfff)
    }

    fn fast_pages(&mut self, pages: &mut [CodePage], left: &mut u64) -> bool {
        // Instructions this run may retire: the budget, and for all but the first the
        // time left before the next between-instructions check (fast operations do no
        // I/O, so that deadline cannot move while they run).
        let due = self.cpu.attention.saturating_sub(self.cpu.tsc).max(1);
        let limit = (*left).min(due);
        let mut done: u64 = 0;
        let mut eip = self.cpu.eip;
        'pages: while done < limit {
            let Some(phys) = self.fast_code_page(eip) else {
                break;
            };
            let Some(page) = pages.get_mut((phys as usize >> 12) & (PAGES - 1)) else {
                break;
            };
            let fresh = page.phys == phys && page.generation == self.mem.generation(phys);
            let ops = match page.ops.as_deref_mut() {
                Some(ops) if fresh => ops,
                _ => {
                    let generation = self.mem.code_generation(phys);
                    page.reset(phys, generation)
                }
            };
            let lin_page = eip & !0xfff;
            let mut remaining = limit - done;
            loop {
                let (next, left, end) = self.fast_ops(ops, lin_page, eip, remaining);
                eip = next;
                remaining = left;
                match end {
                    End::Decode => {
                        let fresh = self.fast_decode(phys, eip);
                        if let Some(slot) = ops.get_mut((eip & 0xfff) as usize) {
                            *slot = fresh;
                        }
                    }
                    End::Page => break,
                    End::Stop => {
                        done = limit - remaining;
                        break 'pages;
                    }
                }
            }
            done = limit - remaining;
        }
        self.cpu.eip = eip;
        if done > 0 {
            self.cpu.tsc = self.cpu.tsc.wrapping_add(done);
            self.icount += done;
            self.counters.fast_instructions += done;
            self.cpu.interrupt_shadow = false;
            *left -= done;
        }
        done > 0
    }

    /// Runs operations of one page from `eip` while it stays on the page and at least
    /// two of `remaining` instructions are left (an operation retires at most two, and
    /// a Jcc's skip that makes it three runs only when three are left; the last one of
    /// the budget, or before the next device deadline, goes to the general path).
    /// Returns the EIP and instructions left where it ended, and why. Kept out of line
    /// so the dispatch loop carries only these few values.
    #[inline(never)]
    fn fast_ops(
        &mut self,
        ops: &[Op; PAGE_BYTES],
        lin_page: u32,
        eip: u32,
        mut remaining: u64,
    ) -> (u32, u64, End) {
        // The loop carries the offset in the page, and each operation holds the offset
        // of the one after it, so finding the next operation waits for one load.
        let mut off = eip.wrapping_sub(lin_page);
        while remaining >= 2 {
            let Some(op) = ops.get(off as usize) else {
                return (lin_page.wrapping_add(off), remaining, End::Page);
            };
            let at = ops::At {
                page: lin_page,
                next: op.next as u32,
            };
            let r = ops::exec(self, op, at);
            // A plain answer (no flag bits) goes straight back to the dispatch, so the
            // compiler can give each handler its own copy of it.
            if r <= u32::MAX as u64 {
                off = r as u32;
                remaining -= 1;
                continue;
            }
            if r & (DECLINE | DECODE) != 0 {
                let end = if r == DECODE { End::Decode } else { End::Stop };
                return (lin_page.wrapping_add(off), remaining, end);
            }
            // PAIR: the fused Jcc. A fused operation never branches, so where the pair
            // ends comes from the operation, not from the answer: the next dispatch
            // then does not wait for the condition the answer carries.
            let after = op.after as u32;
            let taken = if r & KNOWN != 0 {
                r & TAKEN != 0
            } else {
                self.cpu.flags.cond(op.cc)
            };
            remaining -= 2;
            // A Jcc over one register-only instruction: that instruction runs either
            // way and is undone when the Jcc is taken (no host branch on `taken`).
            let skipped = op.skip != 0
                && remaining >= 1
                && ops
                    .get(after as usize)
                    .is_some_and(|s| s.len == op.skip && ops::exec_undoable(self, s, taken));
            // Past a skipped instruction is the Jcc's target too.
            if skipped {
                remaining -= (!taken) as u64;
            }
            off = if skipped || taken { op.target } else { after };
        }
        (lin_page.wrapping_add(off), remaining, End::Stop)
    }
}

/// Why [`Machine::fast_ops`] returned.
#[derive(Clone, Copy, Debug)]
enum End {
    /// EIP left the page: look the next one up.
    Page,
    /// The operation at EIP is not decoded yet.
    Decode,
    /// The instruction at EIP goes to the general path (declined, or the budget or
    /// deadline leaves fewer than two instructions).
    Stop,
}
