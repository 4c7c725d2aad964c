//! The class files the lab embeds (`jvm/examples/`) are javac's output for the
//! sources in `jvm/java/`, and print what `java` prints on them.

mod common;

use std::path::Path;
use std::process::Command;

use vmlab_jvm::{Outcome, Vm, VmConfig};

#[test]
fn embedded_examples_are_current_and_match_java() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let fresh = common::classes();
    let mut n = 0;
    for e in std::fs::read_dir(&examples).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let committed = std::fs::read(&p).unwrap();
        let compiled = std::fs::read(fresh.join(&name))
            .unwrap_or_else(|_| panic!("{name} is not compiled from jvm/java"));
        assert!(
            committed == compiled,
            "jvm/examples/{name} is stale: recompile it with javac -d jvm/examples"
        );
        n += 1;
    }
    assert!(n >= 10);
    let src = common::Dir(examples.clone());
    for main in ["Garbage", "Shapes", "Switch"] {
        let out = Command::new("java")
            .arg("-cp")
            .arg(&examples)
            .arg(main)
            .output()
            .expect("java runs");
        let mut vm = Vm::new(&src, main, VmConfig::default()).unwrap();
        assert_eq!(vm.run(50_000_000).unwrap(), Outcome::Finished);
        assert_eq!(vm.stdout, String::from_utf8_lossy(&out.stdout));
    }
}
