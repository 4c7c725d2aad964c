//! The collectors on hand-built heaps and on the Garbage program: live objects are
//! kept with their contents, garbage is reclaimed, references are rewritten to the
//! copies, and the heap is consistent afterwards (no overlap, no dangling reference).

mod common;

use vmlab_jvm::heap::{object_size, Body, Heap, Value};
use vmlab_jvm::{GcKind, Vm, VmConfig};

fn consistent(heap: &Heap) {
    let mut end = 0;
    for (&a, o) in &heap.objects {
        assert!(
            a >= end,
            "object at {a} overlaps the one before (ends {end})"
        );
        end = a + o.size;
        for r in o.body.refs() {
            assert!(
                heap.objects.contains_key(&r),
                "object at {a} refers to {r}, which is not an object"
            );
        }
    }
    assert!(end <= vmlab_jvm::heap::BASE + heap.capacity);
}

/// A chain a -> b -> c plus garbage d -> e; the root is a.
fn build(kind: GcKind) -> (Heap, u32) {
    let mut h = Heap::new(kind, 4096);
    let node = |next: u32, v: i32| Body::Fields(vec![Value::Int(v), Value::Ref(next)]);
    let c = h.try_alloc(1, object_size(16), node(0, 3)).unwrap();
    let e = h.try_alloc(1, object_size(16), node(0, 5)).unwrap();
    let b = h.try_alloc(1, object_size(16), node(c, 2)).unwrap();
    let _d = h.try_alloc(1, object_size(16), node(e, 4)).unwrap();
    let a = h.try_alloc(1, object_size(16), node(b, 1)).unwrap();
    (h, a)
}

fn chain(h: &Heap, mut a: u32) -> Vec<i32> {
    let mut out = Vec::new();
    while a != 0 {
        let Body::Fields(f) = &h.get(a).unwrap().body else {
            panic!("not a node")
        };
        let (Value::Int(v), Value::Ref(n)) = (f[0], f[1]) else {
            panic!("bad node")
        };
        out.push(v);
        a = n;
    }
    out
}

#[test]
fn both_collectors_keep_the_live_and_reclaim_the_rest() {
    for kind in [GcKind::MarkSweep, GcKind::Copying] {
        let (mut h, a) = build(kind);
        let mut roots = [a];
        h.collect(&mut roots);
        consistent(&h);
        assert_eq!(chain(&h, roots[0]), [1, 2, 3], "{}", kind.name());
        assert_eq!(h.objects.len(), 3, "{}", kind.name());
        assert_eq!(h.stats.objects_reclaimed, 2);
        assert_eq!(h.stats.bytes_reclaimed, 2 * object_size(16) as u64);
        assert_eq!(h.stats.collections, 1);
        if kind == GcKind::Copying {
            assert_ne!(roots[0], a, "the root was not moved to the other half");
            assert_eq!(h.stats.objects_moved, 3);
            assert!(h.objects.values().all(|o| o.moved_from.is_some()));
            // A second collection moves them back.
            h.collect(&mut roots);
            consistent(&h);
            assert_eq!(chain(&h, roots[0]), [1, 2, 3]);
        } else {
            assert_eq!(roots[0], a, "mark-sweep moved an object");
            // The freed space is reused.
            let before = h.objects.len();
            h.try_alloc(1, object_size(16), Body::Fields(vec![]))
                .unwrap();
            assert_eq!(h.objects.len(), before + 1);
        }
    }
}

#[test]
fn cycles_are_collected() {
    for kind in [GcKind::MarkSweep, GcKind::Copying] {
        let mut h = Heap::new(kind, 4096);
        let x = h
            .try_alloc(1, object_size(8), Body::Fields(vec![Value::Ref(0)]))
            .unwrap();
        let y = h
            .try_alloc(1, object_size(8), Body::Fields(vec![Value::Ref(x)]))
            .unwrap();
        if let Body::Fields(f) = &mut h.get_mut(x).unwrap().body {
            f[0] = Value::Ref(y);
        }
        h.collect(&mut []);
        assert!(
            h.objects.is_empty(),
            "{} kept an unreachable cycle",
            kind.name()
        );
    }
}

#[test]
fn the_garbage_program_collects_under_both() {
    let src = common::Dir(common::classes().to_path_buf());
    for (kind, heap) in [(GcKind::MarkSweep, 24 << 10), (GcKind::Copying, 48 << 10)] {
        let mut vm = Vm::new(
            &src,
            "Garbage",
            VmConfig {
                gc: kind,
                heap_bytes: heap,
                ..VmConfig::default()
            },
        )
        .unwrap();
        // Run in slices, checking the heap between them.
        let mut collections = 0;
        loop {
            let o = vm.run(20_000).unwrap();
            consistent(&vm.heap);
            if vm.heap.stats.collections > collections {
                collections = vm.heap.stats.collections;
                let snap = vm.heap_snapshot();
                assert!(snap.used <= snap.capacity);
                assert!(
                    snap.objects.iter().any(|o| o.class == "Tree"),
                    "the kept tree is gone"
                );
            }
            if o != vmlab_jvm::Outcome::Budget {
                break;
            }
        }
        let s = &vm.heap.stats;
        assert!(
            s.collections >= 3,
            "{}: {} collections",
            kind.name(),
            s.collections
        );
        assert!(
            s.bytes_reclaimed > 100_000,
            "{}: {} bytes reclaimed",
            kind.name(),
            s.bytes_reclaimed
        );
        assert!(s.total_pause_steps > 0);
        if kind == GcKind::Copying {
            assert!(s.objects_moved > 0);
        }
        let want = common::java("Garbage").0;
        assert_eq!(vm.stdout, want);
    }
}
