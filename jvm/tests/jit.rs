//! The baseline JIT: compiled code gives what the interpreter gives (the Java
//! programs against `java` are in `vs_java.rs`), it leaves through deoptimization at
//! bytecodes it does not compile and when a division faults, it stops within the
//! budget at a block start and resumes, it reports its events with method and pc, and
//! on the loop-heavy program compiled code runs nearly all the bytecodes in fewer x86
//! instructions than bytecodes: loop locals stay in registers, `x = x op y` and
//! compare-and-branch are one instruction each, and a loop's back edge repeats its
//! test (the bench measures the time).

mod common;

use vmlab_jvm::jit::EventKind;
use vmlab_jvm::{GcKind, Outcome, Vm, VmConfig};

fn vm<'s>(main: &str, jit: u32, src: &'s common::Dir) -> Vm<'s> {
    Vm::new(
        src,
        main,
        VmConfig {
            gc: GcKind::Copying,
            jit_threshold: jit,
            ..VmConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("{main}: {e}"))
}

fn src() -> common::Dir {
    common::Dir(common::classes().to_path_buf())
}

#[test]
fn loops_compiles_deoptimizes_and_prints_what_java_prints() {
    let (want, _, _) = common::java("Loops");
    let src = src();
    let mut v = vm("Loops", 2, &src);
    assert_eq!(v.run(100_000_000).unwrap(), Outcome::Finished);
    assert_eq!(v.stdout, want);
    let s = &v.jit.stats;
    assert!(s.compiled >= 5, "only {} regions compiled", s.compiled);
    assert!(s.returns > 0 && s.deopts > 0, "{s:?}");
    let ev = &v.jit.events;
    let has = |kind: EventKind, method: &str, detail: &str| {
        ev.iter()
            .any(|e| e.kind == kind && e.method.starts_with(method) && e.detail.contains(detail))
    };
    assert!(has(EventKind::Compile, "Loops.gcd(II)I", "bytecodes to"));
    // main's loops call the compiled methods: their region leaves at each call.
    assert!(has(
        EventKind::Deopt,
        "Loops.main",
        "invokestatic is not compiled"
    ));
    // divide(7, 0) and remainder(i, 0) fault in idiv and deoptimize; the interpreter throws.
    assert!(has(
        EventKind::Deopt,
        "Loops.divide(II)I",
        "idiv raised #DE"
    ));
    assert!(has(
        EventKind::Deopt,
        "Loops.remainder(II)I",
        "irem raised #DE"
    ));
    let deopt = ev
        .iter()
        .find(|e| e.kind == EventKind::Deopt && e.method.starts_with("Loops.divide"))
        .unwrap();
    assert_eq!(
        deopt.pc, 2,
        "idiv is at pc 2 of divide (iload_0 iload_1 idiv)"
    );
}

#[test]
fn compiled_code_takes_the_loops_over_in_fewer_x86_instructions_than_bytecodes() {
    let src = src();
    let mut off = vm("Loops", 0, &src);
    assert_eq!(off.run(100_000_000).unwrap(), Outcome::Finished);
    let mut on = vm("Loops", 50, &src);
    assert_eq!(on.run(100_000_000).unwrap(), Outcome::Finished);
    assert_eq!(on.stdout, off.stdout);
    assert_eq!(off.jit.stats.x86_instructions, 0);
    assert!(
        on.steps * 10 < off.steps,
        "the JIT left {} of {} bytecodes to the interpreter",
        on.steps,
        off.steps
    );
    // The same program runs the same bytecodes: those the interpreter did not run,
    // compiled code ran.
    let replaced = off.steps - on.steps;
    let x86 = on.jit.stats.x86_instructions;
    let per = x86 as f64 / replaced as f64;
    println!("{replaced} bytecodes ran as {x86} x86 instructions: {per:.2} per bytecode");
    assert!(
        per < 0.8,
        "{x86} x86 instructions for {replaced} bytecodes ({per:.2} per bytecode)"
    );
}

/// The x86 of the bytecode at `pc` in a compiled method's view.
fn row_x86(v: &vmlab_jvm::jit::CompiledView, pc: usize) -> Vec<String> {
    v.rows
        .iter()
        .find(|r| r.pc == Some(pc))
        .unwrap_or_else(|| panic!("{}: no row for pc {pc}", v.method))
        .x86
        .iter()
        .map(|l| l.text.clone())
        .collect()
}

#[test]
fn loop_locals_live_in_registers_and_updates_are_one_instruction() {
    let src = src();
    let mut v = vm("Loops", 2, &src);
    assert_eq!(v.run(100_000_000).unwrap(), Outcome::Finished);
    let views = v.jit.views(&v);
    let view = |m: &str| {
        views
            .iter()
            .find(|c| c.method.starts_with(m) && c.entry == 0)
            .unwrap_or_else(|| panic!("{m} compiled from pc 0"))
    };
    let is_reg = |s: &str| ["ebx", "esi", "edi"].contains(&s.trim());
    // javap: sumTo has iadd at 11, istore_1 at 12, iinc at 13, goto 4 at 16;
    // collatzSteps iand at 9 and idiv at 15.
    // sumTo: s += i is one add of two registers; the istore has no code of its own.
    let sum = views
        .iter()
        .find(|c| c.method.starts_with("Loops.sumTo"))
        .expect("sumTo compiled");
    let add = row_x86(sum, 11);
    assert_eq!(add.len(), 1, "{add:?}");
    let ops: Vec<&str> = add[0].trim_start_matches("add ").split(',').collect();
    assert!(
        add[0].starts_with("add ") && ops.iter().all(|o| is_reg(o)),
        "{add:?}"
    );
    assert!(row_x86(sum, 12).is_empty());
    let inc = row_x86(sum, 13);
    assert!(inc.len() == 1 && inc[0].starts_with("add e"), "{inc:?}");
    // The back edge repeats the loop test: a compare and a conditional jump, no jmp.
    let back = row_x86(sum, 16);
    assert!(
        back.iter().any(|l| l.starts_with("cmp")) && !back.iter().any(|l| l.starts_with("jmp")),
        "{back:?}"
    );
    // collatzSteps: n / 2 is shifts, (n & 1) == 0 a test of the register.
    let col = view("Loops.collatzSteps");
    assert!(!row_x86(col, 15).iter().any(|l| l.starts_with("idiv")));
    assert!(row_x86(col, 9).iter().any(|l| l.starts_with("test e")));
}

#[test]
fn small_budgets_stop_compiled_code_at_block_starts_and_resume() {
    let src = src();
    let mut whole = vm("Loops", 2, &src);
    assert_eq!(whole.run(100_000_000).unwrap(), Outcome::Finished);
    let mut sliced = vm("Loops", 2, &src);
    let mut runs = 0;
    loop {
        runs += 1;
        match sliced.run(997).unwrap() {
            Outcome::Budget => assert!(runs < 1_000_000, "no progress"),
            o => {
                assert_eq!(o, Outcome::Finished);
                break;
            }
        }
    }
    assert_eq!(sliced.stdout, whole.stdout);
    assert!(runs > 100, "only {runs} slices");
}

#[test]
fn compiled_regions_show_each_bytecode_beside_its_x86() {
    let src = src();
    let mut v = vm("Loops", 2, &src);
    v.run(100_000_000).unwrap();
    let views = v.jit.views(&v);
    let gcd = views
        .iter()
        .find(|c| c.method == "Loops.gcd(II)I")
        .expect("gcd compiled");
    let irem = gcd
        .rows
        .iter()
        .find(|r| r.bytecode.contains("irem"))
        .expect("an irem row");
    assert!(
        irem.x86.iter().any(|l| l.text.starts_with("idiv")),
        "{irem:?}"
    );
    let back = gcd
        .rows
        .iter()
        .find(|r| r.bytecode.contains("goto"))
        .expect("a goto row");
    assert!(
        back.x86.iter().any(|l| l.text.starts_with("jmp")),
        "{back:?}"
    );
    assert!(gcd.listing.contains("org "), "the NASM listing");
    // The bytes decode back to what the listing says: vmlab's assembler agrees with
    // nasm on the same text.
    let dir = std::env::temp_dir().join(format!("vmlab-jit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for c in &views {
        let asm = dir.join("r.asm");
        let bin = dir.join("r.bin");
        std::fs::write(&asm, &c.listing).unwrap();
        let st = std::process::Command::new("nasm")
            .args(["-f", "bin", "-o"])
            .arg(&bin)
            .arg(&asm)
            .status()
            .expect("nasm runs");
        assert!(st.success(), "nasm refused {}", c.method);
        let ours: Vec<u8> = c
            .rows
            .iter()
            .flat_map(|r| r.x86.iter())
            .flat_map(|l| {
                (0..l.bytes.len() / 2)
                    .map(|i| u8::from_str_radix(&l.bytes[2 * i..2 * i + 2], 16).unwrap())
            })
            .collect();
        assert_eq!(
            ours,
            std::fs::read(&bin).unwrap(),
            "{}: vmlab's bytes differ from nasm's",
            c.method
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
