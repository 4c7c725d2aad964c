//! The heap: objects and arrays at byte addresses inside a fixed budget, allocated
//! first-fit from a free list (mark-sweep) or by bumping a pointer through one half
//! (semi-space copying), and a snapshot of it for the heap view.

mod gc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::Serialize;

pub use gc::{GcStats, REFERENCE_MARK};

/// The lowest address; 0 is `null`.
pub const BASE: u32 = 16;
/// Every object's header in bytes (class word, size word).
pub const HEADER: u32 = 16;

/// Which collector manages the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcKind {
    /// Mark from the roots, sweep the unmarked into the free list.
    MarkSweep,
    /// Copy the live objects from one half to the other (Cheney's scan).
    Copying,
}

impl GcKind {
    /// The CLI's and the views' name.
    pub fn name(self) -> &'static str {
        match self {
            GcKind::MarkSweep => "mark-sweep",
            GcKind::Copying => "copying",
        }
    }

    /// Parses `mark-sweep` or `copying`.
    pub fn parse(s: &str) -> Option<GcKind> {
        match s {
            "mark-sweep" => Some(GcKind::MarkSweep),
            "copying" => Some(GcKind::Copying),
            _ => None,
        }
    }
}

/// A value in a local, on the operand stack, in a field or in an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum Value {
    Int(i32),
    Long(i64),
    /// A heap address, 0 for `null`.
    Ref(u32),
    /// The second slot of a long, or an unset local.
    Top,
}

impl core::fmt::Display for Value {
    /// As the frame view prints it: `7`, `7L`, `null`, `@0x10`, `·` (unset).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Long(n) => write!(f, "{n}L"),
            Value::Ref(0) => f.write_str("null"),
            Value::Ref(a) => write!(f, "@{a:#x}"),
            Value::Top => f.write_str("·"),
        }
    }
}

/// What an object holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// An instance: its fields in layout order.
    Fields(Vec<Value>),
    /// A `java.lang.String`.
    Str(String),
    /// A `java.lang.StringBuilder`'s characters (kept beside the heap, not counted in its size).
    Builder(String),
    /// An array of `int`, `boolean`, `byte`, `char` or `short` (the descriptor letter).
    Ints(u8, Vec<i32>),
    /// An array of `long`.
    Longs(Vec<i64>),
    /// An array of references.
    Refs(Vec<u32>),
}

impl Body {
    /// The references it holds.
    pub fn refs(&self) -> Vec<u32> {
        match self {
            Body::Fields(f) => f
                .iter()
                .filter_map(|v| match v {
                    Value::Ref(a) if *a != 0 => Some(*a),
                    _ => None,
                })
                .collect(),
            Body::Refs(r) => r.iter().copied().filter(|&a| a != 0).collect(),
            _ => Vec::new(),
        }
    }

    fn refs_mut(&mut self, mut f: impl FnMut(&mut u32)) {
        match self {
            Body::Fields(fs) => {
                for v in fs {
                    if let Value::Ref(a) = v {
                        if *a != 0 {
                            f(a);
                        }
                    }
                }
            }
            Body::Refs(rs) => {
                for a in rs.iter_mut().filter(|a| **a != 0) {
                    f(a);
                }
            }
            _ => {}
        }
    }
}

/// One object on the heap.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// The class's index in the interpreter's class table.
    pub class: u32,
    /// Bytes it occupies, header included.
    pub size: u32,
    pub body: Body,
    /// Marked (or copied) by the last collection.
    pub marked: bool,
    /// Where the last copying collection moved it from.
    pub moved_from: Option<u32>,
}

/// The size of an object with `payload` bytes, rounded up to 8.
pub fn object_size(payload: usize) -> u32 {
    let n = (HEADER as usize)
        .saturating_add(payload)
        .min(u32::MAX as usize / 2);
    ((n + 7) & !7) as u32
}

/// The heap and its collector.
#[derive(Clone, Debug)]
pub struct Heap {
    pub kind: GcKind,
    /// Bytes of the whole heap (both halves for the copying collector).
    pub capacity: u32,
    pub objects: BTreeMap<u32, Object>,
    /// Mark-sweep: free ranges (address, length), sorted by address.
    free: Vec<(u32, u32)>,
    /// Copying: the current half's start, and its bump pointer.
    from_base: u32,
    bump: u32,
    pub stats: GcStats,
}

impl Heap {
    /// An empty heap of `capacity` bytes.
    pub fn new(kind: GcKind, capacity: u32) -> Heap {
        let capacity = capacity.clamp(256, 1 << 30) & !15;
        Heap {
            kind,
            capacity,
            objects: BTreeMap::new(),
            free: alloc::vec![(BASE, capacity)],
            from_base: BASE,
            bump: BASE,
            stats: GcStats::default(),
        }
    }

    /// Bytes in use by objects.
    pub fn used(&self) -> u32 {
        self.objects.values().map(|o| o.size).sum()
    }

    /// Places an object without collecting; `None` when there is no room.
    pub fn try_alloc(&mut self, class: u32, size: u32, body: Body) -> Option<u32> {
        let addr = match self.kind {
            GcKind::MarkSweep => {
                let i = self.free.iter().position(|&(_, len)| len >= size)?;
                let (a, len) = self.free[i];
                if len == size {
                    self.free.remove(i);
                } else {
                    self.free[i] = (a + size, len - size);
                }
                a
            }
            GcKind::Copying => {
                let end = self.from_base + self.capacity / 2;
                if self.bump.checked_add(size)? > end {
                    return None;
                }
                let a = self.bump;
                self.bump += size;
                a
            }
        };
        self.stats.allocated_bytes += size as u64;
        self.stats.allocated_objects += 1;
        self.objects.insert(
            addr,
            Object {
                class,
                size,
                body,
                marked: false,
                moved_from: None,
            },
        );
        Some(addr)
    }

    /// The object at `addr`.
    pub fn get(&self, addr: u32) -> Option<&Object> {
        self.objects.get(&addr)
    }

    /// The object at `addr`, mutably.
    pub fn get_mut(&mut self, addr: u32) -> Option<&mut Object> {
        self.objects.get_mut(&addr)
    }

    /// Collects with `roots` (rewritten in place when objects move).
    pub fn collect(&mut self, roots: &mut [u32]) {
        self.collect_with(roots, &gc::REFERENCE_MARK);
    }

    /// Collects with `roots`, marking with `marker` under mark-sweep.
    pub fn collect_with(&mut self, roots: &mut [u32], marker: &dyn crate::gc_mark::Marker) {
        match self.kind {
            GcKind::MarkSweep => gc::mark_sweep(self, roots, marker),
            GcKind::Copying => gc::copying(self, roots),
        }
    }

    /// A picture of the heap for a view.
    pub fn snapshot(&self, class_name: impl Fn(&Object) -> String) -> HeapSnapshot {
        let objects = self
            .objects
            .iter()
            .map(|(&addr, o)| SnapObject {
                addr,
                size: o.size,
                class: match &o.body {
                    Body::Ints(t, _) => alloc::format!("{}[]", base_type_name(*t)),
                    Body::Longs(_) => "long[]".into(),
                    Body::Refs(_) => alloc::format!("{}[]", class_name(o)),
                    _ => class_name(o),
                },
                refs: o.body.refs(),
                marked: o.marked,
                moved_from: o.moved_from,
                text: match &o.body {
                    Body::Str(s) | Body::Builder(s) => Some(s.chars().take(40).collect()),
                    _ => None,
                },
            })
            .collect();
        let free = match self.kind {
            GcKind::MarkSweep => self.free.clone(),
            GcKind::Copying => {
                let end = self.from_base + self.capacity / 2;
                let other = if self.from_base == BASE {
                    BASE + self.capacity / 2
                } else {
                    BASE
                };
                alloc::vec![(self.bump, end - self.bump), (other, self.capacity / 2)]
            }
        };
        HeapSnapshot {
            collector: self.kind,
            base: BASE,
            capacity: self.capacity,
            used: self.used(),
            from_space: (self.kind == GcKind::Copying).then_some(self.from_base),
            objects,
            free,
            stats: self.stats.clone(),
        }
    }
}

fn base_type_name(t: u8) -> &'static str {
    match t {
        b'Z' => "boolean",
        b'B' => "byte",
        b'C' => "char",
        b'S' => "short",
        _ => "int",
    }
}

/// One object as the heap view draws it.
#[derive(Clone, Debug, Serialize)]
pub struct SnapObject {
    pub addr: u32,
    pub size: u32,
    pub class: String,
    pub refs: Vec<u32>,
    pub marked: bool,
    pub moved_from: Option<u32>,
    /// The start of a string's or string builder's text.
    pub text: Option<String>,
}

/// The whole heap as the view draws it.
#[derive(Clone, Debug, Serialize)]
pub struct HeapSnapshot {
    pub collector: GcKind,
    pub base: u32,
    pub capacity: u32,
    pub used: u32,
    /// The copying collector's current half.
    pub from_space: Option<u32>,
    pub objects: Vec<SnapObject>,
    /// Free ranges (address, bytes).
    pub free: Vec<(u32, u32)>,
    pub stats: GcStats,
}
