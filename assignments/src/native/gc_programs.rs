//! The gc-mark lab's grading side: the heaps are those vmlab's JVM holds at the start
//! of each mark-sweep collection while Java programs run (the embedded `Garbage`
//! example for the visible tests, the lab's own programs for the hidden ones), plus
//! hand-built edge heaps and random ones.

use std::cell::RefCell;
use std::collections::BTreeMap;

use vmlab_jvm::component::gc_mark::{MarkHeap, Marker};
use vmlab_jvm::{ClassSource, GcKind, MapSource, Vm, VmConfig};

use crate::component::gc_cases::HeapCase;
use crate::component::{CaseRng, CaseSelect};

/// The hidden programs' class files, javac's output of `labs/gc-mark/tests/programs/`.
pub const HIDDEN: &[(&str, &[u8])] = &[
    (
        "Graphs",
        include_bytes!("../../labs/gc-mark/tests/programs/Graphs.class"),
    ),
    (
        "Graphs$Vertex",
        include_bytes!("../../labs/gc-mark/tests/programs/Graphs$Vertex.class"),
    ),
];

/// The programs a test may name, each with the heap bytes it runs in (small, so it
/// collects often).
pub const PROGRAMS: &[(&str, u32)] = &[("Garbage", 24 * 1024), ("Graphs", 48 * 1024)];

/// Bytecodes a program may run while its heaps are taken.
const PROGRAM_BUDGET: u64 = 5_000_000;
/// Collections recorded per program, at most.
const PER_PROGRAM: usize = 40;

/// Records the heap at the start of each collection, then marks as the collector does.
#[derive(Default)]
struct Recorder {
    heaps: RefCell<Vec<HeapCase>>,
}

impl Marker for Recorder {
    fn mark(&self, heap: &mut dyn MarkHeap, roots: &[u32]) {
        let mut heaps = self.heaps.borrow_mut();
        if heaps.len() < PER_PROGRAM {
            let objects: BTreeMap<u32, Vec<u32>> = heap
                .objects()
                .into_iter()
                .map(|a| (a, heap.refs(a)))
                .collect();
            heaps.push(HeapCase {
                origin: String::new(),
                objects,
                roots: roots.to_vec(),
            });
        }
        drop(heaps);
        vmlab_jvm::heap::REFERENCE_MARK.mark(heap, roots);
    }
}

fn source(name: &str) -> Option<MapSource> {
    let mut m = MapSource::default();
    if HIDDEN.iter().any(|(n, _)| *n == name) {
        for (n, b) in HIDDEN {
            m.0.insert((*n).to_string(), b.to_vec());
        }
        return Some(m);
    }
    if vmlab_jvm::examples::MAINS.contains(&name) {
        for (n, b) in vmlab_jvm::examples::FILES {
            m.0.insert((*n).to_string(), b.to_vec());
        }
        return Some(m);
    }
    None
}

/// The heaps program `name` holds at the start of its collections under mark-sweep,
/// and what it printed.
pub fn program_heaps(name: &str) -> Result<(Vec<HeapCase>, String), String> {
    let &(_, heap_bytes) = PROGRAMS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("no program {name:?}"))?;
    let src = source(name).ok_or_else(|| format!("no class files for {name:?}"))?;
    let recorder = Recorder::default();
    let class_source: &dyn ClassSource = &src;
    let config = VmConfig {
        gc: GcKind::MarkSweep,
        heap_bytes,
        ..VmConfig::default()
    };
    let mut vm = Vm::new(class_source, name, config).map_err(|e| e.to_string())?;
    vm.marker = &recorder;
    let out = vm.run(PROGRAM_BUDGET).map_err(|e| e.to_string())?;
    if out != vmlab_jvm::Outcome::Finished {
        return Err(format!("{name} did not finish: {out:?}"));
    }
    let printed = vm.stdout.clone();
    drop(vm);
    let mut heaps = recorder.heaps.into_inner();
    for (i, h) in heaps.iter_mut().enumerate() {
        h.origin = format!("{name}, collection {}", i + 1);
    }
    Ok((heaps, printed))
}

/// Hand-built heaps: the corners of marking.
pub fn edge_heaps() -> Vec<HeapCase> {
    let h = |origin: &str, objects: &[(u32, &[u32])], roots: &[u32]| HeapCase {
        origin: origin.into(),
        objects: objects.iter().map(|(a, r)| (*a, r.to_vec())).collect(),
        roots: roots.to_vec(),
    };
    let chain: Vec<(u32, Vec<u32>)> = (1..=5000u32)
        .map(|i| (i * 16, if i < 5000 { vec![(i + 1) * 16] } else { vec![] }))
        .collect();
    vec![
        h("an empty heap", &[], &[]),
        h("no roots", &[(0x10, &[0x20]), (0x20, &[])], &[]),
        h("a null root", &[(0x10, &[])], &[0]),
        h(
            "a root given twice",
            &[(0x10, &[0x20]), (0x20, &[]), (0x30, &[])],
            &[0x10, 0x10],
        ),
        h(
            "a cycle",
            &[
                (0x10, &[0x20]),
                (0x20, &[0x30]),
                (0x30, &[0x10]),
                (0x40, &[]),
            ],
            &[0x20],
        ),
        h(
            "a self-reference",
            &[(0x10, &[0x10]), (0x20, &[0x20])],
            &[0x10],
        ),
        h(
            "a garbage cycle",
            &[(0x10, &[]), (0x20, &[0x30]), (0x30, &[0x20])],
            &[0x10],
        ),
        h(
            "a diamond",
            &[
                (0x10, &[0x20, 0x30]),
                (0x20, &[0x40]),
                (0x30, &[0x40]),
                (0x40, &[]),
                (0x50, &[0x40]),
            ],
            &[0x10],
        ),
        h(
            "a deep object",
            &[
                (0x10, &[0x20]),
                (0x20, &[0x30]),
                (0x30, &[0x40]),
                (0x40, &[0x50]),
                (0x50, &[]),
            ],
            &[0x10],
        ),
        HeapCase {
            origin: "a list of 5000 objects".into(),
            objects: chain.into_iter().collect(),
            roots: vec![16],
        },
    ]
}

/// `n` random heaps from `seed`: up to 60 objects with up to three references each,
/// up to four roots (some null).
pub fn random_heaps(n: u32, seed: u64) -> Vec<HeapCase> {
    let mut rng = CaseRng::new(seed);
    (0..n)
        .map(|_| {
            let count = 1 + rng.next_u32() % 60;
            let addrs: Vec<u32> = (0..count).map(|i| 0x10 + i * 0x18).collect();
            let objects = addrs
                .iter()
                .map(|&a| {
                    let k = rng.next_u32() % 4;
                    (a, (0..k).map(|_| rng.pick(&addrs)).collect())
                })
                .collect();
            let roots = (0..rng.next_u32() % 5)
                .map(|_| {
                    if rng.next_u32().is_multiple_of(5) {
                        0
                    } else {
                        rng.pick(&addrs)
                    }
                })
                .collect();
            HeapCase {
                origin: String::new(),
                objects,
                roots,
            }
        })
        .collect()
}

/// The heaps a test selects: those of the programs it names (`select`), the edge
/// heaps (`edge`), and `random` random ones.
pub fn cases(select: &CaseSelect) -> Result<Vec<HeapCase>, String> {
    let mut out = Vec::new();
    for name in &select.select {
        out.extend(program_heaps(name)?.0);
    }
    if select.edge {
        out.extend(edge_heaps());
    }
    out.extend(random_heaps(select.random, select.seed));
    Ok(out)
}
