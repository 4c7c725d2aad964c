// reference solution: gc-mark (vmlab component lab)
//! The mark phase as vmlab's mark-sweep collector runs it: depth-first from the
//! roots with an explicit work list (no recursion, so a long list cannot overflow
//! the stack), each object marked once, so cycles end.

use assignments::component::gc_mark::{MarkHeap, Marker, Vec};

/// The reference implementation.
#[derive(Debug)]
pub struct Submission;

impl Marker for Submission {
    fn mark(&self, heap: &mut dyn MarkHeap, roots: &[u32]) {
        let mut work: Vec<u32> = roots.to_vec();
        while let Some(a) = work.pop() {
            if !heap.is_object(a) || heap.is_marked(a) {
                continue;
            }
            heap.set_marked(a);
            work.extend(heap.refs(a));
        }
    }
}
