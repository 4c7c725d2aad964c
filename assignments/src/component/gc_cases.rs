//! The gc-mark lab's cases: one heap (objects, their references, the roots) per line,
//! the heap a submission marks, and the answer line (the marked objects) it gives.

use std::collections::{BTreeMap, BTreeSet};

use super::gc_mark::{MarkHeap, Marker};
use super::parse_hex;

/// One case: a heap at the start of a collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapCase {
    /// Where it comes from, for messages (`Garbage, collection 3`).
    pub origin: String,
    /// Each object's address and the non-null references it holds.
    pub objects: BTreeMap<u32, Vec<u32>>,
    /// The roots (may hold 0 and repeats).
    pub roots: Vec<u32>,
}

/// A heap made of a case's objects, with mark bits.
#[derive(Clone, Debug)]
pub struct CaseHeap {
    objects: BTreeMap<u32, (Vec<u32>, bool)>,
}

impl MarkHeap for CaseHeap {
    fn is_object(&self, addr: u32) -> bool {
        self.objects.contains_key(&addr)
    }
    fn is_marked(&self, addr: u32) -> bool {
        self.objects.get(&addr).is_some_and(|o| o.1)
    }
    fn set_marked(&mut self, addr: u32) {
        if let Some(o) = self.objects.get_mut(&addr) {
            o.1 = true;
        }
    }
    fn refs(&self, addr: u32) -> Vec<u32> {
        self.objects
            .get(&addr)
            .map(|o| o.0.clone())
            .unwrap_or_default()
    }
    fn objects(&self) -> Vec<u32> {
        self.objects.keys().copied().collect()
    }
}

fn hex_list(v: impl IntoIterator<Item = u32>) -> String {
    let s: Vec<String> = v.into_iter().map(|a| format!("{a:x}")).collect();
    if s.is_empty() {
        "-".into()
    } else {
        s.join(",")
    }
}

fn parse_list(text: &str) -> Result<Vec<u32>, String> {
    if text == "-" || text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',').map(|a| parse_hex(Some(a))).collect()
}

impl HeapCase {
    /// The line sent to the submission: `ROOTS|ADDR:REFS ADDR:REFS ...`, addresses in
    /// hex, lists comma-separated, `-` for an empty one.
    pub fn to_line(&self) -> String {
        let objects: Vec<String> = self
            .objects
            .iter()
            .map(|(a, r)| format!("{a:x}:{}", hex_list(r.iter().copied())))
            .collect();
        format!(
            "{}|{}",
            hex_list(self.roots.iter().copied()),
            objects.join(" ")
        )
    }

    /// Parses [`HeapCase::to_line`]'s output.
    pub fn from_line(line: &str) -> Result<HeapCase, String> {
        let (roots, objects) = line.split_once('|').ok_or("missing `|`")?;
        let mut map = BTreeMap::new();
        for o in objects.split_whitespace() {
            let (a, refs) = o
                .split_once(':')
                .ok_or_else(|| format!("bad object {o:?}"))?;
            let a = parse_hex(Some(a))?;
            if a == 0 || map.insert(a, parse_list(refs)?).is_some() {
                return Err(format!("object {a:x} is null or twice"));
            }
        }
        Ok(HeapCase {
            origin: String::new(),
            objects: map,
            roots: parse_list(roots)?,
        })
    }

    /// Marks the heap with `imp`; the answer is the marked objects in address order.
    pub fn answer(&self, imp: &dyn Marker) -> String {
        let mut heap = CaseHeap {
            objects: self
                .objects
                .iter()
                .map(|(a, r)| (*a, (r.clone(), false)))
                .collect(),
        };
        imp.mark(&mut heap, &self.roots);
        hex_list(heap.objects.iter().filter(|o| o.1 .1).map(|o| *o.0))
    }

    /// Compares a submission's marks with the reference's: live objects swept (and
    /// the references left dangling) and garbage kept are named.
    pub fn compare(&self, want: &str, got: &str) -> Result<(), String> {
        if want == got {
            return Ok(());
        }
        let live: BTreeSet<u32> = parse_list(want)?.into_iter().collect();
        let kept: BTreeSet<u32> = match parse_list(got) {
            Ok(v) => v.into_iter().collect(),
            Err(_) => return Err(format!("{}: answered {got:?}", self.origin)),
        };
        let swept: Vec<u32> = live.difference(&kept).copied().collect();
        let garbage: Vec<u32> = kept.difference(&live).copied().collect();
        let mut why = Vec::new();
        if !swept.is_empty() {
            let dangling = self
                .objects
                .iter()
                .filter(|(a, _)| kept.contains(a))
                .find_map(|(a, r)| r.iter().find(|x| swept.contains(x)).map(|x| (*a, *x)));
            let roots = self.roots.iter().find(|r| swept.contains(r));
            let hint = match (dangling, roots) {
                (Some((a, x)), _) => format!(": @{a:#x} survives and refers to swept @{x:#x}"),
                (None, Some(r)) => format!(": root @{r:#x} itself"),
                _ => String::new(),
            };
            why.push(format!(
                "{} live object(s) left unmarked, so the sweep frees them{hint}",
                swept.len()
            ));
        }
        if !garbage.is_empty() {
            why.push(format!(
                "{} unreachable object(s) marked, so they are never reclaimed (e.g. @{:#x})",
                garbage.len(),
                garbage[0]
            ));
        }
        Err(format!(
            "{} ({} objects, {} roots): {}",
            if self.origin.is_empty() {
                "a random heap"
            } else {
                &self.origin
            },
            self.objects.len(),
            self.roots.len(),
            why.join("; ")
        ))
    }
}

/// The component's program body: answers heaps on standard input with `imp`.
pub fn serve(imp: &dyn Marker) {
    super::serve(&|line| HeapCase::from_line(line).map(|c| c.answer(imp)));
}
