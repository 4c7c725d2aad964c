//! `java` and `javac` as the JVM labs' oracles: what a class prints, and whether a
//! committed class file is javac's output of its source.

use std::path::Path;
use std::process::Command;

/// Whether `tool` (`java`, `javac`) is missing on this machine; says so, naming
/// the check it skips.
pub fn missing(tool: &str, check: &str) -> bool {
    let gone = Command::new(tool).arg("-version").output().is_err();
    if gone {
        eprintln!("{tool} is not installed: {check} is not checked");
    }
    gone
}

/// The embedded examples' class files (`jvm/examples`).
pub fn examples_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../jvm/examples"))
}

/// What `java -cp dir class` prints.
pub fn java_prints(dir: &Path, class: &str) -> String {
    let out = Command::new("java")
        .arg("-cp")
        .arg(dir)
        .arg(class)
        .output()
        .expect("java runs");
    assert!(out.status.success(), "{class}: java failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compiles `sources` into a scratch folder named `scratch` and checks that each
/// committed class file equals javac's output.
pub fn assert_fresh(scratch: &str, sources: &[&Path], classes: &[(&str, &[u8])]) {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(scratch);
    std::fs::create_dir_all(&out).expect("scratch");
    let st = Command::new("javac")
        .arg("-d")
        .arg(&out)
        .args(sources)
        .status()
        .expect("javac runs");
    assert!(st.success());
    for (name, bytes) in classes {
        let fresh = std::fs::read(out.join(format!("{name}.class"))).expect("compiled");
        assert_eq!(
            &fresh[..],
            *bytes,
            "{name}.class is stale: recompile it with javac"
        );
    }
}
