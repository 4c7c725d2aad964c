//! Content-based page sharing: scan frames at a bounded rate, hash them, compare candidates byte for byte, and merge equal ones copy-on-write (a guest write copies the frame again).

use alloc::collections::BTreeMap;
use alloc::sync::Arc;

use emulator_core::memory::HostFrame;

use crate::vm::{Vm, VmState};

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
            let other = self.seen.get(&h).copied();
            let twin = other.and_then(|(ov, og)| {
                if (ov, og) == (vi, gfn) {
                    return None;
                }
                vms.get(ov)
                    .filter(|v| v.state != VmState::Destroyed)
                    .and_then(|v| v.machine.pooled_ram())
                    .and_then(|r| r.slot(og))
                    .cloned()
            });
            match twin {
                Some(t) if Arc::ptr_eq(&t, &frame) => {}
                Some(t) if *t == *frame => {
                    drop(frame);
                    self.merge(vms, vi, gfn, Some(t));
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
    }

    fn merge(&mut self, vms: &mut [Vm], vi: usize, gfn: usize, into: Option<Arc<HostFrame>>) {
        if let Some(vm) = vms.get_mut(vi) {
            if let Some(ram) = vm.machine.pooled_ram_mut() {
                ram.replace(gfn, into);
                vm.mem.merged += 1;
                self.merged += 1;
            }
        }
    }
}
