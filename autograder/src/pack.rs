//! `vmlab pack`: writes a course pack (labs' visible parts, demos and an `index.json`)
//! for a static site to serve; hidden tests and reference solutions never go in.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use assignments::manifest::LabKind;
use assignments::native::LabOnDisk;

use crate::pack_demo;

/// The pack format's name and version, in `index.json`.
pub const FORMAT: &str = "vmlab-pack 1";

/// Arguments of `vmlab pack`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Lab folders (each like `assignments/labs/ID/`) and demo folders (each like
    /// `demos/ID/`, with a `demo.toml`).
    #[arg(required = true)]
    pub labs: Vec<PathBuf>,
    /// The pack folder to write (created; files of the same names are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the outcome as JSON on stdout (`{"ok", "labs", "demos", "out"}` or `{"ok", "error"}`).
    #[arg(long)]
    pub json: bool,
}

/// The files of a lab that a pack carries: the manifest, the statement, the starter
/// and the visible tests.
fn visible_files(lab: &LabOnDisk) -> Vec<String> {
    vec![
        "lab.toml".into(),
        "statement.md".into(),
        format!("starter.{}", lab.manifest.source_extension()),
        "tests/visible.toml".into(),
    ]
}

/// Whether a file name is one that must never be served: hidden tests or a reference solution.
pub fn is_secret(name: &str) -> bool {
    name == "hidden.toml" || name.starts_with("solution.")
}

/// Reads one lab folder (the error names the file and key that is wrong).
fn read_lab(dir: &Path) -> Result<LabOnDisk, String> {
    let id = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a lab folder", dir.display()))?;
    let parent = dir.parent().unwrap_or(Path::new("."));
    let lab = LabOnDisk::load(parent, id)?;
    if lab.manifest.kind == LabKind::Component {
        return Err(format!(
            "{}/lab.toml: kind = \"component\": a component lab's Rust is graded natively, the browser cannot run it",
            dir.display()
        ));
    }
    Ok(lab)
}

/// Every file under `dir` whose name [`is_secret`].
fn secrets_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if entry.file_name().to_str().is_some_and(is_secret) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// What a pack holds: its lab and demo ids.
#[derive(Debug, Default)]
pub struct Packed {
    /// The labs' ids, in the order given.
    pub labs: Vec<String>,
    /// The demos' ids, in the order given.
    pub demos: Vec<String>,
}

/// Writes the pack from lab and demo folders (a folder with a `demo.toml` is a demo).
pub fn pack(folders: &[PathBuf], out: &Path) -> Result<Packed, String> {
    let (demo_dirs, labs): (Vec<&PathBuf>, Vec<&PathBuf>) =
        folders.iter().partition(|d| pack_demo::is_demo(d));
    let read: Vec<LabOnDisk> = labs.iter().map(|d| read_lab(d)).collect::<Result<_, _>>()?;
    let demos: Vec<pack_demo::DemoOnDisk> = demo_dirs
        .iter()
        .map(|d| pack_demo::read(d))
        .collect::<Result<_, _>>()?;
    let mut demo_ids: Vec<String> = Vec::new();
    for demo in &demos {
        if demo_ids.contains(&demo.id) {
            return Err(format!("two demos are called {:?}", demo.id));
        }
        demo_ids.push(demo.id.clone());
    }
    let mut ids: Vec<String> = Vec::new();
    for lab in &read {
        let id = lab.manifest.id.clone();
        if ids.contains(&id) {
            return Err(format!("two labs are called {id:?}"));
        }
        let dest = out.join("labs").join(&id);
        std::fs::create_dir_all(dest.join("tests"))
            .map_err(|e| format!("{}: {e}", dest.display()))?;
        for name in visible_files(lab) {
            let from = lab.dir.join(&name);
            let to = dest.join(&name);
            std::fs::copy(&from, &to)
                .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
        }
        ids.push(id);
    }
    for demo in &demos {
        pack_demo::write(demo, out)?;
    }
    let index = serde_json::json!({ "format": FORMAT, "labs": ids, "demos": demo_ids });
    let index_path = out.join("index.json");
    let text = serde_json::to_string_pretty(&index).map_err(|e| e.to_string())?;
    std::fs::write(&index_path, text + "\n")
        .map_err(|e| format!("{}: {e}", index_path.display()))?;
    let secrets = secrets_under(out);
    if !secrets.is_empty() {
        let names: Vec<String> = secrets.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "{} holds hidden tests or reference solutions, which a served pack must not: {}",
            out.display(),
            names.join(", ")
        ));
    }
    Ok(Packed {
        labs: ids,
        demos: demo_ids,
    })
}

/// `vmlab pack`: exit code 0 with the pack written, 1 with the reason it was not.
pub fn run(args: Args) -> ExitCode {
    let result = pack(&args.labs, &args.out);
    if args.json {
        let report = match &result {
            Ok(p) => serde_json::json!({
                "ok": true, "labs": p.labs, "demos": p.demos, "out": args.out
            }),
            Err(e) => serde_json::json!({ "ok": false, "error": e }),
        };
        println!("{report}");
    }
    match result {
        Ok(p) => {
            eprintln!(
                "packed labs [{}] (visible tests only) and demos [{}] into {}",
                p.labs.join(", "),
                p.demos.join(", "),
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vmlab pack: {e}");
            ExitCode::FAILURE
        }
    }
}
