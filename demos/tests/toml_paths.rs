//! The browser's way of reading `demo.toml` (one table, then the manifest built from it)
//! gives the manifest that the typed TOML reader gives, for every demo in the tree.

use std::path::Path;
use vmlab_demos::Manifest;
use vmlab_net::toml_de::from_str_via_table;

#[test]
fn every_demo_manifest_reads_the_same_both_ways() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut read = 0;
    for entry in std::fs::read_dir(root).expect("listing demos/") {
        let path = entry.expect("a demos/ entry").path().join("demo.toml");
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("reading a demo.toml");
        let typed: Manifest =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let via_table: Manifest = from_str_via_table(&text)
            .unwrap_or_else(|e| panic!("{} via a table: {e}", path.display()));
        assert_eq!(typed, via_table, "{}", path.display());
        read += 1;
    }
    assert!(read >= 20, "only {read} demo.toml files found");
}

#[test]
fn both_ways_refuse_a_wrong_value_and_a_syntax_error() {
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fetch-decode-execute/demo.toml"),
    )
    .expect("reading a demo.toml");
    let wrong_type = good.replacen("order = ", "order = \"first\" #", 1);
    assert_ne!(wrong_type, good, "the demo has an order key");
    let typed = toml::from_str::<Manifest>(&wrong_type).unwrap_err();
    let via = from_str_via_table::<Manifest>(&wrong_type).unwrap_err();
    assert!(typed.message().contains("invalid type"), "{typed}");
    assert!(via.message().contains("invalid type"), "{via}");

    let broken = format!("{good}\n[step\n");
    let via = from_str_via_table::<Manifest>(&broken).unwrap_err();
    let at = via.span().expect("a syntax error has a position").start;
    assert!(
        at >= good.len(),
        "the error points into the broken line: {via}"
    );
}
