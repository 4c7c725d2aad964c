//! Random int and long expressions (every arithmetic, bitwise and shift operator,
//! casts, comparisons and the conditional operator), written as a Java program from
//! a fixed seed, compiled with `javac`, and printed the same by vmlab's JVM and `java`.

mod common;

use std::fmt::Write;
use std::path::Path;
use std::process::Command;

use common::Rng;
use vmlab_jvm::{MapSource, Outcome, Vm, VmConfig};

/// An int expression (`long_` false) or a long one.
fn expr(r: &mut Rng, depth: u32, long_: bool) -> String {
    if depth == 0 || r.next().is_multiple_of(4) {
        return match (long_, r.next() % 3) {
            (false, 0) => r.pick(&["a", "b", "c"]).into(),
            (true, 0) => r.pick(&["x", "y"]).into(),
            (false, 1) => format!("{}", r.next() as i32 % 100_000),
            (true, 1) => format!("{}L", r.next() as i64 >> (r.next() % 40)),
            (false, _) => format!("(int) {}", expr(r, depth.saturating_sub(1), true)),
            (true, _) => format!("(long) {}", expr(r, depth.saturating_sub(1), false)),
        };
    }
    let a = expr(r, depth - 1, long_);
    let b = expr(r, depth - 1, long_);
    match r.next() % 7 {
        0 => format!("({a} {} {b})", r.pick(&["+", "-", "*"])),
        1 => format!("({a} {} ({b} | 1))", r.pick(&["/", "%"])),
        2 => format!("({a} {} {b})", r.pick(&["&", "|", "^"])),
        3 => format!("({a} {} (int) ({b}))", r.pick(&["<<", ">>", ">>>"])),
        4 => format!(
            "({a} {} {b} ? {a} : {b})",
            r.pick(&["<", "<=", ">", ">=", "==", "!="])
        ),
        5 if !long_ => format!(
            "({} ({a}))",
            r.pick(&["(byte)", "(short)", "(char)", "-", "~"])
        ),
        5 => format!("(-({a}))"),
        _ => format!("Math.{}({a}, {b})", r.pick(&["max", "min"])),
    }
}

#[test]
fn random_expressions_match_java() {
    let mut r = Rng(0x1234_5678_9ABC_DEF1);
    let mut src =
        String::from("public class RandArith {\n    public static void main(String[] args) {\n");
    src.push_str("        int a = 7, b = -1234567, c = 2147483600;\n        long x = 9000000000L, y = -3L;\n");
    for i in 0..150 {
        let long_ = i % 2 == 1;
        writeln!(
            src,
            "        System.out.println({});",
            expr(&mut r, 4, long_)
        )
        .unwrap();
        if i % 10 == 0 {
            writeln!(src, "        a = a * 31 + {}; x = x ^ (x << 7);", i).unwrap();
        }
    }
    src.push_str("    }\n}\n");
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("jvm-rand-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("RandArith.java"), &src).unwrap();
    let st = Command::new("javac")
        .arg("-d")
        .arg(&dir)
        .arg(dir.join("RandArith.java"))
        .status()
        .expect("javac runs");
    assert!(st.success(), "javac refused the generated program:\n{src}");
    let out = Command::new("java")
        .arg("-cp")
        .arg(&dir)
        .arg("RandArith")
        .output()
        .expect("java runs");
    assert!(out.status.success());
    let want = String::from_utf8_lossy(&out.stdout);
    let mut classes = MapSource::default();
    classes.0.insert(
        "RandArith".into(),
        std::fs::read(dir.join("RandArith.class")).unwrap(),
    );
    let mut vm = Vm::new(&classes, "RandArith", VmConfig::default()).unwrap();
    assert_eq!(vm.run(10_000_000).unwrap(), Outcome::Finished);
    for (i, (g, w)) in vm.stdout.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {i} differs");
    }
    assert_eq!(vm.stdout.lines().count(), 150);
    assert_eq!(vm.stdout, want);
}
