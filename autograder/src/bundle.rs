//! `vmlab gradescope-bundle` and `vmlab prairielearn-bundle`: pack a lab's grader
//! (the lab, vmlab's binary and sources, `setup.sh`, and Gradescope's
//! `run_autograder` or PrairieLearn's `Dockerfile` and `entrypoint`) into a folder,
//! or for Gradescope a zip, after checking the lab.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use assignments::native::{default_labs_dir, LabOnDisk};
use assignments::LabKind;

/// The platform a bundle is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// Gradescope: `setup.sh` and `run_autograder`, uploaded as a zip.
    Gradescope,
    /// PrairieLearn: a Docker image whose `entrypoint` grades `/grade/student`.
    Prairielearn,
}

/// Arguments of `vmlab gradescope-bundle` and `vmlab prairielearn-bundle`.
#[derive(clap::Args, Debug)]
pub struct BundleArgs {
    /// The lab to pack.
    #[arg(long)]
    pub lab: String,
    /// Where to write: a folder, or (Gradescope) a file ending in `.zip`.
    #[arg(long)]
    pub out: PathBuf,
    /// The folder holding the lab folders (default: the source tree's `assignments/labs`).
    #[arg(long)]
    pub labs_dir: Option<PathBuf>,
}

/// The vmlab source tree this binary was built from.
fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The crates a grader needs, relative to the source root.
const SOURCE_CRATES: [&str; 6] = [
    "emulator-core",
    "assembler",
    "net",
    "assignments",
    "autograder",
    "procvm",
];

fn setup_sh(kind: LabKind) -> String {
    let rust_needed = kind == LabKind::Component;
    format!(
        r#"#!/usr/bin/env bash
# Runs once when the grading image is built (Gradescope runs it itself; PrairieLearn's
# Dockerfile runs it).
set -euo pipefail
cd "$(dirname "$0")"
export RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo
chmod +x run_autograder entrypoint bin/vmlab 2>/dev/null || true
need_rust={rust_needed}
if ! ./bin/vmlab --version >/dev/null 2>&1; then
    need_rust=true
fi
if [ "$need_rust" = true ] && ! command -v cargo >/dev/null 2>&1; then
    apt-get update
    apt-get install -y curl ca-certificates build-essential
    # Outside /root, so that the sandbox user can run the toolchain.
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --no-modify-path
fi
if [ -x "$CARGO_HOME/bin/cargo" ]; then
    export PATH="$CARGO_HOME/bin:$PATH"
fi
if ! ./bin/vmlab --version >/dev/null 2>&1; then
    (cd vmlab && cargo build --release -p autograder)
    mkdir -p bin
    cp vmlab/target/release/vmlab bin/vmlab
fi
# Check the lab (manifest, hidden tests, reference full marks, starter less): a lab
# that fails stops the image build. For a component lab this also compiles the
# component API, so that student builds are quick and need no network.
./bin/vmlab check-lab --labs-dir labs --work-dir work "$(cat lab-id)"
# Submissions run as this user; the lab and the sources are the grader's alone, and
# the reference solutions, now checked, leave the image.
id vmlab-sandbox >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin vmlab-sandbox
rm -f labs/*/solution.* vmlab/assignments/labs/*/solution.*
chmod -R go-rwx labs vmlab
"#
    )
}

const RUN_AUTOGRADER: &str = r#"#!/usr/bin/env bash
# Gradescope runs this for every submission; results.json is always written.
cd /autograder/source
export RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo
if [ -x "$CARGO_HOME/bin/cargo" ]; then export PATH="$CARGO_HOME/bin:$PATH"; fi
mkdir -p /autograder/results
./bin/vmlab grade --labs-dir labs --lab "$(cat lab-id)" --work-dir work \
    --submission /autograder/submission --out /autograder/results/results.json
exit 0
"#;

const DOCKERFILE: &str = r#"# PrairieLearn's external grader image for this lab: build and push it where
# PrairieLearn can pull it, then name it in the question's info.json (see info.json).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends bash ca-certificates curl build-essential passwd \
    && rm -rf /var/lib/apt/lists/*
COPY . /vmlab-grader
RUN bash /vmlab-grader/setup.sh
"#;

const ENTRYPOINT: &str = r#"#!/usr/bin/env bash
# PrairieLearn runs this for every submission: the student's files are in
# /grade/student, and /grade/results/results.json is always written.
cd "$(dirname "$0")"
GRADE="${GRADE:-/grade}"
export RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo
if [ -x "$CARGO_HOME/bin/cargo" ]; then export PATH="$CARGO_HOME/bin:$PATH"; fi
mkdir -p "$GRADE/results"
./bin/vmlab grade --labs-dir labs --lab "$(cat lab-id)" --work-dir work --format prairielearn     --submission "$GRADE/student" --out "$GRADE/results/results.json"
exit 0
"#;

/// The question's `info.json` settings for the image.
fn info_json(lab: &LabOnDisk) -> String {
    let g = &lab.manifest.grading;
    let tests = (lab.visible.len() + lab.hidden.len()) as u64;
    let info = serde_json::json!({
        "externalGradingOptions": {
            "enabled": true,
            "image": format!("vmlab-{}", lab.manifest.id),
            "entrypoint": "/vmlab-grader/entrypoint",
            "timeout": g.build_seconds + g.run_seconds * tests + 30,
        }
    });
    serde_json::to_string_pretty(&info).unwrap_or_default() + "\n"
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Writes the bundle's files under `dir`.
fn write_bundle(lab: &LabOnDisk, dir: &Path, platform: Platform) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    std::fs::create_dir_all(dir).map_err(|e| io(&dir.display().to_string(), e))?;
    let id = &lab.manifest.id;
    copy_tree(&lab.dir, &dir.join("labs").join(id)).map_err(|e| io("copying the lab", e))?;
    let root = source_root();
    let src = dir.join("vmlab");
    for c in SOURCE_CRATES {
        copy_tree(&root.join(c), &src.join(c)).map_err(|e| io(c, e))?;
    }
    std::fs::copy(root.join("Cargo.lock"), src.join("Cargo.lock"))
        .map_err(|e| io("Cargo.lock", e))?;
    // The workspace manifest, with only the crates the grader needs as members.
    let manifest =
        std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| io("Cargo.toml", e))?;
    let members = SOURCE_CRATES.map(|c| format!("{c:?}")).join(", ");
    let manifest: String = manifest
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("members") {
                format!("members = [{members}]")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(src.join("Cargo.toml"), manifest + "\n").map_err(|e| io("Cargo.toml", e))?;
    std::fs::create_dir_all(dir.join("bin")).map_err(|e| io("bin", e))?;
    let me = std::env::current_exe().map_err(|e| io("this program's path", e))?;
    std::fs::copy(&me, dir.join("bin/vmlab")).map_err(|e| io("copying vmlab", e))?;
    let mut files = vec![
        ("setup.sh", setup_sh(lab.manifest.kind)),
        ("lab-id", id.clone()),
    ];
    match platform {
        Platform::Gradescope => files.push(("run_autograder", RUN_AUTOGRADER.to_string())),
        Platform::Prairielearn => files.extend([
            ("Dockerfile", DOCKERFILE.to_string()),
            ("entrypoint", ENTRYPOINT.to_string()),
            ("info.json", info_json(lab)),
        ]),
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text).map_err(|e| io(name, e))?;
    }
    for f in ["setup.sh", "run_autograder", "entrypoint", "bin/vmlab"] {
        if dir.join(f).is_file() {
            set_executable(&dir.join(f));
        }
    }
    Ok(())
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}

/// `vmlab gradescope-bundle` and `vmlab prairielearn-bundle`.
pub fn run(args: BundleArgs, platform: Platform) -> ExitCode {
    let command = match platform {
        Platform::Gradescope => "gradescope-bundle",
        Platform::Prairielearn => "prairielearn-bundle",
    };
    let labs_dir = args.labs_dir.unwrap_or_else(default_labs_dir);
    let lab = match LabOnDisk::load(&labs_dir, &args.lab) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vmlab {command}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let check = crate::check_lab::check(
        &labs_dir,
        &args.lab,
        &std::env::temp_dir().join("vmlab-grading"),
    );
    crate::check_lab::print(&check);
    if !check.ok() {
        eprintln!(
            "vmlab {command}: lab {} fails its check; fix it before packing",
            args.lab
        );
        return ExitCode::FAILURE;
    }
    let zip = args.out.extension().is_some_and(|x| x == "zip");
    if zip && platform == Platform::Prairielearn {
        eprintln!("vmlab {command}: give a folder: it is the Docker build context");
        return ExitCode::FAILURE;
    }
    let dir = if zip {
        std::env::temp_dir().join(format!("vmlab-bundle-{}", std::process::id()))
    } else {
        args.out.clone()
    };
    let result = write_bundle(&lab, &dir, platform).and_then(|()| {
        if zip {
            let r = zip::write_dir(&dir, &args.out);
            let _ = std::fs::remove_dir_all(&dir);
            r
        } else {
            Ok(())
        }
    });
    match result {
        Ok(()) => {
            let next = match platform {
                Platform::Gradescope => "upload it as the autograder of",
                Platform::Prairielearn => {
                    "build it with docker and name the image in info.json for"
                }
            };
            let _ = writeln!(
                std::io::stderr(),
                "vmlab {command}: wrote {} ({next} {})",
                args.out.display(),
                lab.manifest.id
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vmlab {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bundle as a zip archive of stored entries, with Unix modes kept so the
/// scripts stay executable.
mod zip {
    use std::io::Write;
    use std::path::Path;

    fn add_dir(
        z: &mut ::zip::ZipWriter<std::fs::File>,
        dir: &Path,
        prefix: &str,
    ) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let io = |e: std::io::Error| format!("{}: {e}", dir.display());
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            let path = e.path();
            if e.file_type().map_err(io)?.is_dir() {
                add_dir(z, &path, &format!("{name}/"))?;
                continue;
            }
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0o644);
            let options = ::zip::write::SimpleFileOptions::default()
                .compression_method(::zip::CompressionMethod::Stored)
                .unix_permissions(mode);
            let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            z.start_file(name.as_str(), options)
                .map_err(|e| format!("{name}: {e}"))?;
            z.write_all(&data).map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    }

    /// Writes every file under `dir` into the zip archive `out`.
    pub fn write_dir(dir: &Path, out: &Path) -> Result<(), String> {
        if let Some(parent) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let mut z = ::zip::ZipWriter::new(file);
        add_dir(&mut z, dir, "")?;
        z.finish().map_err(|e| format!("{}: {e}", out.display()))?;
        Ok(())
    }
}
