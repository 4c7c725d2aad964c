//! Checks every demo folder (`<id>/demo.toml` and the guest it names) and embeds
//! them with the shared guest includes (`guests/include/*.inc`), so a broken demo
//! fails the build with its file and key.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/kind_linux.rs"]
#[allow(dead_code)]
mod kind_linux;
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
    let include_dir = root.join("../guests/include");
    println!("cargo:rerun-if-changed={}", include_dir.display());
    let mut includes: Vec<PathBuf> = std::fs::read_dir(&include_dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    includes.retain(|p| p.extension().is_some_and(|e| e == "inc"));
    includes.sort();
    let include_names: Vec<String> = includes
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
        .collect();
    let mut out = String::from(
        "/// The shared guest includes (`guests/include/NAME.inc`), in name order.\nstatic INCLUDES: &[(&str, &str)] = &[\n",
    );
    for (name, path) in include_names.iter().zip(&includes) {
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str(
        "];\n/// Every demo folder, in name order.\nstatic EMBEDDED: &[EmbeddedDemo] = &[\n",
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
        let guests = root.join("../guests").canonicalize().unwrap_or_default();
        let rom = m.boot == manifest::Boot::Rom;
        // A JVM demo's guest is the Java source of an embedded example (jvm/java/).
        let jvm = m.kind == manifest::Kind::Jvm;
        let java = root.join("../jvm/java").canonicalize().unwrap_or_default();
        let inside = guest.canonicalize().is_ok_and(|g| {
            (g.starts_with(root)
                || (rom && g.starts_with(&guests))
                || (jvm && g.starts_with(&java)))
                && g.is_file()
        });
        if !inside {
            let under = match (rom, jvm) {
                (true, _) => "demos/ or guests/",
                (_, true) => "demos/ or jvm/java/",
                _ => "demos/",
            };
            fail(format!("guest: {:?} is not a file under {under}", m.guest));
        }
        println!("cargo:rerun-if-changed={}", guest.display());
        let source =
            std::fs::read_to_string(&guest).unwrap_or_else(|e| fail(format!("guest: {e}")));
        let labelled = manifest::with_includes(&source, |n| {
            std::fs::read_to_string(include_dir.join(n)).ok()
        });
        m.validate(&labelled).unwrap_or_else(|e| fail(e));
        for name in manifest::includes(&source) {
            if !include_names.contains(&name) {
                fail(format!(
                    "guest: {}: %include \"{name}\" is not a file in guests/include/",
                    m.guest
                ));
            }
        }
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
