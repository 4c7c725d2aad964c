//! Content-based page sharing: scan frames at a bounded rate, hash them, compare candidates byte for byte, and merge equal ones copy-on-write: both VMs' P2M entries point at one shared machine frame, write-protected, and a guest write breaks the share through a `share-break` exit.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use emulator_core::memory::HostFrame;

use crate::vm::{Vm, VmState};

/// The first machine frame of the shared range: the host's zero frame, which every
/// frame merged into the zero page points at. Shared frames follow it; each VM's
/// own frames lie below it, from [`emulator_core::vmm::p2m::OFFSET_FRAMES`] up.
pub const SHARED_BASE: u32 = 0xc_0000;

/// The end (exclusive) of the shared range: the top of the 4 GiB machine space.
const SHARED_END: u32 = 0x10_0000;

/// The machine frame the host gives a new VM of `frames` guest frames: the lowest
/// range of its own that no live VM in `vms` holds (a lone VM gets the default layout).
pub fn home_base(vms: &[Vm], frames: u32) -> Result<u32, String> {
    let mut taken: Vec<(u32, u32)> = vms
        .iter()
        .filter(|v| v.state != VmState::Destroyed)
        .filter_map(|v| {
            let base = v.machine.vmm()?.p2m().base();
            Some((base, base + ((v.spec.ram_mib) << 8)))
        })
        .collect();
    taken.sort_unstable();
    let mut at = emulator_core::vmm::p2m::OFFSET_FRAMES;
    for (start, end) in taken {
        if at + frames <= start {
            break;
        }
        at = at.max(end);
    }
    if at + frames > SHARED_BASE {
        return Err(format!(
            "host: no machine range of {frames} frames is left below the shared frames at {SHARED_BASE:#x}"
        ));
    }
    Ok(at)
}

/// The scanner: a cursor over every VM's frames and a table of hashes seen.
#[derive(Debug, Default)]
pub struct Scanner {
    /// The next (VM, guest frame) to look at.
    cursor: (usize, usize),
    /// Hash → the frame that had it (VM, guest frame); checked again on a hit.
    seen: BTreeMap<u64, (usize, usize)>,
    /// Frames hashed.
    pub scanned: u64,
    /// Frames merged with another (zero frames included).
    pub merged: u64,
    /// Hash matches whose bytes differed.
    pub false_matches: u64,
    /// The next shared machine frame to hand out (after [`SHARED_BASE`]).
    next_shared: u32,
    /// This scan's merges, applied to the VMs' P2Ms at its end: (VM, guest frame) →
    /// shared machine frame.
    pending: BTreeMap<(usize, usize), u32>,
}

/// FNV-1a over a sample of the frame (16 words): candidates only, the merge compares
/// every byte.
pub fn hash(frame: &HostFrame) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..16 {
        let at = i * 256 + (i * 8) % 256;
        for b in &frame[at..at + 8] {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

impl Scanner {
    /// Looks at up to `budget` frames, merging each with an equal frame seen before.
    pub fn scan(&mut self, vms: &mut [Vm], budget: usize) {
        let mut left = budget;
        let total: usize = vms.iter().map(|v| (v.spec.ram_mib as usize) << 8).sum();
        let mut looked = 0;
        while left > 0 && looked < total {
            let (vi, gfn) = self.cursor;
            let Some(vm) = vms.get(vi) else {
                self.cursor = (0, 0);
                if vms.is_empty() {
                    return;
                }
                continue;
            };
            let frames = vm.ballooned.len();
            if gfn >= frames {
                self.cursor = (vi + 1, 0);
                continue;
            }
            self.cursor = (vi, gfn + 1);
            looked += 1;
            if vm.state == VmState::Destroyed {
                continue;
            }
            let Some(frame) = vm
                .machine
                .pooled_ram()
                .and_then(|r| r.slot(gfn))
                .filter(|f| Arc::strong_count(f) == 1)
                .cloned()
            else {
                continue;
            };
            left -= 1;
            self.scanned += 1;
            if frame.iter().all(|&b| b == 0) {
                drop(frame);
                self.merge(vms, vi, gfn, None);
                continue;
            }
            let h = hash(&frame);
            let twin = self.seen.get(&h).copied().and_then(|(ov, og)| {
                if (ov, og) == (vi, gfn) {
                    return None;
                }
                vms.get(ov)
                    .filter(|v| v.state != VmState::Destroyed)
                    .and_then(|v| v.machine.pooled_ram())
                    .and_then(|r| r.slot(og))
                    .map(|t| (t.clone(), ov, og))
            });
            match twin {
                Some((t, _, _)) if Arc::ptr_eq(&t, &frame) => {}
                Some((t, ov, og)) if *t == *frame => {
                    drop(frame);
                    self.merge(vms, vi, gfn, Some((t, ov, og)));
                }
                Some(_) => {
                    self.false_matches += 1;
                    self.seen.insert(h, (vi, gfn));
                }
                None => {
                    self.seen.insert(h, (vi, gfn));
                }
            }
        }
        self.apply(vms);
    }

    /// Merges (VM `vi`, guest frame `gfn`) into `into`'s host frame and (VM, guest
    /// frame), or into the zero page: the frame table takes the shared host frame
    /// now, the P2M entry the shared machine frame at the end of the scan.
    fn merge(
        &mut self,
        vms: &mut [Vm],
        vi: usize,
        gfn: usize,
        into: Option<(Arc<HostFrame>, usize, usize)>,
    ) {
        let machine = match &into {
            None => SHARED_BASE,
            Some((_, ov, og)) => match self.shared_machine_frame(vms, *ov, *og) {
                Some(m) => m,
                None => return,
            },
        };
        if let Some(vm) = vms.get_mut(vi) {
            if let Some(ram) = vm.machine.pooled_ram_mut() {
                ram.replace(gfn, into.map(|(t, _, _)| t));
                vm.mem.merged += 1;
                self.merged += 1;
                self.pending.insert((vi, gfn), machine);
            }
        }
    }

    /// The shared machine frame (VM `ov`, guest frame `og`) has or gets (`None`:
    /// the shared range is full).
    fn shared_machine_frame(&mut self, vms: &[Vm], ov: usize, og: usize) -> Option<u32> {
        if let Some(&m) = self.pending.get(&(ov, og)) {
            return Some(m);
        }
        let entry = vms.get(ov)?.machine.vmm()?.p2m().entry(og as u32);
        if entry.flags & emulator_core::vmm::p2m::flags::SHARED != 0 {
            return Some(entry.machine);
        }
        let m = self.allocate(vms)?;
        self.pending.insert((ov, og), m);
        Some(m)
    }

    /// A shared machine frame no live VM and no pending merge holds.
    fn allocate(&mut self, vms: &[Vm]) -> Option<u32> {
        let pending: BTreeSet<u32> = self.pending.values().copied().collect();
        for _ in SHARED_BASE + 1..SHARED_END {
            if self.next_shared <= SHARED_BASE || self.next_shared >= SHARED_END {
                self.next_shared = SHARED_BASE + 1;
            }
            let m = self.next_shared;
            self.next_shared += 1;
            let held = vms
                .iter()
                .filter(|v| v.state != VmState::Destroyed)
                .filter_map(|v| v.machine.vmm())
                .any(|v| v.p2m().sharer(m).is_some());
            if !held && !pending.contains(&m) {
                return Some(m);
            }
        }
        None
    }

    /// Points the VMs' P2M entries merged in this scan at their shared machine frames.
    fn apply(&mut self, vms: &mut [Vm]) {
        let pending = core::mem::take(&mut self.pending);
        let mut by_vm: BTreeMap<usize, Vec<(u32, u32)>> = BTreeMap::new();
        for ((vi, gfn), m) in pending {
            by_vm.entry(vi).or_default().push((gfn as u32, m));
        }
        for (vi, frames) in by_vm {
            if let Some(vm) = vms.get_mut(vi) {
                vm.machine.share_frames(&frames);
            }
        }
    }
}
