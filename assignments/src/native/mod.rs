//! Native grading: labs read from disk (hidden tests included), a submission graded
//! against all of a lab's tests, and the strings that must never reach the web bundle.

pub mod check;
pub mod component;
pub mod gc_programs;
pub mod jvm_programs;
pub mod procmem;
pub mod reference;
pub mod sandbox;
pub mod switch_traces;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::harness;
use crate::manifest::{LabKind, LabManifest, Visibility};
use crate::spec::{TestFile, TestSpec};
use crate::target::{Assembler, MachineFactory};
use crate::TestOutcome;

/// The lab folders of this source tree (override with `VMLAB_LABS_DIR` or `--labs-dir`).
pub fn default_labs_dir() -> PathBuf {
    match std::env::var_os("VMLAB_LABS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("labs"),
    }
}

/// A lab as read from its folder.
#[derive(Clone, Debug)]
pub struct LabOnDisk {
    /// The lab's folder.
    pub dir: PathBuf,
    /// `lab.toml`.
    pub manifest: LabManifest,
    /// `tests/visible.toml`.
    pub visible: Vec<TestSpec>,
    /// `tests/hidden.toml` (empty when the file does not exist).
    pub hidden: Vec<TestSpec>,
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

impl LabOnDisk {
    /// Reads lab `id` from `labs_dir`; the error says which file is wrong and how.
    pub fn load(labs_dir: &Path, id: &str) -> Result<LabOnDisk, String> {
        let valid = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let dir = labs_dir.join(id);
        if !valid || !dir.join("lab.toml").is_file() {
            let known: Vec<String> = list(labs_dir)
                .into_iter()
                .filter_map(Result::ok)
                .map(|l| l.manifest.id)
                .collect();
            return Err(format!(
                "no lab called {id:?} in {}; the labs are: {}",
                labs_dir.display(),
                known.join(", ")
            ));
        }
        let manifest = LabManifest::parse(&read_text(&dir.join("lab.toml"))?)
            .map_err(|e| format!("{}/{e}", dir.display()))?;
        if manifest.id != id {
            return Err(format!(
                "{}/lab.toml: id {:?} does not match its folder {id:?}",
                dir.display(),
                manifest.id
            ));
        }
        let visible_path = dir.join("tests/visible.toml");
        let visible = TestFile::parse(
            &visible_path.display().to_string(),
            &read_text(&visible_path)?,
        )?
        .tests;
        let hidden_path = dir.join("tests/hidden.toml");
        let hidden = if hidden_path.is_file() {
            TestFile::parse(
                &hidden_path.display().to_string(),
                &read_text(&hidden_path)?,
            )?
            .tests
        } else {
            Vec::new()
        };
        let mut names: Vec<&str> = visible
            .iter()
            .chain(&hidden)
            .map(|t| t.name.as_str())
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("lab {id}: two tests are called {:?}", w[0]));
        }
        Ok(LabOnDisk {
            dir,
            manifest,
            visible,
            hidden,
        })
    }

    /// The reference solution's path (`solution.asm` or `solution.rs`).
    pub fn solution_path(&self) -> PathBuf {
        self.dir
            .join(format!("solution.{}", self.manifest.source_extension()))
    }

    /// The starter's path.
    pub fn starter_path(&self) -> PathBuf {
        self.dir
            .join(format!("starter.{}", self.manifest.source_extension()))
    }
}

/// Every lab folder under `labs_dir`, in course order; folders that fail to load
/// come back as errors.
pub fn list(labs_dir: &Path) -> Vec<Result<LabOnDisk, String>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(labs_dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("lab.toml").is_file());
    dirs.sort();
    let mut labs: Vec<Result<LabOnDisk, String>> = dirs
        .iter()
        .map(|d| {
            let id = d.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            LabOnDisk::load(labs_dir, id)
        })
        .collect();
    labs.sort_by_key(|l| l.as_ref().map(|l| l.manifest.order).unwrap_or(u32::MAX));
    labs
}

/// One graded test, as Gradescope shows it.
#[derive(Clone, PartialEq, Debug)]
pub struct GradedTest {
    /// Name.
    pub name: String,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// All checks passed.
    pub passed: bool,
    /// What differed, or `passed`.
    pub output: String,
    /// Who sees it when.
    pub visibility: Visibility,
}

/// The result of grading one submission.
#[derive(Clone, PartialEq, Debug)]
pub struct GradeReport {
    /// The lab graded.
    pub lab: String,
    /// Every test, visible first.
    pub tests: Vec<GradedTest>,
    /// A summary for the student.
    pub output: String,
    /// Wall-clock seconds spent grading.
    pub execution_time: f64,
}

impl GradeReport {
    /// Points earned in all.
    pub fn score(&self) -> f64 {
        round2(self.tests.iter().map(|t| t.score).sum())
    }
    /// Points possible in all.
    pub fn max_score(&self) -> f64 {
        round2(self.tests.iter().map(|t| t.max_score).sum())
    }
    /// A report for a submission that could not be graded at all.
    pub fn failure(lab: &str, why: String) -> GradeReport {
        GradeReport {
            lab: lab.to_string(),
            tests: Vec::new(),
            output: why,
            execution_time: 0.0,
        }
    }
}

/// Rounds to hundredths (scores are shown with two decimals).
pub fn round2(x: f64) -> f64 {
    // `+ 0.0` turns the -0.0 of an empty float sum into 0.0 for results.json.
    (x * 100.0).round() / 100.0 + 0.0
}

/// What grading needs besides the lab: the machine and assembler for guest labs, the
/// build settings for component labs.
#[allow(missing_debug_implementations)]
pub struct GradeEnv<'a> {
    /// Builds machines for guest tests.
    pub factory: &'a dyn MachineFactory,
    /// Assembles guest sources.
    pub asm: &'a dyn Assembler,
    /// Builds and runs component submissions.
    pub component: component::BuildEnv,
}

/// A submission: its bytes and its file name (the extension tells a flat binary,
/// `.bin`, from source).
#[derive(Clone, Debug)]
pub struct Submission {
    /// The file's name.
    pub file_name: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// Where an upload keeps a candidate submission file.
enum Candidate {
    File(PathBuf),
    InZip { zip: PathBuf, entry: String },
}

/// Folders searched below the upload, at most.
const MAX_DEPTH: usize = 4;
/// Zip entries looked at, at most.
const MAX_ZIP_ENTRIES: usize = 10_000;

fn has_extension(name: &str, extensions: &[&str]) -> bool {
    Path::new(name)
        .extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| extensions.contains(&x))
}

/// Skipped while searching: hidden files and the resource forks macOS zips carry.
fn skipped(name: &str) -> bool {
    name.starts_with('.') || name == "__MACOSX"
}

fn zip_candidates(zip: &Path, extensions: &[&str], out: &mut Vec<Candidate>) -> Result<(), String> {
    let file = std::fs::File::open(zip).map_err(|e| format!("{}: {e}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a readable zip archive ({e})", zip.display()))?;
    for i in 0..archive.len().min(MAX_ZIP_ENTRIES) {
        let Ok(entry) = archive.by_index_raw(i) else {
            continue;
        };
        let Ok(name) = entry.name().map(|n| n.into_owned()) else {
            continue; // a name that is not text
        };
        if entry.is_file() && has_extension(&name, extensions) && !name.split('/').any(skipped) {
            out.push(Candidate::InZip {
                zip: zip.to_path_buf(),
                entry: name,
            });
        }
    }
    Ok(())
}

fn find_candidates(
    dir: &Path,
    depth: usize,
    extensions: &[&str],
    out: &mut Vec<Candidate>,
) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(kind) = e.file_type() else { continue };
        if skipped(&name) || kind.is_symlink() {
            continue;
        }
        if kind.is_dir() && depth < MAX_DEPTH {
            find_candidates(&e.path(), depth + 1, extensions, out)?;
        } else if kind.is_file() && has_extension(&name, extensions) {
            out.push(Candidate::File(e.path()));
        } else if kind.is_file() && has_extension(&name, &["zip"]) {
            zip_candidates(&e.path(), extensions, out)?;
        }
    }
    Ok(())
}

fn read_limited(r: impl std::io::Read, max_bytes: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    r.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("the submission cannot be read ({e})"))?;
    if bytes.len() > max_bytes {
        return Err(format!(
            "the submission is more than {max_bytes} bytes; at most {max_bytes} bytes are accepted"
        ));
    }
    Ok(bytes)
}

impl Submission {
    /// Reads a submission from a file, a zip archive, or a folder (Gradescope's
    /// `/autograder/submission`) holding, in it or in its subfolders or zips, exactly
    /// one file with a fitting extension.
    pub fn read(path: &Path, extensions: &[&str], max_bytes: usize) -> Result<Submission, String> {
        let mut found = Vec::new();
        if path.is_dir() {
            find_candidates(path, 0, extensions, &mut found)?;
        } else if path.is_file()
            && has_extension(&path.display().to_string(), &["zip"])
            && !extensions.contains(&"zip")
        {
            zip_candidates(path, extensions, &mut found)?;
        } else if path.exists() && !path.is_file() {
            // A pipe or a device would block or never end.
            return Err(format!("{} is not a regular file", path.display()));
        } else {
            found.push(Candidate::File(path.to_path_buf()));
        }
        let shown = |c: &Candidate| match c {
            Candidate::File(f) => f.strip_prefix(path).unwrap_or(f).display().to_string(),
            Candidate::InZip { zip, entry } => format!(
                "{entry} in {}",
                zip.strip_prefix(path)
                    .ok()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(zip)
                    .display()
            ),
        };
        let one = match found.len() {
            1 => found.remove(0),
            0 => {
                return Err(format!(
                    "no submission file in {}: expected one file ending in .{}",
                    path.display(),
                    extensions.join(" or .")
                ))
            }
            _ => {
                return Err(format!(
                    "{} holds several candidate files ({}); submit exactly one",
                    path.display(),
                    found.iter().map(shown).collect::<Vec<_>>().join(", ")
                ))
            }
        };
        let (name, bytes) = match &one {
            Candidate::File(file) => {
                let meta =
                    std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
                // Refuse before reading: a huge file must not be loaded into memory.
                if meta.len() > max_bytes as u64 {
                    return Err(format!(
                        "the submission is {} bytes; at most {max_bytes} bytes are accepted",
                        meta.len()
                    ));
                }
                let f =
                    std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
                (file.display().to_string(), read_limited(f, max_bytes)?)
            }
            Candidate::InZip { zip, entry } => {
                let file =
                    std::fs::File::open(zip).map_err(|e| format!("{}: {e}", zip.display()))?;
                let mut archive =
                    zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", zip.display()))?;
                let e = archive
                    .by_name(entry)
                    .map_err(|e| format!("{entry} in {}: {e}", zip.display()))?;
                (entry.clone(), read_limited(e, max_bytes)?)
            }
        };
        Ok(Submission {
            file_name: Path::new(&name)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("submission")
                .to_string(),
            bytes,
        })
    }
}

/// A report in which every test of the lab failed for the same reason (a submission
/// that could not be read, or a grader failure).
pub fn reject_all(lab: &LabOnDisk, why: &str) -> GradeReport {
    let visible_count = lab.visible.len();
    let tests: Vec<GradedTest> = lab
        .visible
        .iter()
        .chain(&lab.hidden)
        .enumerate()
        .map(|(i, t)| GradedTest {
            name: t.name.clone(),
            score: 0.0,
            max_score: t.points,
            passed: false,
            output: why.to_string(),
            visibility: if i < visible_count {
                Visibility::Visible
            } else {
                lab.manifest.grading.hidden_visibility
            },
        })
        .collect();
    GradeReport {
        lab: lab.manifest.id.clone(),
        tests,
        output: format!(
            "{}: the submission could not be graded: {why}",
            lab.manifest.title
        ),
        execution_time: 0.0,
    }
}

/// The file extensions a submission to `lab` may have.
pub fn submission_extensions(lab: &LabManifest) -> &'static [&'static str] {
    match lab.kind {
        LabKind::Guest => &["asm", "s", "nasm", "bin"],
        LabKind::Component => &["rs"],
    }
}

/// Grades `sub` against every test of the lab: visible tests are shown at once,
/// hidden tests as the lab's `hidden_visibility` says. The error is the grader's
/// (not the submission's fault), with details for the staff.
pub fn grade(lab: &LabOnDisk, sub: &Submission, env: &GradeEnv<'_>) -> Result<GradeReport, String> {
    let started = Instant::now();
    let m = &lab.manifest;
    let all: Vec<&TestSpec> = lab.visible.iter().chain(&lab.hidden).collect();
    let mut unprotected = Vec::new();
    let outcomes: Vec<TestOutcome> = match m.kind {
        LabKind::Guest => {
            let binary = sub.file_name.ends_with(".bin");
            let prepared = harness::prepare(m, env.asm, &sub.bytes, binary);
            all.iter()
                .map(|t| harness::run_prepared(m, env.factory, &prepared, &sub.bytes, t))
                .collect()
        }
        LabKind::Component => {
            let g = component::grade(lab, &sub.bytes, &all, &env.component)?;
            unprotected = g.unprotected;
            g.outcomes
        }
    };
    let visible_count = lab.visible.len();
    let tests: Vec<GradedTest> = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| GradedTest {
            output: if o.passed && o.message.is_empty() {
                "passed".into()
            } else {
                o.message
            },
            name: o.name,
            score: round2(o.score),
            max_score: o.max_score,
            passed: o.passed,
            visibility: if i < visible_count {
                Visibility::Visible
            } else {
                m.grading.hidden_visibility
            },
        })
        .collect();
    let visible = &tests[..visible_count];
    let vis_passed = visible.iter().filter(|t| t.passed).count();
    let vis_score = round2(visible.iter().map(|t| t.score).sum());
    let vis_max = round2(visible.iter().map(|t| t.max_score).sum());
    // Shown before the due date: it counts the visible tests only.
    let mut output = format!(
        "{}: {vis_passed} of {visible_count} visible tests passed, {vis_score} of {vis_max} points; {} hidden tests {}.",
        m.title,
        lab.hidden.len(),
        match m.grading.hidden_visibility {
            Visibility::AfterPublished => "are shown when grades are published",
            _ => "are shown after the due date",
        },
    );
    if !unprotected.is_empty() {
        output.push_str(&format!(
            "\nThis grading machine ran the submission without: {}.",
            unprotected.join("; ")
        ));
    }
    Ok(GradeReport {
        lab: m.id.clone(),
        output,
        tests,
        execution_time: started.elapsed().as_secs_f64(),
    })
}

/// Strings that must never appear in the web bundle: every hidden test's name and
/// every reference solution's first comment line (each starts with a unique marker).
pub fn secret_markers(labs_dir: &Path) -> Result<Vec<String>, String> {
    let mut markers = Vec::new();
    for lab in list(labs_dir) {
        markers.extend(secret_markers_of(&lab?)?);
    }
    Ok(markers)
}

/// One lab's secret markers: its hidden test names and its reference's marker line.
pub fn secret_markers_of(lab: &LabOnDisk) -> Result<Vec<String>, String> {
    let mut markers: Vec<String> = lab.hidden.iter().map(|t| t.name.clone()).collect();
    let file = format!("solution.{}", lab.manifest.source_extension());
    let sol = std::fs::read_to_string(lab.solution_path())
        .map_err(|e| format!("{file}: cannot be read ({e})"))?;
    let first = sol.lines().next().unwrap_or_default().trim().to_string();
    if !first.contains("reference solution") {
        return Err(format!(
            "{file}: the first line must be the reference-solution marker comment"
        ));
    }
    markers.push(first);
    Ok(markers)
}
