//! The translation lab (`xlate-alu`): the translator's own ALU lowering passes every
//! block of every test through the line protocol, wrong lowerings lose exactly the
//! blocks they decide, malformed answers are named, and the native grader gives the
//! reference full marks and the starter less.

use std::path::Path;

use assignments::component::xlate_alu::{AluFamily, AluInsn, AluOp, Emit, FlagOp, Val};
use assignments::component::xlate_cases::{answer, insn_text, parse_insn};
use assignments::native::component::{grade, BuildEnv};
use assignments::native::{default_labs_dir, LabOnDisk};
use assignments::xlate_blocks::{cases, Block};
use emulator_core::translate::alu_family::REFERENCE;

fn lab() -> LabOnDisk {
    LabOnDisk::load(&default_labs_dir(), "xlate-alu").expect("lab loads")
}

/// Every block of every visible and hidden test.
fn all_blocks() -> Vec<Block> {
    let lab = lab();
    lab.visible
        .iter()
        .chain(&lab.hidden)
        .flat_map(|t| cases(t.cases.as_ref().expect("a component test")).expect("cases"))
        .collect()
}

/// The blocks `imp` gets wrong, with the first message.
fn wrong(imp: &dyn AluFamily, blocks: &[Block]) -> (usize, String) {
    let mut n = 0;
    let mut first = String::new();
    for b in blocks {
        let got = answer(&b.to_line(), imp).expect("the line parses");
        if let Err(e) = b.judge(&got) {
            if n == 0 {
                first = e;
            }
            n += 1;
        }
    }
    (n, first)
}

#[test]
fn the_translators_own_lowering_passes_every_block() {
    let blocks = all_blocks();
    assert!(blocks.len() > 1500, "{} blocks", blocks.len());
    let (n, first) = wrong(&REFERENCE, &blocks);
    assert_eq!(n, 0, "{first}");
}

#[test]
fn the_cases_cover_every_instruction_form_and_size() {
    let blocks = all_blocks();
    let texts: Vec<String> = blocks
        .iter()
        .flat_map(|b| (0..b.insns.len()).map(|i| b.nasm(i)).collect::<Vec<_>>())
        .collect();
    for needle in [
        "adc e",
        "sbb e",
        "test e",
        "inc e",
        "dec e",
        "cmp e",
        "xor e",
        "or e",
        "and e",
        "add dword [",
        "sub byte [",
        "sbb word [",
        "test dword [",
        ", dword [",
    ] {
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with(needle) || t.contains(needle)),
            "{needle}"
        );
    }
    // The line protocol round-trips every instruction.
    for b in &blocks {
        for i in &b.insns {
            assert_eq!(parse_insn(&insn_text(i)).as_ref(), Ok(i));
        }
    }
}

/// The reference with one flag record swapped: ADC's becomes ADD's.
struct NoCarryFlags;

/// Passes the reference's calls on, changing `flags adc` to `flags add`.
struct Swap<'a>(&'a mut dyn Emit);

impl Emit for Swap<'_> {
    fn get(&mut self, reg: u8) -> Val {
        self.0.get(reg)
    }
    fn set(&mut self, reg: u8, v: Val) {
        self.0.set(reg, v)
    }
    fn bin(&mut self, op: assignments::component::xlate_alu::BinOp, a: Val, b: Val) -> Val {
        self.0.bin(op, a, b)
    }
    fn flags(&mut self, op: FlagOp, size: u8, a: Val, b: Val) {
        let op = if op == FlagOp::Adc { FlagOp::Add } else { op };
        self.0.flags(op, size, a, b)
    }
    fn cond(&mut self, cc: u8) -> Val {
        self.0.cond(cc)
    }
    fn ea(&mut self) -> Val {
        self.0.ea()
    }
    fn load(&mut self, size: u8, addr: Val) -> Val {
        self.0.load(size, addr)
    }
    fn store(&mut self, size: u8, addr: Val, v: Val) {
        self.0.store(size, addr, v)
    }
}

impl AluFamily for NoCarryFlags {
    fn lower(&self, insn: &AluInsn, ir: &mut dyn Emit) -> bool {
        REFERENCE.lower(insn, &mut Swap(ir))
    }
}

#[test]
fn a_wrong_flag_record_loses_only_blocks_with_adc() {
    let blocks = all_blocks();
    let (n, first) = wrong(&NoCarryFlags, &blocks);
    assert!(n > 0, "no block caught ADC's flags");
    assert!(first.contains("adc"), "{first}");
    assert!(first.contains("expected"), "{first}");
    let without_adc = blocks
        .iter()
        .filter(|b| b.insns.iter().all(|i| i.op != AluOp::Adc))
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(wrong(&NoCarryFlags, &without_adc).0, 0);
}

#[test]
fn declined_forms_and_malformed_answers_are_named() {
    let b = &all_blocks()[0];
    let n = b.insns.len();
    let declined = vec!["-"; n].join("; ");
    let e = b.judge(&declined).expect_err("declined");
    assert!(e.contains("declined"), "{e}");
    let mut bad: Vec<String> = b
        .to_line()
        .split(';')
        .map(|_| "get 0".to_string())
        .collect();
    bad[0] = "get 0, set 0 t5".into();
    let e = b.judge(&bad.join("; ")).expect_err("t5");
    assert!(e.contains("t5 is used before it is made"), "{e}");
    let e = b.judge(&vec!["get 0"; n + 1].join("; ")).expect_err("long");
    assert!(e.contains("instructions"), "{e}");
    let e = b
        .judge(&vec!["frobnicate"; n].join("; "))
        .expect_err("garbage");
    assert!(e.contains("unknown IR call"), "{e}");
    // Registers and sizes out of range are refused, never used.
    let e = b
        .judge(&vec!["get 9"; n].join("; "))
        .expect_err("register 9");
    assert!(e.contains("register 9"), "{e}");
}

#[test]
fn the_native_grader_gives_the_reference_full_marks_and_the_starter_less() {
    let lab = lab();
    let env = BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("xlate-grading"));
    let tests: Vec<_> = lab.visible.iter().chain(&lab.hidden).collect();
    let solution = std::fs::read(lab.solution_path()).expect("solution");
    let graded = grade(&lab, &solution, &tests, &env).expect("grades");
    for o in &graded.outcomes {
        assert!(o.passed, "reference fails {:?}: {}", o.name, o.message);
    }
    let starter = std::fs::read(lab.starter_path()).expect("starter");
    let graded = grade(&lab, &starter, &tests, &env).expect("grades");
    let score: f64 = graded.outcomes.iter().map(|o| o.score).sum();
    let max: f64 = graded.outcomes.iter().map(|o| o.max_score).sum();
    assert!(score < max, "the starter scores {score}/{max}");
    assert!(graded
        .outcomes
        .iter()
        .any(|o| o.message.contains("declined")));
    assert!(graded
        .outcomes
        .iter()
        .any(|o| o.message.contains("expected") && o.message.contains("flags")));
}

#[test]
fn the_pages_run_gives_the_translator_full_marks_and_the_starter_less() {
    use assignments::xlate_lab::{edge_view, run_visible, Lowering};
    let ours = run_visible(Lowering::Translator);
    assert!(!ours.is_empty());
    for o in &ours {
        assert!(o.passed, "{}: {}", o.name, o.message);
    }
    let starter = run_visible(Lowering::Starter);
    let score: f64 = starter.iter().map(|o| o.score).sum();
    let max: f64 = starter.iter().map(|o| o.max_score).sum();
    assert!(max > 0.0 && score < max, "the starter scores {score}/{max}");
    // The carry chain `add eax, ecx; adc edx, ebx`: only the translator reads CF.
    let t = edge_view(1, Lowering::Translator).expect("block 1");
    let s = edge_view(1, Lowering::Starter).expect("block 1");
    assert_eq!(t.x86[1], "adc edx, ebx");
    assert!(t.ir.contains("cond.b") && t.wrong.is_none(), "{}", t.ir);
    assert!(!s.ir.contains("cond.b"), "{}", s.ir);
    assert!(s
        .wrong
        .as_deref()
        .is_some_and(|w| w.contains("expected edx")));
}
