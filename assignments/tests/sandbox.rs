//! Hostile component submissions, graded in the repository and in a copy laid out as
//! Gradescope's `/autograder`: they score nothing, leak nothing and harm nothing.

mod common;

use common::copy_tree;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assignments::native::component::{grade, BuildEnv, Graded};
use assignments::native::{default_labs_dir, secret_markers, LabOnDisk};

/// A layout: where the labs are and where grading builds.
struct Layout {
    labs: PathBuf,
    env: BuildEnv,
}

fn repository() -> Layout {
    Layout {
        labs: default_labs_dir(),
        env: BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-repo")),
    }
}

/// `/autograder/source` as the bundle lays it out: `labs/`, the vmlab sources with
/// every lab (solutions included) under `vmlab/`, and the scratch folder `work/`.
fn gradescope() -> Layout {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-gs/autograder/source");
    if !root.join("labs/shift-rotate/lab.toml").is_file() {
        copy_tree(&default_labs_dir(), &root.join("labs"));
        copy_tree(&default_labs_dir(), &root.join("vmlab/assignments/labs"));
    }
    Layout {
        labs: root.join("labs"),
        env: BuildEnv::under(&root),
    }
}

fn lab(layout: &Layout) -> LabOnDisk {
    let mut lab = LabOnDisk::load(&layout.labs, "shift-rotate").expect("lab loads");
    lab.manifest.grading.run_seconds = 4;
    lab
}

/// A submission whose `exec` body is `body` (it has `op`, `size`, `value`, `count`,
/// `eflags` in scope).
fn submission(prelude: &str, body: &str) -> String {
    format!(
        "use assignments::component::shift::*;\n{prelude}\npub struct Submission;\nimpl ShiftRotate for Submission {{\n    #[allow(unused)]\n    fn exec(&self, op: ShiftOp, size: u8, value: u32, count: u8, eflags: u32) -> (u32, u32) {{\n{body}\n    }}\n}}\n"
    )
}

/// Grades `source` on the lab's first visible test.
fn run(layout: &Layout, source: &str) -> Graded {
    let lab = lab(layout);
    grade(&lab, source.as_bytes(), &[&lab.visible[0]], &layout.env).expect("the grader works")
}

/// Scores nothing and shows no hidden test name nor the reference's marker.
fn assert_nothing_leaks(g: &Graded, what: &str) {
    let markers = secret_markers(&default_labs_dir()).expect("markers");
    for o in &g.outcomes {
        assert_eq!(o.score, 0.0, "{what}: scored {o:?}");
        assert!(!o.passed, "{what}");
        for m in &markers {
            assert!(
                !o.message.contains(m.as_str()),
                "{what} leaks {m:?}: {}",
                o.message
            );
        }
        assert!(!o.message.contains("ESCAPED"), "{what}: {}", o.message);
    }
}

fn both_layouts(check: impl Fn(&Layout, &str)) {
    check(&repository(), "repository");
    check(&gradescope(), "gradescope");
}

fn solution_of(layout: &Layout) -> PathBuf {
    layout.labs.join("shift-rotate/solution.rs")
}

/// The copy of the sources in the bundle: a second place the solution sits.
fn solution_in_sources(layout: &Layout) -> PathBuf {
    layout
        .labs
        .parent()
        .expect("parent")
        .join("vmlab/assignments/labs/shift-rotate/solution.rs")
}

#[test]
fn a_path_attribute_to_the_solution_does_not_compile() {
    both_layouts(|layout, name| {
        let mut targets = vec![solution_of(layout)];
        if name == "gradescope" {
            targets.push(solution_in_sources(layout));
        }
        for target in targets {
            assert!(target.is_file(), "{}", target.display());
            let src = format!(
                "#[path = {:?}]\nmod sol;\npub use sol::Submission;\n",
                target.display().to_string()
            );
            let g = run(layout, &src);
            assert_nothing_leaks(&g, name);
            assert!(
                g.outcomes[0].message.contains("does not compile"),
                "{name}: {}",
                g.outcomes[0].message
            );
        }
    });
}

#[test]
fn include_str_of_the_hidden_tests_does_not_compile() {
    both_layouts(|layout, name| {
        let hidden = layout.labs.join("shift-rotate/tests/hidden.toml");
        assert!(hidden.is_file());
        let src = submission(
            &format!(
                "const HIDDEN: &str = include_str!({:?});",
                hidden.display().to_string()
            ),
            "panic!(\"ESCAPED {HIDDEN}\")",
        );
        let g = run(layout, &src);
        assert_nothing_leaks(&g, name);
        assert!(g.outcomes[0].message.contains("does not compile"));
    });
}

#[test]
fn reading_the_hidden_tests_at_run_time_is_refused() {
    both_layouts(|layout, name| {
        let hidden = layout.labs.join("shift-rotate/tests/hidden.toml");
        let src = submission(
            "",
            &format!(
                "match std::fs::read_to_string({:?}) {{ Ok(t) => panic!(\"ESCAPED {{t}}\"), Err(e) => panic!(\"blocked-read {{e}}\") }}",
                hidden.display().to_string()
            ),
        );
        let g = run(layout, &src);
        assert_nothing_leaks(&g, name);
        let msg = &g.outcomes[0].message;
        assert!(msg.contains("blocked-read"), "{name}: {msg}");
    });
}

#[test]
fn sockets_shells_tmp_files_and_listing_the_root_are_refused() {
    both_layouts(|layout, name| {
        let stamp = std::env::temp_dir().join(format!("vmlab-escape-{name}"));
        let _ = std::fs::remove_file(&stamp);
        let body = format!(
            r#"let mut got = Vec::new();
        got.push(match std::net::UdpSocket::bind("127.0.0.1:0") {{ Ok(_) => "ESCAPED-socket".to_string(), Err(e) => format!("blocked-socket ({{e}})") }});
        got.push(match std::process::Command::new("/bin/sh").arg("-c").arg("echo hi").output() {{ Ok(_) => "ESCAPED-shell".to_string(), Err(e) => format!("blocked-shell ({{e}})") }});
        got.push(match std::fs::write({stamp:?}, "x") {{ Ok(_) => "ESCAPED-tmp".to_string(), Err(e) => format!("blocked-tmp ({{e}})") }});
        got.push(match std::fs::read_dir("/") {{ Ok(_) => "ESCAPED-root".to_string(), Err(e) => format!("blocked-root ({{e}})") }});
        got.push(format!("uid={{}}", unsafe {{ getuid() }}));
        panic!("{{}}", got.join(" "))"#,
            stamp = stamp.display().to_string()
        );
        let g = run(
            layout,
            &submission("extern \"C\" { fn getuid() -> u32; }", &body),
        );
        assert_nothing_leaks(&g, name);
        let msg = &g.outcomes[0].message;
        for what in ["socket", "shell", "tmp", "root"] {
            assert!(msg.contains(&format!("blocked-{what}")), "{name}: {msg}");
        }
        // Under root, the program runs as an unprivileged user.
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            let uid: String = msg
                .split("uid=")
                .nth(1)
                .unwrap_or_default()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            assert!(!uid.is_empty() && uid != "0", "{name}: uid {uid:?}: {msg}");
        }
        assert!(
            !stamp.exists(),
            "{name}: the submission wrote {}",
            stamp.display()
        );
    });
}

/// Fork bomb, a 10 GiB allocation, killing the grader and spinning, in one program
/// (one build): each case picks its attack by operation.
#[test]
fn fork_bombs_huge_allocations_parent_killing_and_spinning_cost_only_their_cases() {
    let layout = repository();
    let mut lab = lab(&layout);
    lab.manifest.grading.run_seconds = 3;
    let body = r#"match op {
            ShiftOp::Rol => loop { if unsafe { fork() } < 0 { panic!("blocked-fork") } },
            ShiftOp::Ror => { let v = vec![1u8; 10 << 30]; (v[v.len() - 1] as u32, eflags) }
            ShiftOp::Shl => { unsafe { kill(std::os::unix::process::parent_id() as i32, 9) }; panic!("blocked-kill") }
            _ => loop { std::hint::spin_loop() },
        }"#;
    let src = submission(
        "extern \"C\" { fn fork() -> i32; fn kill(pid: i32, sig: i32) -> i32; }",
        body,
    );
    let tests: Vec<_> = lab.visible.iter().take(4).collect();
    let started = Instant::now();
    let g = grade(&lab, src.as_bytes(), &tests, &layout.env).expect("the grader works");
    // Four tests of at most 3 s each, and the build.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let by = |prefix: &str| {
        g.outcomes
            .iter()
            .find(|o| o.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {:?}", g.outcomes))
    };
    for o in &g.outcomes {
        assert_eq!(o.score, 0.0, "{o:?}");
    }
    assert!(
        by("rol").message.contains("blocked-fork"),
        "{}",
        by("rol").message
    );
    assert!(
        by("ror").message.contains("the program ended on it"),
        "{}",
        by("ror").message
    );
    assert!(
        by("shl").message.contains("blocked-kill"),
        "{}",
        by("shl").message
    );
    let spin = &by("shr").message;
    assert!(spin.contains("no answer within 2 s"), "{spin}");
    assert!(spin.contains("stopped after 3 s"), "{spin}");
}

/// The compile step runs the toolchain but cannot read the rest of CARGO_HOME,
/// where a registry token may sit.
#[test]
fn cargo_home_beyond_its_programs_is_out_of_reach_while_compiling() {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(env_file) = cargo_home.map(|h| h.join("env")).filter(|f| f.is_file()) else {
        return; // rustup's env file is not there to try (a toolchain without rustup)
    };
    let src = submission(
        &format!(
            "const SECRET: &str = include_str!({:?});",
            env_file.display().to_string()
        ),
        "panic!(\"ESCAPED {SECRET}\")",
    );
    // Through `cargo` on PATH: rustup's proxy in CARGO_HOME/bin where rustup is used.
    let mut layout = repository();
    layout.env.cargo = PathBuf::from("cargo");
    let g = run(&layout, &src);
    assert_nothing_leaks(&g, "cargo home");
    let msg = &g.outcomes[0].message;
    // The include itself is what fails.
    assert!(
        msg.contains("does not compile") && msg.contains("couldn't read"),
        "{msg}"
    );
}
