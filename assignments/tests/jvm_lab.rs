//! The JVM bytecodes lab: its programs print what `java` prints under vmlab's JVM,
//! their class files are javac's output of the sources beside them, its cases cover
//! the whole family, and a submission wrong in one rule loses exactly the cases that
//! rule decides.

mod java_oracle;

use std::path::Path;

use java_oracle::{assert_fresh, examples_dir, java_prints, missing};

use assignments::component::jvm_bytecodes::{
    in_family, Fault, IntBytecodes, IntFrame, Next, FAMILY,
};
use assignments::component::jvm_cases::Case;
use assignments::native::jvm_programs::{cases, edge_cases, program_cases, random_cases, HIDDEN};
use assignments::native::reference::jvm_bytecodes::Submission as Reference;

fn programs_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/labs/jvm-bytecodes/tests/programs"
    ))
}

#[test]
fn every_program_prints_what_java_prints() {
    if missing("java", "the programs' output") {
        return;
    }
    let examples = examples_dir();
    for (name, dir) in [
        ("Switch", examples),
        ("Garbage", examples),
        ("Collatz", programs_dir()),
        ("Bits", programs_dir()),
    ] {
        let (cases, printed) = program_cases(name).expect("runs");
        assert!(cases.len() > 20, "{name}: {} cases", cases.len());
        assert_eq!(printed, java_prints(dir, name), "{name}");
    }
}

#[test]
fn the_hidden_class_files_are_javacs_output_of_their_sources() {
    if missing("javac", "the class files' freshness") {
        return;
    }
    let sources: Vec<_> = HIDDEN
        .iter()
        .map(|(n, _)| programs_dir().join(format!("{n}.java")))
        .collect();
    let sources: Vec<&Path> = sources.iter().map(|p| p.as_path()).collect();
    assert_fresh("jvm-lab-javac", &sources, HIDDEN);
}

#[test]
fn the_cases_cover_every_opcode_of_the_family() {
    let all: Vec<Case> = ["Switch", "Garbage", "Collatz", "Bits"]
        .iter()
        .flat_map(|p| program_cases(p).expect("runs").0)
        .chain(edge_cases())
        .chain(random_cases(300, 201))
        .collect();
    for (op, name) in FAMILY {
        assert!(all.iter().any(|c| c.code[0] == *op), "no case of {name}");
    }
    for c in &all {
        assert!(in_family(&c.code), "{:?} is not in the family", c.code);
        let line = c.to_line();
        let back = Case::from_line(&line).expect("parses");
        assert_eq!(
            (back.code, back.locals, back.stack),
            (c.code.clone(), c.locals.clone(), c.stack.clone())
        );
    }
    let select = assignments::component::CaseSelect {
        select: vec!["NoSuchProgram".into()],
        ..Default::default()
    };
    assert!(cases(&select).is_err());
}

/// The reference, but `ishr` shifts in zeros as `iushr` does.
struct UnsignedShr;

impl IntBytecodes for UnsignedShr {
    fn execute(&self, code: &[u8], f: &mut dyn IntFrame) -> Result<Next, Fault> {
        if code == [0x7a] {
            let b = f.pop_int()?;
            let a = f.pop_int()?;
            f.push_int(((a as u32) >> (b as u32 & 31)) as i32)?;
            return Ok(Next::Fall);
        }
        Reference.execute(code, f)
    }
}

#[test]
fn a_wrong_rule_loses_exactly_the_cases_it_decides() {
    let all: Vec<Case> = edge_cases()
        .into_iter()
        .chain(random_cases(400, 7))
        .collect();
    let mut wrong = 0;
    for c in &all {
        let want = c.answer(&Reference);
        let got = c.answer(&UnsignedShr);
        let negative_ishr = c.code == [0x7a]
            && c.stack.len() >= 2
            && c.stack[c.stack.len() - 2].is_some_and(|a| a < 0)
            && c.stack[c.stack.len() - 1].is_some_and(|b| b & 31 != 0);
        assert_eq!(
            want != got,
            negative_ishr,
            "{}: {want} vs {got}",
            c.to_line()
        );
        if want != got {
            wrong += 1;
            let e = c.compare(&want, &got).expect_err("differs");
            assert!(e.starts_with("ishr at "), "{e}");
        }
    }
    assert!(wrong > 0, "no case told ishr from iushr");
}

#[test]
fn faults_are_answers_not_panics() {
    let c = |line: &str| Case::from_line(line).expect("parses");
    assert_eq!(c("6c - 7,0").answer(&Reference), "fault:divide-by-zero");
    assert_eq!(c("1a x -").answer(&Reference), "fault:frame");
    assert_eq!(c("60 - 1").answer(&Reference), "fault:frame");
    assert_eq!(c("ff - -").answer(&Reference), "fault:unsupported");
    assert_eq!(c("11 - -").answer(&Reference), "fault:unsupported");
    assert_eq!(c("a7 - -").answer(&Reference), "fault:unsupported");
    assert_eq!(c("a7fffd - -").answer(&Reference), "branch:-3 - -");
    assert_eq!(c("8401ff 5,9 -").answer(&Reference), "fall 5,8 -");
    for bad in ["", "zz - -", "6 - -", "60 1,q -", "60 -"] {
        assert!(Case::from_line(bad).is_err(), "{bad:?}");
    }
}
