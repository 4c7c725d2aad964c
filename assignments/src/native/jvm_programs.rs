//! The JVM bytecodes lab's grading side: the cases are the int-family instructions
//! that Java programs execute, taken from vmlab's JVM as it runs them (the embedded
//! examples for the visible tests, the lab's own programs for the hidden ones), plus
//! hand-picked edge cases and random ones.

use std::collections::BTreeSet;

use vmlab_jvm::heap::Value;
use vmlab_jvm::{ClassSource, MapSource, Vm, VmConfig};

use crate::component::jvm_bytecodes::{in_family, FAMILY, WIDE};
use crate::component::jvm_cases::{Case, Slot};
use crate::component::{CaseRng, CaseSelect};

/// The hidden programs' class files, javac's output of `labs/jvm-bytecodes/tests/programs/`.
pub const HIDDEN: &[(&str, &[u8])] = &[
    (
        "Collatz",
        include_bytes!("../../labs/jvm-bytecodes/tests/programs/Collatz.class"),
    ),
    (
        "Bits",
        include_bytes!("../../labs/jvm-bytecodes/tests/programs/Bits.class"),
    ),
];

/// Bytecodes a program may run while its cases are taken.
const PROGRAM_BUDGET: u64 = 2_000_000;
/// Distinct cases kept per program, at most.
const PER_PROGRAM: usize = 400;

/// The class source a program named `name` runs from: an embedded example, or a
/// hidden program.
pub fn program_source(name: &str) -> Option<MapSource> {
    if let Some((_, bytes)) = HIDDEN.iter().find(|(n, _)| *n == name) {
        let mut m = MapSource::default();
        m.0.insert(name.to_string(), bytes.to_vec());
        return Some(m);
    }
    if vmlab_jvm::examples::MAINS.contains(&name) {
        let mut m = MapSource::default();
        for (n, b) in vmlab_jvm::examples::FILES {
            m.0.insert((*n).to_string(), b.to_vec());
        }
        return Some(m);
    }
    None
}

fn slot(v: &Value) -> Slot {
    match v {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

/// The distinct family cases `main` of program `name` executes, in the order it
/// first reaches them, and what it printed.
pub fn program_cases(name: &str) -> Result<(Vec<Case>, String), String> {
    let source = program_source(name).ok_or_else(|| format!("no program {name:?}"))?;
    let src: &dyn ClassSource = &source;
    let mut vm = Vm::new(src, name, VmConfig::default()).map_err(|e| e.to_string())?;
    let mut seen = BTreeSet::new();
    let mut cases = Vec::new();
    for _ in 0..PROGRAM_BUDGET {
        if let (Some(code), Some(f)) = (vm.instruction_bytes(), vm.frames.last()) {
            if in_family(code) && cases.len() < PER_PROGRAM {
                let case = Case {
                    origin: format!(
                        "{}.{} pc {}",
                        vm.classes.name(f.class),
                        vm.method_label(f.class, f.method),
                        f.pc
                    ),
                    code: code.to_vec(),
                    locals: f.locals.iter().map(slot).collect(),
                    stack: f.stack.iter().map(slot).collect(),
                };
                if seen.insert(case.to_line()) {
                    cases.push(case);
                }
            }
        }
        if vm.step().map_err(|e| e.to_string())?.is_some() {
            return Ok((cases, vm.stdout));
        }
    }
    Err(format!(
        "{name} did not finish within {PROGRAM_BUDGET} bytecodes"
    ))
}

/// Hand-picked cases: the corners of each rule.
pub fn edge_cases() -> Vec<Case> {
    let c = |code: &[u8], locals: &[Slot], stack: &[Slot]| Case {
        origin: "an edge case".into(),
        code: code.to_vec(),
        locals: locals.to_vec(),
        stack: stack.to_vec(),
    };
    let min = Some(i32::MIN);
    vec![
        c(&[0x6c], &[], &[Some(7), Some(0)]),
        c(&[0x70], &[], &[Some(7), Some(0)]),
        c(&[0x6c], &[], &[min, Some(-1)]),
        c(&[0x70], &[], &[min, Some(-1)]),
        c(&[0x6c], &[], &[Some(-7), Some(2)]),
        c(&[0x70], &[], &[Some(-7), Some(2)]),
        c(&[0x60], &[], &[Some(i32::MAX), Some(1)]),
        c(&[0x68], &[], &[Some(0x10000), Some(0x10000)]),
        c(&[0x74], &[], &[min]),
        c(&[0x78], &[], &[Some(1), Some(33)]),
        c(&[0x7a], &[], &[Some(-17), Some(2)]),
        c(&[0x7c], &[], &[Some(-17), Some(28)]),
        c(&[0x7c], &[], &[Some(-1), Some(-1)]),
        c(&[0x10, 0x80], &[], &[]),
        c(&[0x11, 0x80, 0x00], &[], &[]),
        c(&[0x02], &[], &[Some(5)]),
        c(&[0x84, 0x01, 0xff], &[Some(0), Some(0)], &[]),
        c(&[0x84, 0x00, 0x7f], &[Some(i32::MAX)], &[]),
        c(
            &[WIDE, 0x84, 0x00, 0x01, 0x80, 0x00],
            &[Some(1), Some(10)],
            &[],
        ),
        c(&[WIDE, 0x15, 0x00, 0x02], &[None, None, Some(9)], &[]),
        c(&[WIDE, 0x36, 0x00, 0x01], &[None, None], &[Some(4)]),
        c(&[0x15, 0x01], &[Some(3), None], &[]),
        c(&[0x1b], &[Some(3), Some(8)], &[Some(1)]),
        c(&[0x3e], &[None, None, None, None], &[Some(6)]),
        c(&[0x99, 0xff, 0xf0], &[], &[Some(0)]),
        c(&[0x9b, 0x00, 0x10], &[], &[Some(0)]),
        c(&[0x9e, 0x00, 0x10], &[], &[Some(0)]),
        c(&[0xa1, 0x00, 0x08], &[], &[Some(-1), Some(1)]),
        c(&[0xa3, 0x00, 0x08], &[], &[Some(1), Some(-1)]),
        c(&[0xa2, 0x00, 0x08], &[], &[Some(2), Some(2)]),
        c(&[0xa7, 0x80, 0x00], &[], &[]),
    ]
}

/// `n` random cases from `seed`: every family instruction with random operands over
/// random ints.
pub fn random_cases(n: u32, seed: u64) -> Vec<Case> {
    let mut rng = CaseRng::new(seed);
    let ints = [0, 1, -1, 2, 31, 32, 33, 0x7fff_ffff, i32::MIN, 0x1234_5678];
    let mut out = Vec::new();
    for _ in 0..n {
        let op = rng.pick(FAMILY).0;
        let int = |rng: &mut CaseRng| {
            if rng.next_u32().is_multiple_of(2) {
                rng.pick(&ints)
            } else {
                rng.next_u32() as i32
            }
        };
        let nlocals = 1 + (rng.next_u32() % 5) as usize;
        let locals: Vec<Slot> = (0..nlocals)
            .map(|_| (!rng.next_u32().is_multiple_of(6)).then(|| int(&mut rng)))
            .collect();
        let stack: Vec<Slot> = (0..2 + rng.next_u32() % 2)
            .map(|_| Some(int(&mut rng)))
            .collect();
        let local = (rng.next_u32() % nlocals as u32) as u8;
        let b = rng.next_u32().to_be_bytes();
        let code = match op {
            0x10 => vec![op, b[0]],
            0x15 | 0x36 => vec![op, local],
            0x84 => vec![op, local, b[1]],
            0x11 | 0x99..=0xa4 | 0xa7 => vec![op, b[0], b[1]],
            _ => vec![op],
        };
        out.push(Case {
            origin: String::new(),
            code,
            locals,
            stack,
        });
    }
    out
}

/// The cases a test selects: the instructions of the programs it names (`select`),
/// the edge cases (`edge`), and `random` random ones.
pub fn cases(select: &CaseSelect) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for name in &select.select {
        out.extend(program_cases(name)?.0);
    }
    if select.edge {
        out.extend(edge_cases());
    }
    out.extend(random_cases(select.random, select.seed));
    Ok(out)
}
