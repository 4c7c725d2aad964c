//! `vmlab labs`: lists the labs with their kind, tests and points.

use std::path::PathBuf;
use std::process::ExitCode;

use assignments::native::{default_labs_dir, list};

/// Arguments of `vmlab labs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The folder holding the lab folders (default: the source tree's `assignments/labs`).
    #[arg(long)]
    pub labs_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Prints every lab; a lab folder that does not load is reported and makes the exit code 1.
pub fn run(args: Args) -> ExitCode {
    let dir = args.labs_dir.unwrap_or_else(default_labs_dir);
    let labs = list(&dir);
    if labs.is_empty() {
        eprintln!(
            "vmlab labs: no lab folders (with a lab.toml) in {}",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    let mut ok = true;
    let mut rows = Vec::new();
    for lab in &labs {
        match lab {
            Ok(l) => {
                let m = &l.manifest;
                let points: f64 = l.visible.iter().chain(&l.hidden).map(|t| t.points).sum();
                rows.push(serde_json::json!({
                    "id": m.id,
                    "order": m.order,
                    "title": m.title,
                    "kind": m.kind.name(),
                    "visible_tests": l.visible.len(),
                    "hidden_tests": l.hidden.len(),
                    "points": points,
                    "submission": format!("*.{}", m.source_extension()),
                }));
            }
            Err(e) => {
                ok = false;
                eprintln!("vmlab labs: {e}");
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into())
        );
    } else {
        println!(
            "{:<3} {:<14} {:<10} {:>7} {:>6} {:>6}  title",
            "#", "id", "kind", "visible", "hidden", "points"
        );
        for r in &rows {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let num = |k: &str| r[k].as_f64().unwrap_or_default();
            println!(
                "{:<3} {:<14} {:<10} {:>7} {:>6} {:>6}  {}",
                num("order"),
                text("id"),
                text("kind"),
                num("visible_tests"),
                num("hidden_tests"),
                num("points"),
                text("title")
            );
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
