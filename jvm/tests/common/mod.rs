//! Shared by the JVM tests: the Java test programs compiled with `javac`, a class
//! source over the compiled folder, and `java` run on the same classes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use vmlab_jvm::ClassSource;

/// The Java programs in `jvm/java/`, by main class.
pub const PROGRAMS: &[&str] = &[
    "Arith",
    "Shapes",
    "Sorting",
    "Exceptions",
    "Strings",
    "Garbage",
    "Switch",
    "Loops",
    "Hot",
];

/// The folder holding the compiled classes (compiled once per test binary).
pub fn classes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("jvm-classes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).expect("a class folder");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("java");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
            .expect("jvm/java")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "java"))
            .collect();
        files.sort();
        let st = Command::new("javac")
            .arg("-d")
            .arg(&out)
            .args(&files)
            .status()
            .expect("javac runs (cargo xtask test installs openjdk-17-jdk-headless)");
        assert!(st.success(), "javac failed");
        out
    })
}

/// Class files from a folder.
#[derive(Debug)]
pub struct Dir(pub PathBuf);

impl ClassSource for Dir {
    fn load(&self, name: &str) -> Option<Vec<u8>> {
        if name.contains("..") {
            return None;
        }
        std::fs::read(self.0.join(format!("{name}.class"))).ok()
    }
}

/// `java -cp classes MAIN`: (stdout, stderr, status).
pub fn java(main: &str) -> (String, String, i32) {
    let out = Command::new("java")
        .args(["-Xshare:off", "-cp"])
        .arg(classes())
        .arg(main)
        .output()
        .expect("java runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A xorshift generator: the random programs of the JIT and arithmetic tests come from
/// fixed seeds, so a failure repeats.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// One of `xs`.
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}
