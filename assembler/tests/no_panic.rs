//! Robustness: random, mutated and pathological inputs never panic and stay bounded.

use std::time::{Duration, Instant};
use vmlab_asm::{assemble, Options};

/// xorshift64*: a small deterministic generator (the seeds make failures reproducible).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

fn corpus() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "asm"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Assembles and checks the result is self-consistent; panics only on a real bug.
fn check(src: &str) {
    let include = |name: &str| {
        if name.len() < 8 {
            Some(String::from("nop\n%include \"x\"\n"))
        } else {
            None
        }
    };
    let opts = Options {
        include: Some(&include),
        max_output_bytes: 1 << 20,
        max_lines: 100_000,
        ..Options::default()
    };
    match assemble("fuzz.asm", src, &opts) {
        Ok(out) => {
            let total: u64 = out.listing.iter().map(|l| l.length as u64).sum();
            assert!(
                total <= out.bytes.len() as u64,
                "listing covers more bytes than were emitted"
            );
            let _ = out.listing_text();
        }
        Err(e) => {
            assert!(!e.0.is_empty());
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..300 {
        let len = rng.below(400);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(&String::from_utf8_lossy(&bytes));
    }
}

const VOCAB: &[&str] = &[
    "mov",
    "add",
    "jmp",
    "jz",
    "call",
    "push",
    "pop",
    "lea",
    "times",
    "db",
    "dw",
    "dd",
    "dq",
    "resb",
    "align",
    "org",
    "bits",
    "16",
    "32",
    "64",
    "equ",
    "eax",
    "ax",
    "al",
    "ebx",
    "bp",
    "si",
    "esp",
    "cs",
    "ds",
    "es",
    "cr0",
    "[",
    "]",
    "(",
    ")",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "%%",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    "~",
    "!",
    ",",
    ":",
    "$",
    "$$",
    "0",
    "1",
    "-1",
    "0x7fffffffffffffff",
    "1<<40",
    "'a'",
    "\"str\"",
    "`\\x41`",
    "byte",
    "word",
    "dword",
    "far",
    "short",
    "near",
    "strict",
    "label",
    ".local",
    "label:",
    "%define X",
    "%ifdef X",
    "%else",
    "%endif",
    "%include \"x\"",
    "%if",
    "%assign N",
    "rep",
    "lock",
    "o16",
    "a32",
    "movsb",
    "lgdt",
    "int",
    "in",
    "out",
    "xchg",
    "test",
    "imul",
    "shl",
    "loop",
    "jecxz",
    "retf",
    "enter",
    "\t",
    " ",
    ";",
    "\n",
];

#[test]
fn random_token_soup_never_panics() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..400 {
        let mut src = String::new();
        for _ in 0..rng.below(60) {
            src.push_str(rng.pick(VOCAB));
            src.push(if rng.below(5) == 0 { '\n' } else { ' ' });
        }
        check(&src);
    }
}

#[test]
fn mutated_corpus_files_never_panic() {
    let files = corpus();
    assert!(!files.is_empty());
    let mut rng = Rng(0x0bad_5eed_0000_0001);
    let start = Instant::now();
    for round in 0..120 {
        let base = &files[round % files.len()];
        let mut lines: Vec<String> = base.lines().take(150).map(String::from).collect();
        for _ in 0..1 + rng.below(6) {
            if lines.is_empty() {
                break;
            }
            let i = rng.below(lines.len());
            match rng.below(6) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let l = lines[i].clone();
                    lines.insert(rng.below(lines.len()), l);
                }
                2 => {
                    let j = rng.below(lines.len());
                    lines.swap(i, j);
                }
                3 => {
                    let mut b = lines[i].clone().into_bytes();
                    if !b.is_empty() {
                        let k = rng.below(b.len());
                        b[k] = rng.next() as u8 & 0x7f;
                    }
                    lines[i] = String::from_utf8_lossy(&b).into_owned();
                }
                4 => {
                    let cut = rng.below(lines[i].len() + 1);
                    lines[i] = lines[i].chars().take(cut).collect();
                }
                _ => lines[i].push_str(rng.pick(VOCAB)),
            }
        }
        check(&lines.join("\n"));
    }
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "mutation rounds are too slow: {:?}",
        start.elapsed()
    );
}

#[test]
fn pathological_inputs_are_bounded() {
    let start = Instant::now();
    // Deep nesting of parentheses and unary operators.
    check(&format!(
        "db {}1{}\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    ));
    check(&format!("db {}1\n", "-".repeat(100_000)));
    check(&format!("dd {}\n", "1+".repeat(50_000) + "1"));
    let long_sum = format!("dd {}\n", "1+".repeat(250) + "1");
    assert_eq!(
        assemble("t.asm", &long_sum, &Options::default()).map(|o| o.bytes),
        Ok(vec![251, 0, 0, 0])
    );
    let too_long = format!("dd {}\n", "1+".repeat(300) + "1");
    let e = assemble("t.asm", &too_long, &Options::default()).unwrap_err();
    assert_eq!(e.0[0].message, "expression has more than 256 operators");
    // Self-referential and exponential macros.
    check("%define A A A\nmov ax, A\n");
    let mut chain = String::new();
    for i in 0..40 {
        chain.push_str(&format!("%define M{} M{} M{}\n", i, i + 1, i + 1));
    }
    chain.push_str("db M0\n");
    check(&chain);
    check("%define F(x) F(x) F(x)\ndb F(1)\n");
    check("%define F(x) G(x,x)\n%define G(a,b) F(a) F(b)\ndb F(1)\n");
    // Recursive macros and huge repetitions.
    check("%macro R 0\nR\n%endmacro\nR\n");
    check("%macro R 0\nR\nR\n%endmacro\nR\n");
    check("%rep 1000000000\nnop\n%endrep\n");
    check("%rep 100000\n%rep 100000\nnop\n%endrep\n%endrep\n");
    // An include that includes itself (the callback in `check` serves any short name).
    check("%include \"x\"\n");
    // Huge counts and outputs.
    check("times 1<<40 db 0\n");
    check("times 1<<19 dd 0\ntimes 1<<19 dd 0\n");
    check("resb 0x7fffffffffffffff\n");
    check("align 0x4000000000000000\n");
    // Many lines of text: a megabyte of garbage and a megabyte of errors.
    check(&"x y z ! @ # $ % ^ & *\n".repeat(50_000));
    check(&"mov ax, undefined\n".repeat(20_000));
    // Jumps that never settle would loop; they must stop.
    check(&"jmp $+2+($-$$)&1\n".repeat(200));
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "pathological inputs are too slow: {:?}",
        start.elapsed()
    );
}
