//! The batch-grading figure of `cargo xtask bench`: `vmlab grade --submissions DIR
//! --jobs 2` (release build) over a generated class of right, wrong and hostile
//! submissions, in submissions per second.

use crate::bench::Row;
use crate::step;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The class size and the parallelism the figure is quoted at.
const STUDENTS: usize = 200;
const JOBS: &str = "2";
/// The lab the class is graded against.
const LAB: &str = "asm-warmup";

/// Builds `vmlab` (release), grades a generated class and returns the figure's row.
pub fn rows() -> Result<Vec<Row>> {
    let vmlab = build_vmlab()?;
    let dir = crate::target_dir().join("bench").join("grade");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let class = dir.join("class");
    let labs = assignments::native::default_labs_dir();
    generate_class(&labs.join(LAB), &class)?;
    let csv = dir.join("results.csv");
    let mut cmd = Command::new(&vmlab);
    cmd.args(["grade", "--lab", LAB, "--jobs", JOBS, "--labs-dir"])
        .arg(&labs)
        .arg("--submissions")
        .arg(&class)
        .arg("--out")
        .arg(&csv)
        .arg("--work-dir")
        .arg(dir.join("work"));
    println!("$ {}", step::display(&cmd));
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("starting {}", vmlab.display()))?;
    let secs = start.elapsed().as_secs_f64();
    ensure!(
        out.status.success(),
        "vmlab grade failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text =
        std::fs::read_to_string(&csv).with_context(|| format!("reading {}", csv.display()))?;
    let rows = text.lines().count().saturating_sub(1);
    ensure!(
        rows == STUDENTS,
        "{} holds {rows} rows for {STUDENTS} submissions",
        csv.display()
    );
    println!("{rows} rows in {secs:.1} s ({})", csv.display());
    Ok(vec![Row::new(
        &format!("batch grading, {STUDENTS} submissions, --jobs {JOBS}"),
        format!("{:.1} submissions/s ({secs:.1} s)", rows as f64 / secs),
        "",
        None,
    )])
}

/// Builds the `vmlab` CLI (release, with the fast tier's flags) and returns its path.
pub fn build_vmlab() -> Result<PathBuf> {
    let mut cmd = step::cargo_fast_native();
    cmd.args(["build", "--release", "--package", "autograder"]);
    if !step::run(&mut cmd)? {
        bail!("building the vmlab CLI failed");
    }
    Ok(crate::target_dir().join("release/vmlab"))
}

/// Writes [`STUDENTS`] submissions for the lab at `lab` into `class`: the reference
/// solution, the starter, an empty file, binary garbage, a megabyte of comments, a
/// folder with two candidates, a nested folder, and a program too large to assemble.
fn generate_class(lab: &Path, class: &Path) -> Result<()> {
    std::fs::create_dir_all(class)?;
    let read = |name: &str| {
        std::fs::read(lab.join(name))
            .with_context(|| format!("reading {}", lab.join(name).display()))
    };
    let solution = read("solution.asm")?;
    let starter = read("starter.asm")?;
    for i in 0..STUDENTS {
        let who = class.join(format!("student{i:03}"));
        let asm = who.with_extension("asm");
        match i % 8 {
            0 => std::fs::write(&asm, &solution),
            1 => std::fs::write(&asm, &starter),
            2 => std::fs::write(&asm, b""),
            3 => std::fs::write(
                who.with_extension("bin"),
                [0xcd, 0x03, 0xff, 0xfe, 0x0f, 0x0b],
            ),
            4 => std::fs::write(&asm, vec![b';'; 1 << 20]),
            5 => std::fs::create_dir_all(&who)
                .and_then(|()| std::fs::write(who.join("a.asm"), b"hlt"))
                .and_then(|()| std::fs::write(who.join("b.asm"), b"hlt")),
            6 => std::fs::create_dir_all(who.join("src"))
                .and_then(|()| std::fs::write(who.join("src/answer.asm"), &solution)),
            _ => std::fs::write(&asm, b"times 100000000 db 0x90\n"),
        }
        .with_context(|| format!("writing {}", who.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_class_has_one_entry_per_student_of_every_kind() {
        let class = std::env::temp_dir().join(format!("vmlab-bench-class-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&class);
        let lab = assignments::native::default_labs_dir().join(LAB);
        generate_class(&lab, &class).expect("generate");
        let entries: Vec<_> = std::fs::read_dir(&class)
            .expect("list")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(entries.len(), STUDENTS);
        let solution = std::fs::read(lab.join("solution.asm")).expect("solution");
        let right = entries
            .iter()
            .filter(|p| std::fs::read(p).is_ok_and(|b| b == solution))
            .count();
        assert_eq!(
            right,
            STUDENTS.div_ceil(8),
            "one in eight is the reference solution"
        );
        assert_eq!(entries.iter().filter(|p| p.is_dir()).count(), 50);
        assert_eq!(
            entries
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "bin"))
                .count(),
            25
        );
        let _ = std::fs::remove_dir_all(&class);
    }

    /// Prints the figure on its own: `cargo test -p xtask -- --ignored batch_grading`.
    #[test]
    #[ignore = "builds vmlab in release and grades 200 submissions; cargo xtask bench runs it"]
    fn batch_grading_figure() {
        for row in rows().expect("the figure") {
            println!("{row:?}");
        }
    }
}
