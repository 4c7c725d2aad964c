//! Random int loops compiled by the JIT: methods with more int locals than the JIT
//! has registers for, whose loop bodies update them with every int operator
//! (divisions included, some by -1 so x86 faults on MIN_VALUE / -1), written as Java
//! from a fixed seed, compiled with `javac`, and printed the same by `java` and by
//! vmlab's JVM with the JIT compiling every method at its first call, whole and in
//! small budget slices.

mod common;

use std::fmt::Write;
use std::path::Path;
use std::process::Command;

use common::Rng;
use vmlab_jvm::{MapSource, Outcome, Vm, VmConfig};

/// Locals a loop body may assign (`i`, the loop counter, it only reads).
const VARS: [&str; 6] = ["a", "b", "c", "d", "e", "s"];

fn expr(r: &mut Rng, depth: u32) -> String {
    if depth == 0 || r.next().is_multiple_of(3) {
        return match r.next() % 3 {
            0 => format!("{}", (r.next() as i32) % 1000),
            _ => r.pick(&["a", "b", "c", "d", "e", "s", "i"]).into(),
        };
    }
    let a = expr(r, depth - 1);
    let b = expr(r, depth - 1);
    match r.next() % 8 {
        0 => format!("({a} {} {b})", r.pick(&["+", "-", "*"])),
        1 => format!("({a} {} ({b} | 1))", r.pick(&["/", "%"])),
        2 => format!(
            "({a} {} {})",
            r.pick(&["/", "%"]),
            r.pick(&["2", "4", "-1", "7", "-16"])
        ),
        3 => format!("({a} {} {b})", r.pick(&["&", "|", "^"])),
        4 => format!("({a} {} {b})", r.pick(&["<<", ">>", ">>>"])),
        5 => format!("({a} {} {})", r.pick(&["<<", ">>", ">>>"]), r.next() % 40),
        6 => format!(
            "({a} {} {b} ? {a} : {b})",
            r.pick(&["<", "<=", ">", ">=", "==", "!="])
        ),
        _ => format!(
            "({} ({a}))",
            r.pick(&["(byte)", "(short)", "(char)", "-", "~"])
        ),
    }
}

fn statement(r: &mut Rng, out: &mut String) {
    let v = VARS[(r.next() % VARS.len() as u64) as usize];
    let e = expr(r, 3);
    match r.next() % 6 {
        0 => writeln!(out, "            {v} = {e};"),
        1 => writeln!(
            out,
            "            {v} {}= {e};",
            r.pick(&["+", "-", "*", "^", "|", "&", "<<", ">>", ">>>"])
        ),
        2 => writeln!(
            out,
            "            {v}{};",
            r.pick(&["++", "--", " += 7", " -= 3"])
        ),
        3 => writeln!(
            out,
            "            {v} = {v} {} {};",
            r.pick(&["/", "%"]),
            r.pick(&["2", "8", "-1", "3"])
        ),
        4 => {
            let c = expr(r, 2);
            let w = VARS[(r.next() % VARS.len() as u64) as usize];
            writeln!(
                out,
                "            if ({c} {} {e}) {{ {v} = {}; }} else {{ {w} ^= {v}; }}",
                r.pick(&["<", "<=", ">", ">=", "==", "!="]),
                expr(r, 2)
            )
        }
        _ => writeln!(out, "            {v} = ({v} + {e}) & 0x7fffffff;"),
    }
    .unwrap();
}

fn program(r: &mut Rng, methods: usize) -> String {
    let mut src = String::from("public class RandLoops {\n");
    for m in 0..methods {
        writeln!(src, "    static int f{m}(int a, int b, int c) {{").unwrap();
        src.push_str("        int d = a ^ 21845, e = b - c, s = 0;\n");
        writeln!(
            src,
            "        for (int i = 0; i < {}; i++) {{",
            5 + r.next() % 40
        )
        .unwrap();
        for _ in 0..2 + r.next() % 5 {
            statement(r, &mut src);
        }
        src.push_str("        }\n        return a ^ b ^ c ^ d ^ e ^ s;\n    }\n");
    }
    src.push_str("    public static void main(String[] args) {\n");
    src.push_str("        int min = Integer.MIN_VALUE;\n");
    src.push_str("        for (int k = 0; k < 12; k++) {\n");
    for m in 0..methods {
        writeln!(
            src,
            "            System.out.println(f{m}(k * 7919 - 100, k == 3 ? min : k ^ 12345, -k * 31));"
        )
        .unwrap();
    }
    src.push_str("        }\n    }\n}\n");
    src
}

#[test]
fn random_loops_compiled_print_what_java_prints() {
    let mut r = Rng(0x0DDB_A11C_0FFE_E123);
    let src = program(&mut r, 40);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("jvm-randloops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("RandLoops.java"), &src).unwrap();
    let st = Command::new("javac")
        .arg("-d")
        .arg(&dir)
        .arg(dir.join("RandLoops.java"))
        .status()
        .expect("javac runs");
    assert!(st.success(), "javac refused the generated program:\n{src}");
    let out = Command::new("java")
        .args(["-Xshare:off", "-cp"])
        .arg(&dir)
        .arg("RandLoops")
        .output()
        .expect("java runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut classes = MapSource::default();
    classes.0.insert(
        "RandLoops".into(),
        std::fs::read(dir.join("RandLoops.class")).unwrap(),
    );
    let config = VmConfig {
        jit_threshold: 1,
        ..VmConfig::default()
    };
    let mut whole = Vm::new(&classes, "RandLoops", config.clone()).unwrap();
    assert_eq!(whole.run(50_000_000).unwrap(), Outcome::Finished);
    for (i, (g, w)) in whole.stdout.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {i} differs");
    }
    assert_eq!(whole.stdout, want);
    let s = &whole.jit.stats;
    assert!(s.compiled >= 40 && s.x86_instructions > 10_000, "{s:?}");
    let mut sliced = Vm::new(&classes, "RandLoops", config).unwrap();
    let mut runs = 0;
    while sliced.run(211).unwrap() == Outcome::Budget {
        runs += 1;
        assert!(runs < 10_000_000, "no progress");
    }
    assert_eq!(sliced.stdout, want);
    let _ = std::fs::remove_dir_all(&dir);
}
