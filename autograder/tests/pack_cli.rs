//! `vmlab pack`: a pack holds each lab's visible files and an index, never hidden
//! tests or solutions, and a broken lab is refused with the file it is in.

use std::path::{Path, PathBuf};
use std::process::Command;

fn labs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assignments/labs")
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Runs `vmlab pack`: success, standard error.
fn pack(args: &[&Path], out: &Path) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("pack")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("vmlab runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("reads").flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).expect("under").to_path_buf();
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_pack_has_the_visible_parts_and_an_index() {
    let out = scratch("pack-two");
    let labs = [
        labs_dir().join("asm-warmup"),
        labs_dir().join("page-tables"),
    ];
    let (ok, err) = pack(&[&labs[0], &labs[1]], &out);
    assert!(ok, "{err}");
    let files = files_under(&out);
    assert_eq!(
        files,
        [
            "index.json",
            "labs/asm-warmup/lab.toml",
            "labs/asm-warmup/starter.asm",
            "labs/asm-warmup/statement.md",
            "labs/asm-warmup/tests/visible.toml",
            "labs/page-tables/lab.toml",
            "labs/page-tables/starter.asm",
            "labs/page-tables/statement.md",
            "labs/page-tables/tests/visible.toml",
        ]
    );
    for (lab, id) in labs.iter().zip(["asm-warmup", "page-tables"]) {
        let copied = out.join("labs").join(id).join("tests/visible.toml");
        assert_eq!(
            std::fs::read(copied).unwrap(),
            std::fs::read(lab.join("tests/visible.toml")).unwrap()
        );
        // No hidden test's name appears anywhere in the pack.
        let hidden = std::fs::read_to_string(lab.join("tests/hidden.toml")).unwrap();
        for name in hidden
            .lines()
            .filter_map(|l| l.trim().strip_prefix("name = "))
        {
            for f in &files {
                let text = std::fs::read_to_string(out.join(f)).unwrap();
                assert!(!text.contains(name), "{f} names the hidden test {name}");
            }
        }
    }
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["format"], "vmlab-pack 1");
    assert_eq!(
        index["labs"],
        serde_json::json!(["asm-warmup", "page-tables"])
    );
    // The packed lab reads back as a lab (with no hidden tests).
    let back = assignments::native::LabOnDisk::load(&out.join("labs"), "asm-warmup").unwrap();
    assert!(back.hidden.is_empty() && !back.visible.is_empty());
}

#[test]
fn broken_labs_and_secrets_are_refused() {
    let broken = scratch("pack-broken-src").join("broken");
    std::fs::create_dir_all(broken.join("tests")).unwrap();
    for f in [
        "lab.toml",
        "statement.md",
        "starter.asm",
        "tests/visible.toml",
    ] {
        std::fs::copy(labs_dir().join("asm-warmup").join(f), broken.join(f)).unwrap();
    }
    let (ok, err) = pack(&[&broken], &scratch("pack-broken"));
    assert!(!ok);
    assert!(err.contains("lab.toml") && err.contains("broken"), "{err}");
    std::fs::write(broken.join("lab.toml"), "id = \"broken\"\ntitle = 3\n").unwrap();
    let (ok, err) = pack(&[&broken], &scratch("pack-broken"));
    assert!(!ok);
    assert!(err.contains("lab.toml") && err.contains("title"), "{err}");
    // A folder that already holds a solution is not a pack to serve.
    let out = scratch("pack-dirty");
    std::fs::write(out.join("solution.asm"), "; answer\n").unwrap();
    let (ok, err) = pack(&[&labs_dir().join("asm-warmup")], &out);
    assert!(!ok);
    assert!(err.contains("solution.asm"), "{err}");
    let (ok, err) = pack(&[&labs_dir().join("no-such-lab")], &scratch("pack-none"));
    assert!(!ok && err.contains("no-such-lab"), "{err}");
}

#[test]
fn json_reports_the_labs_or_the_error() {
    let run = |lab: &str, out: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_vmlab"))
            .args(["pack", "--json", "--out"])
            .arg(out)
            .arg(labs_dir().join(lab))
            .output()
            .expect("vmlab runs");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
        (o.status.success(), v)
    };
    let out = scratch("pack-json");
    let (ok, v) = run("asm-warmup", &out);
    assert!(ok);
    assert_eq!(v["ok"], true);
    assert_eq!(v["labs"], serde_json::json!(["asm-warmup"]));
    assert!(out.join("labs/asm-warmup/lab.toml").is_file());
    let (ok, v) = run("no-such-lab", &scratch("pack-json-bad"));
    assert!(!ok);
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("no-such-lab"), "{v}");
}

/// A demo folder like a built-in one, under a new id: the `popf` demo's files.
fn demo_folder(scratch_name: &str, id: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demos/popf");
    let dir = scratch(scratch_name).join(id);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["demo.toml", "popf.asm"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    dir
}

#[test]
fn demo_folders_go_in_the_pack_and_its_index() {
    let demo = demo_folder("pack-demo-src", "course-popf");
    let out = scratch("pack-demo");
    let o = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["pack", "--json", "--out"])
        .arg(&out)
        .arg(labs_dir().join("asm-warmup"))
        .arg(&demo)
        .output()
        .expect("vmlab runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["demos"], serde_json::json!(["course-popf"]));
    assert_eq!(v["labs"], serde_json::json!(["asm-warmup"]));
    let files = files_under(&out);
    assert!(
        files.contains(&"demos/course-popf/demo.toml".to_string()),
        "{files:?}"
    );
    assert_eq!(
        std::fs::read(out.join("demos/course-popf/popf.asm")).unwrap(),
        std::fs::read(demo.join("popf.asm")).unwrap()
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["demos"], serde_json::json!(["course-popf"]));
    // What was packed is a demo the lab accepts.
    let read = |f: &str| std::fs::read_to_string(out.join("demos/course-popf").join(f)).unwrap();
    vmlab_demos::pack::check("p", &read("demo.toml"), &read("popf.asm")).expect("valid demo");
}

#[test]
fn broken_demos_are_refused_with_file_and_key() {
    let demo = demo_folder("pack-demo-bad-src", "bad-demo");
    let toml = std::fs::read_to_string(demo.join("demo.toml")).unwrap();
    std::fs::write(
        demo.join("demo.toml"),
        toml.replacen("mode = ", "mode = \"warp\"\n#", 1),
    )
    .unwrap();
    let out = scratch("pack-demo-bad");
    let (ok, err) = pack(&[&demo], &out);
    assert!(!ok);
    assert!(err.contains("bad-demo/demo.toml: mode:"), "{err}");
    assert!(!out.join("index.json").exists(), "nothing is written");
    // A label the guest lacks names the step and key.
    std::fs::write(demo.join("demo.toml"), &toml).unwrap();
    std::fs::write(demo.join("popf.asm"), "bits 32\nhlt\n").unwrap();
    let (ok, err) = pack(&[&demo], &scratch("pack-demo-bad2"));
    assert!(
        !ok && err.contains("bad-demo/demo.toml: step[0].run.to"),
        "{err}"
    );
    // A built-in demo's id is taken.
    let popf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demos/popf");
    let (ok, err) = pack(&[&popf], &scratch("pack-demo-taken"));
    assert!(
        !ok && err.contains("already one of vmlab's own demos"),
        "{err}"
    );
}
