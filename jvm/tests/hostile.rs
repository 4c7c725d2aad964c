//! Hostile class files never panic and are refused with a located message:
//! truncated at every length, wrong magic, constant-pool indices out of range or of
//! the wrong kind, branches out of the code, stack underflow and overflow, and random
//! bytes and random mutations of real class files (a fixed-seed generator), which
//! also run under the interpreter (and the JIT) with a budget when they pass the checks.

mod common;

use vmlab_jvm::classfile::{verify::verify, ClassFile};
use vmlab_jvm::{JvmError, MapSource, Vm, VmConfig};

fn load(bytes: &[u8]) -> Result<ClassFile, JvmError> {
    let cf = ClassFile::parse("T.class", bytes)?;
    verify("T.class", &cf)?;
    Ok(cf)
}

/// A class `T` with one method `static m()V` holding `code`; `extra` constants follow
/// the seven the builder needs (#1 "T", #2 Class T, #3 "java/lang/Object", #4 Class,
/// #5 "m", #6 "()V", #7 "Code").
fn class(extra: &[Vec<u8>], max_stack: u16, max_locals: u16, code: &[u8]) -> Vec<u8> {
    let utf8 = |s: &str| {
        let mut v = vec![1];
        v.extend((s.len() as u16).to_be_bytes());
        v.extend(s.as_bytes());
        v
    };
    let mut b = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61];
    b.extend((8 + extra.len() as u16).to_be_bytes());
    for e in [
        utf8("T"),
        vec![7, 0, 1],
        utf8("java/lang/Object"),
        vec![7, 0, 3],
        utf8("m"),
        utf8("()V"),
        utf8("Code"),
    ] {
        b.extend(e);
    }
    for e in extra {
        b.extend(e);
    }
    b.extend([0, 0x21, 0, 2, 0, 4, 0, 0, 0, 0, 0, 1]); // access, this, super, no interfaces, no fields, 1 method
    b.extend([0, 0x09, 0, 5, 0, 6, 0, 1, 0, 7]); // public static m()V, one attribute: Code
    b.extend((12 + code.len() as u32).to_be_bytes());
    b.extend(max_stack.to_be_bytes());
    b.extend(max_locals.to_be_bytes());
    b.extend((code.len() as u32).to_be_bytes());
    b.extend(code);
    b.extend([0, 0, 0, 0, 0, 0]); // no handlers, no attributes, no class attributes
    b
}

fn refused(bytes: &[u8], want: &[&str]) -> String {
    let e = load(bytes)
        .expect_err("a hostile class file was accepted")
        .0;
    for w in want {
        assert!(e.contains(w), "{e:?} does not say {w:?}");
    }
    e
}

#[test]
fn the_builder_makes_a_valid_class() {
    load(&class(&[], 0, 0, &[0xB1])).expect("return alone is valid");
    load(&class(
        &[],
        2,
        1,
        &[0x04, 0x3B, 0x1A, 0x1A, 0x60, 0x57, 0xB1],
    ))
    .expect("iconst_1 istore_0 iload_0 iload_0 iadd pop return");
}

#[test]
fn wrong_magic() {
    let mut b = class(&[], 0, 0, &[0xB1]);
    b[0] = 0xCB;
    refused(&b, &["offset 0", "magic"]);
}

#[test]
fn truncated_at_every_length() {
    let mut files = vec![class(&[], 0, 0, &[0xB1])];
    let dir = common::classes();
    for name in ["Shapes", "Exceptions", "Strings"] {
        files.push(std::fs::read(dir.join(format!("{name}.class"))).expect("a compiled class"));
    }
    for f in &files {
        for n in 0..f.len() {
            let e = ClassFile::parse("T.class", &f[..n])
                .expect_err("a truncated class file was accepted")
                .0;
            assert!(
                e.contains("offset"),
                "truncated at {n}: {e:?} names no offset"
            );
        }
    }
}

#[test]
fn constant_pool_index_out_of_range() {
    // #8: a Class whose name index is #300.
    refused(
        &class(&[vec![7, 1, 44]], 0, 0, &[0xB1]),
        &["offset", "#300", "out of range"],
    );
    // #8: a String that points at a Class.
    refused(
        &class(&[vec![8, 0, 2]], 0, 0, &[0xB1]),
        &["offset", "not Utf8"],
    );
    // ldc #99 from the code.
    refused(
        &class(&[], 1, 0, &[0x12, 99, 0x57, 0xB1]),
        &["method m()V, pc 0", "ldc", "#99"],
    );
    // getstatic of a Utf8 constant.
    refused(
        &class(&[], 1, 0, &[0xB2, 0, 5, 0x57, 0xB1]),
        &["pc 0", "getstatic", "Utf8"],
    );
}

#[test]
fn unknown_constant_tag() {
    refused(
        &class(&[vec![2, 0, 0]], 0, 0, &[0xB1]),
        &["offset 56", "unknown tag 2"],
    );
}

#[test]
fn branch_out_of_the_code() {
    refused(
        &class(&[], 0, 0, &[0xA7, 0, 100, 0xB1]),
        &["method m()V, pc 0", "goto branches to 100"],
    );
    // Into the middle of an instruction.
    refused(
        &class(&[], 1, 0, &[0x10, 5, 0xA7, 0xFF, 0xFF, 0xB1]),
        &["pc 2", "branches to 1"],
    );
}

#[test]
fn stack_underflow_and_overflow() {
    refused(
        &class(&[], 2, 0, &[0x60, 0xB1]),
        &["method m()V, pc 0", "stack underflow", "iadd"],
    );
    refused(
        &class(&[], 1, 0, &[0x04, 0x04, 0x60, 0x57, 0xB1]),
        &["pc 1", "max_stack 1"],
    );
}

#[test]
fn falls_off_the_end_and_bad_locals() {
    refused(&class(&[], 0, 0, &[0x00]), &["falls off the end"]);
    refused(
        &class(&[], 1, 1, &[0x1C, 0x57, 0xB1]),
        &["pc 0", "local 2", "max_locals is 1"],
    );
    refused(
        &class(&[], 0, 0, &[0xFE, 0xB1]),
        &["pc 0", "undefined opcode 0xfe"],
    );
}

/// xorshift64*: the same bytes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_bytes_and_mutations_never_panic() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for _ in 0..3000 {
        let n = (rng.next() % 300) as usize;
        let mut b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        if rng.next().is_multiple_of(2) && b.len() >= 4 {
            b[..4].copy_from_slice(&[0xCA, 0xFE, 0xBA, 0xBE]);
        }
        let e = load(&b).expect_err("random bytes made a class").0;
        assert!(
            e.contains("offset") || e.contains("pc "),
            "{e:?} is not located"
        );
    }
    let dir = common::classes();
    let mut real = Vec::new();
    for name in common::PROGRAMS {
        real.push((
            *name,
            std::fs::read(dir.join(format!("{name}.class"))).expect("a compiled class"),
        ));
    }
    let mut ran = 0;
    for round in 0..1500 {
        let (name, orig) = &real[round % real.len()];
        let mut b = orig.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() % b.len() as u64) as usize;
            b[at] = rng.next() as u8;
        }
        match load(&b) {
            Err(e) => assert!(
                e.0.contains("offset") || e.0.contains("pc ") || e.0.contains("method"),
                "{e:?} is not located"
            ),
            Ok(_) => {
                // It passed the checks: run it with the other classes beside it.
                let mut src = MapSource::default();
                for (n, bytes) in &real {
                    src.0.insert(n.to_string(), bytes.clone());
                }
                for other in [
                    "Base", "Rect", "Square", "Circle", "Shape", "Oops", "Node", "Tree",
                ] {
                    if let Ok(bytes) = std::fs::read(dir.join(format!("{other}.class"))) {
                        src.0.insert(other.into(), bytes);
                    }
                }
                src.0.insert(name.to_string(), b);
                if let Ok(mut vm) = Vm::new(
                    &src,
                    name,
                    VmConfig {
                        heap_bytes: 16 << 10,
                        // Every other mutant runs with the JIT compiling at once.
                        jit_threshold: (round % 2) as u32,
                        ..VmConfig::default()
                    },
                ) {
                    let _ = vm.run(200_000);
                    ran += 1;
                }
            }
        }
    }
    assert!(ran > 0, "no mutation passed the checks, so none ran");
}
