//! The gc-mark lab: its programs print what `java` prints under vmlab's JVM, their
//! class files are javac's output, the reference marks exactly the reachable objects
//! of every heap, and wrong markers are told apart by what they get wrong.

use std::collections::BTreeSet;
mod java_oracle;

use std::path::Path;

use java_oracle::{assert_fresh, examples_dir, java_prints, missing};

use assignments::component::gc_cases::HeapCase;
use assignments::component::gc_mark::{MarkHeap, Marker};
use assignments::native::gc_programs::{edge_heaps, program_heaps, random_heaps, HIDDEN};
use assignments::native::reference::gc_mark::Submission as Reference;

fn programs_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/labs/gc-mark/tests/programs"
    ))
}

/// The reachable objects, by a breadth-first search written apart from the reference.
fn reachable(h: &HeapCase) -> BTreeSet<u32> {
    let mut seen = BTreeSet::new();
    let mut queue: std::collections::VecDeque<u32> = h.roots.iter().copied().collect();
    while let Some(a) = queue.pop_front() {
        if h.objects.contains_key(&a) && seen.insert(a) {
            queue.extend(h.objects[&a].iter().copied());
        }
    }
    seen
}

fn marked(answer: &str) -> BTreeSet<u32> {
    if answer == "-" {
        return BTreeSet::new();
    }
    answer
        .split(',')
        .map(|a| u32::from_str_radix(a, 16).expect("hex"))
        .collect()
}

#[test]
fn the_programs_print_what_java_prints() {
    if missing("java", "the programs' output") {
        return;
    }
    let examples = examples_dir();
    for (name, dir) in [("Garbage", examples), ("Graphs", programs_dir())] {
        let (heaps, printed) = program_heaps(name).expect("runs");
        assert!(heaps.len() >= 5, "{name}: {} collections", heaps.len());
        assert_eq!(printed, java_prints(dir, name), "{name}");
    }
}

#[test]
fn the_hidden_class_files_are_javacs_output_of_their_sources() {
    if missing("javac", "the class files' freshness") {
        return;
    }
    assert_fresh(
        "gc-lab-javac",
        &[&programs_dir().join("Graphs.java")],
        HIDDEN,
    );
}

#[test]
fn the_reference_marks_exactly_the_reachable_objects() {
    let heaps: Vec<HeapCase> = ["Garbage", "Graphs"]
        .iter()
        .flat_map(|p| program_heaps(p).expect("runs").0)
        .chain(edge_heaps())
        .chain(random_heaps(300, 5))
        .collect();
    let mut garbage = 0;
    for h in &heaps {
        let back = HeapCase::from_line(&h.to_line()).expect("parses");
        assert_eq!((&back.objects, &back.roots), (&h.objects, &h.roots));
        assert_eq!(marked(&h.answer(&Reference)), reachable(h), "{}", h.origin);
        garbage += h.objects.len() - reachable(h).len();
    }
    assert!(garbage > 1000, "the heaps hold little garbage: {garbage}");
}

/// Marks every object: keeps all garbage.
struct MarkAll;

impl Marker for MarkAll {
    fn mark(&self, heap: &mut dyn MarkHeap, _roots: &[u32]) {
        for a in heap.objects() {
            heap.set_marked(a);
        }
    }
}

/// Marks recursively without checking the mark first: correct on trees, endless on a cycle
/// (bounded here by depth, so it gives up and leaves the rest unmarked).
struct NoVisitedCheck;

fn visit(heap: &mut dyn MarkHeap, a: u32, depth: u32) {
    if depth == 0 || !heap.is_object(a) {
        return;
    }
    heap.set_marked(a);
    for r in heap.refs(a) {
        visit(heap, r, depth - 1);
    }
}

impl Marker for NoVisitedCheck {
    fn mark(&self, heap: &mut dyn MarkHeap, roots: &[u32]) {
        for &r in roots {
            visit(heap, r, 12);
        }
    }
}

#[test]
fn wrong_markers_are_reported_by_what_they_break() {
    let edge = edge_heaps();
    let by = |name: &str| edge.iter().find(|h| h.origin == name).expect(name);
    let cycle = by("a garbage cycle");
    let want = cycle.answer(&Reference);
    let e = cycle
        .compare(&want, &cycle.answer(&MarkAll))
        .expect_err("garbage kept");
    assert!(e.contains("2 unreachable object(s) marked"), "{e}");
    let list = by("a list of 5000 objects");
    let e = list
        .compare(&list.answer(&Reference), &list.answer(&NoVisitedCheck))
        .expect_err("a deep list");
    assert!(e.contains("4988 live object(s) left unmarked"), "{e}");
    assert!(e.contains("survives and refers to swept"), "{e}");
    let diamond = by("a diamond");
    assert_eq!(
        diamond.answer(&NoVisitedCheck),
        diamond.answer(&Reference),
        "a shallow heap marks right without the check"
    );
    for bad in ["", "q|", "|zz:", "|10:- 10:-", "|0:-"] {
        assert!(HeapCase::from_line(bad).is_err(), "{bad:?}");
    }
}
