//! The browser's way of reading a lab's TOML files (one table, then the typed value built
//! from it) gives what the typed TOML reader gives, for every lab in the tree.

use assignments::manifest::LabManifest;
use assignments::spec::TestFile;
use std::path::Path;
use vmlab_net::toml_de::{from_str, from_str_via_table};

#[test]
fn every_lab_file_reads_the_same_both_ways() {
    let labs = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs");
    let mut read = 0;
    for entry in std::fs::read_dir(&labs).expect("listing labs/") {
        let dir = entry.expect("a labs/ entry").path();
        let manifest = dir.join("lab.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).expect("reading lab.toml");
        let typed: LabManifest = from_str(&text).expect("lab.toml reads");
        let via: LabManifest = from_str_via_table(&text).expect("lab.toml reads via a table");
        assert_eq!(
            format!("{typed:?}"),
            format!("{via:?}"),
            "{}",
            manifest.display()
        );
        for name in ["visible.toml", "hidden.toml"] {
            let path = dir.join("tests").join(name);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let typed: TestFile = from_str(&text).expect("a test file reads");
            let via: TestFile = from_str_via_table(&text).expect("a test file reads via a table");
            assert_eq!(
                format!("{typed:?}"),
                format!("{via:?}"),
                "{}",
                path.display()
            );
            read += 1;
        }
        read += 1;
    }
    assert!(read >= 20, "only {read} lab files found");
}
