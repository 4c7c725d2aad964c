//! The garbage-collection component: the mark phase of vmlab's JVM's mark-sweep
//! collector, behind the trait the collector calls. Only `core` and `alloc` are
//! used, so the collector (`no_std`) compiles this very file.

pub use alloc::vec::Vec;

/// The heap as the mark phase sees it: objects by address, their references and
/// their mark bits (all clear when marking starts).
pub trait MarkHeap {
    /// Whether an object starts at `addr` (0 is `null`, never an object).
    fn is_object(&self, addr: u32) -> bool;
    /// Whether the object at `addr` is marked.
    fn is_marked(&self, addr: u32) -> bool;
    /// Marks the object at `addr` (nothing happens for an address without one).
    fn set_marked(&mut self, addr: u32);
    /// The non-null references the object at `addr` holds, in field or element order
    /// (none for an address without an object).
    fn refs(&self, addr: u32) -> Vec<u32>;
    /// Every object's address, in address order (what the sweep walks).
    fn objects(&self) -> Vec<u32>;
}

/// What a submission implements: the mark phase.
pub trait Marker {
    /// Marks every object reachable from `roots` (a root may be 0 or repeated), and
    /// nothing else; the sweep then frees every unmarked object.
    fn mark(&self, heap: &mut dyn MarkHeap, roots: &[u32]);
}
