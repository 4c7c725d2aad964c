//! Embeds each lab's visible parts (manifest, statement, starter, visible tests) into
//! the crate, so the browser build carries them and nothing else: hidden tests and
//! reference solutions stay on disk for the native grader.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("lab.toml").is_file());
    dirs.sort();
    let mut out = String::from("/// Every lab's visible files, in folder order.\npub(crate) static EMBEDDED: &[EmbeddedLab] = &[\n");
    for dir in &dirs {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let starter = ["starter.asm", "starter.rs"]
            .iter()
            .find(|f| dir.join(f).is_file())
            .copied()
            .unwrap_or("starter.asm");
        let file = |f: &str| format!("{:?}", dir.join(f).display().to_string());
        for f in ["lab.toml", "statement.md", starter, "tests/visible.toml"] {
            if !dir.join(f).is_file() {
                panic!("lab {name}: {f} is missing");
            }
        }
        let _ = writeln!(
            out,
            "    EmbeddedLab {{ dir: {name:?}, manifest: include_str!({}), statement: include_str!({}), starter_name: {starter:?}, starter: include_str!({}), visible: include_str!({}) }},",
            file("lab.toml"),
            file("statement.md"),
            file(starter),
            file("tests/visible.toml"),
        );
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded_labs.rs");
    std::fs::write(dest, out).expect("write embedded_labs.rs");
}
