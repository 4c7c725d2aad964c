//! The two collectors over [`Heap`]: mark-sweep (mark from the roots with a work
//! list, sweep the rest into a coalesced free list) and semi-space copying (Cheney's
//! breadth-first copy into the other half, roots and fields rewritten to the copies).
//! Both count their work as the pause, in steps: an object visited or a reference
//! followed is one step.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use serde::Serialize;

use super::{Heap, BASE};
use crate::component::gc_mark::{MarkHeap, Marker};

/// What the collectors have done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GcStats {
    pub collections: u64,
    /// Steps of the last collection (objects visited + references followed + objects swept or copied).
    pub last_pause_steps: u64,
    pub total_pause_steps: u64,
    pub max_pause_steps: u64,
    pub bytes_reclaimed: u64,
    pub objects_reclaimed: u64,
    pub objects_moved: u64,
    pub allocated_bytes: u64,
    pub allocated_objects: u64,
    /// Objects live after the last collection.
    pub live_after_last: u64,
}

fn finish(heap: &mut Heap, steps: u64, reclaimed_bytes: u64, reclaimed_objects: u64) {
    let s = &mut heap.stats;
    s.collections += 1;
    s.last_pause_steps = steps;
    s.total_pause_steps += steps;
    s.max_pause_steps = s.max_pause_steps.max(steps);
    s.bytes_reclaimed += reclaimed_bytes;
    s.objects_reclaimed += reclaimed_objects;
    s.live_after_last = heap.objects.len() as u64;
}

#[path = "../../../assignments/labs/gc-mark/solution.rs"]
mod solution;

/// The collector's own mark phase (the gc-mark lab's reference solution).
pub static REFERENCE_MARK: solution::Submission = solution::Submission;

/// The heap as a [`Marker`] sees it; counts the objects it asks about as the pause.
struct Marking<'h> {
    heap: &'h mut Heap,
    steps: u64,
}

impl MarkHeap for Marking<'_> {
    fn is_object(&self, addr: u32) -> bool {
        addr != 0 && self.heap.objects.contains_key(&addr)
    }

    fn is_marked(&self, addr: u32) -> bool {
        self.heap.objects.get(&addr).is_some_and(|o| o.marked)
    }

    fn set_marked(&mut self, addr: u32) {
        if let Some(o) = self.heap.objects.get_mut(&addr) {
            o.marked = true;
        }
    }

    fn refs(&self, addr: u32) -> Vec<u32> {
        self.heap
            .objects
            .get(&addr)
            .map(|o| o.body.refs())
            .unwrap_or_default()
    }

    fn objects(&self) -> Vec<u32> {
        self.heap.objects.keys().copied().collect()
    }
}

/// Mark from `roots` with `marker`, then sweep.
pub fn mark_sweep(heap: &mut Heap, roots: &mut [u32], marker: &dyn Marker) {
    for o in heap.objects.values_mut() {
        o.marked = false;
        o.moved_from = None;
    }
    let mut m = Marking { heap, steps: 0 };
    marker.mark(&mut m, roots);
    // The pause: every object marked and every reference it holds, once each.
    m.steps = m
        .heap
        .objects
        .values()
        .filter(|o| o.marked)
        .map(|o| 1 + o.body.refs().len() as u64)
        .sum();
    let Marking { heap, mut steps } = m;
    let before = heap.objects.len();
    let mut reclaimed = 0u64;
    heap.objects.retain(|_, o| {
        steps += 1;
        if !o.marked {
            reclaimed += o.size as u64;
        }
        o.marked
    });
    let freed = (before - heap.objects.len()) as u64;
    // The free list is the gaps between the survivors, so it is always coalesced.
    let mut free = Vec::new();
    let mut at = BASE;
    for (&a, o) in &heap.objects {
        if a > at {
            free.push((at, a - at));
        }
        at = a + o.size;
    }
    let end = BASE + heap.capacity;
    if end > at {
        free.push((at, end - at));
    }
    heap.free = free;
    finish(heap, steps, reclaimed, freed);
}

struct Copier {
    old: BTreeMap<u32, super::Object>,
    forward: BTreeMap<u32, u32>,
    next: u32,
    queue: Vec<u32>,
    steps: u64,
}

impl Copier {
    /// The new address of `a`, copying it on first sight.
    fn copy(&mut self, a: u32, heap: &mut Heap) -> u32 {
        self.steps += 1;
        if a == 0 {
            return 0;
        }
        if let Some(&n) = self.forward.get(&a) {
            return n;
        }
        let Some(mut o) = self.old.remove(&a) else {
            return a;
        };
        let n = self.next;
        self.next += o.size;
        o.moved_from = Some(a);
        o.marked = true;
        heap.objects.insert(n, o);
        self.forward.insert(a, n);
        self.queue.push(n);
        n
    }
}

/// Copy everything reachable from `roots` into the other half.
pub fn copying(heap: &mut Heap, roots: &mut [u32]) {
    let half = heap.capacity / 2;
    let to_base = if heap.from_base == BASE {
        BASE + half
    } else {
        BASE
    };
    let old = core::mem::take(&mut heap.objects);
    let before_bytes: u64 = old.values().map(|o| o.size as u64).sum();
    let before_objects = old.len() as u64;
    let mut c = Copier {
        old,
        forward: BTreeMap::new(),
        next: to_base,
        queue: Vec::new(),
        steps: 0,
    };
    for r in roots.iter_mut() {
        *r = c.copy(*r, heap);
    }
    let mut scan = 0;
    while scan < c.queue.len() {
        let n = c.queue[scan];
        scan += 1;
        let mut refs = Vec::new();
        if let Some(o) = heap.objects.get_mut(&n) {
            o.body.refs_mut(|a| refs.push(*a));
        }
        let moved: Vec<u32> = refs.into_iter().map(|a| c.copy(a, heap)).collect();
        if let Some(o) = heap.objects.get_mut(&n) {
            let mut it = moved.into_iter();
            o.body.refs_mut(|a| {
                if let Some(m) = it.next() {
                    *a = m;
                }
            });
        }
    }
    let live_bytes: u64 = heap.objects.values().map(|o| o.size as u64).sum();
    heap.stats.objects_moved += heap.objects.len() as u64;
    heap.from_base = to_base;
    heap.bump = c.next;
    let reclaimed_objects = before_objects - heap.objects.len() as u64;
    finish(heap, c.steps, before_bytes - live_bytes, reclaimed_objects);
}
