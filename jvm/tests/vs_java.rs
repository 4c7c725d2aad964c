//! Every Java test program prints the same under vmlab's JVM as under `java` on the
//! same class files, with each collector, with a roomy heap and with a heap small
//! enough that the collector runs, with the JIT off and on (a low threshold, so
//! every loop and repeated call compiles).

mod common;

use vmlab_jvm::{GcKind, Outcome, Vm, VmConfig};

const BUDGET: u64 = 50_000_000;

fn run(main: &str, gc: GcKind, heap: u32, jit: u32) -> (String, Outcome, u64) {
    let src = common::Dir(common::classes().to_path_buf());
    let mut vm = Vm::new(
        &src,
        main,
        VmConfig {
            gc,
            heap_bytes: heap,
            jit_threshold: jit,
            ..VmConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("{main}: {e}"));
    let outcome = vm
        .run(BUDGET)
        .unwrap_or_else(|e| panic!("{main} ({}): {e}\nstdout so far:\n{}", gc.name(), vm.stdout));
    assert_ne!(
        outcome,
        Outcome::Budget,
        "{main} did not finish in {BUDGET} bytecodes"
    );
    (vm.stdout.clone(), outcome, vm.heap.stats.collections)
}

fn check(main: &str) {
    let (want, stderr, status) = common::java(main);
    for (gc, heap, jit) in [
        (GcKind::MarkSweep, 4 << 20, 0),
        (GcKind::Copying, 4 << 20, 0),
        (GcKind::MarkSweep, 24 << 10, 0),
        (GcKind::Copying, 48 << 10, 0),
        (GcKind::MarkSweep, 4 << 20, 2),
        (GcKind::Copying, 48 << 10, 2),
    ] {
        let (got, outcome, collections) = run(main, gc, heap, jit);
        assert_eq!(
            got,
            want,
            "{main} under {} with a {heap}-byte heap, JIT threshold {jit}",
            gc.name()
        );
        match &outcome {
            Outcome::Uncaught { class, message } => {
                assert_eq!(
                    status, 1,
                    "{main}: vmlab threw {class}, java exited {status}"
                );
                let line = match message {
                    Some(m) => format!(
                        "Exception in thread \"main\" {}: {m}",
                        class.replace('/', ".")
                    ),
                    None => format!("Exception in thread \"main\" {}", class.replace('/', ".")),
                };
                assert_eq!(
                    stderr.lines().next(),
                    Some(line.as_str()),
                    "{main}: the uncaught exception"
                );
            }
            _ => assert_eq!(status, 0, "{main}: java exited {status}, stderr {stderr}"),
        }
        if heap < 64 << 10 && main == "Garbage" {
            assert!(
                collections > 0,
                "{main} made garbage in a {heap}-byte heap but {} never collected",
                gc.name()
            );
        }
    }
}

#[test]
fn arith() {
    check("Arith");
}

#[test]
fn shapes() {
    check("Shapes");
}

#[test]
fn sorting() {
    check("Sorting");
}

#[test]
fn exceptions() {
    check("Exceptions");
}

#[test]
fn strings() {
    check("Strings");
}

#[test]
fn garbage() {
    check("Garbage");
}

#[test]
fn switch() {
    check("Switch");
}

#[test]
fn loops() {
    check("Loops");
}
