//! Checks every demo folder (`<id>/demo.toml` and the guest it names) and embeds
//! them, so a broken demo fails the build with its file and key.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/manifest.rs"]
#[allow(dead_code)]
mod manifest;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed={}", root.display());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("demo.toml").is_file());
    dirs.sort();
    let mut out = String::from(
        "/// Every demo folder, in name order.\nstatic EMBEDDED: &[EmbeddedDemo] = &[\n",
    );
    for dir in &dirs {
        let id = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let toml_path = dir.join("demo.toml");
        println!("cargo:rerun-if-changed={}", dir.display());
        println!("cargo:rerun-if-changed={}", toml_path.display());
        let fail = |e: String| -> ! { panic!("demos/{id}/demo.toml: {e}") };
        let text = std::fs::read_to_string(&toml_path).unwrap_or_else(|e| fail(e.to_string()));
        let m = manifest::Manifest::parse(&text).unwrap_or_else(|e| fail(e));
        let guest = dir.join(&m.guest);
        let inside = guest
            .canonicalize()
            .is_ok_and(|g| g.starts_with(root) && g.is_file());
        if !inside {
            fail(format!("guest: {:?} is not a file under demos/", m.guest));
        }
        println!("cargo:rerun-if-changed={}", guest.display());
        let source =
            std::fs::read_to_string(&guest).unwrap_or_else(|e| fail(format!("guest: {e}")));
        m.validate(&source).unwrap_or_else(|e| fail(e));
        let _ = writeln!(
            out,
            "    EmbeddedDemo {{ id: {id:?}, manifest: include_str!({:?}), source: include_str!({:?}) }},",
            toml_path.display().to_string(),
            guest.display().to_string(),
        );
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded_demos.rs");
    std::fs::write(dest, out).expect("write embedded_demos.rs");
}
