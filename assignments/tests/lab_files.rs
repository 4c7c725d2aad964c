//! Every lab folder is well formed, and nothing secret is compiled in or shipped.

use assignments::catalog::embedded_texts;
use assignments::native::{default_labs_dir, list, secret_markers};
use assignments::LabKind;

#[test]
fn every_lab_loads_with_unique_ids_and_tests() {
    let labs: Vec<_> = list(&default_labs_dir())
        .into_iter()
        .map(|l| l.expect("every lab folder loads"))
        .collect();
    assert!(labs.len() >= 5, "{} labs", labs.len());
    let mut ids: Vec<&str> = labs.iter().map(|l| l.manifest.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), labs.len(), "two labs share an id");
    for lab in &labs {
        let id = &lab.manifest.id;
        assert!(!lab.visible.is_empty(), "{id}: no visible tests");
        assert!(!lab.hidden.is_empty(), "{id}: no hidden tests");
        assert!(lab.solution_path().is_file(), "{id}: no solution");
        assert!(lab.starter_path().is_file(), "{id}: no starter");
        for t in lab.visible.iter().chain(&lab.hidden) {
            assert!(t.points > 0.0, "{id}: {} is worth nothing", t.name);
            if lab.manifest.kind == LabKind::Component {
                assert!(t.cases.is_some(), "{id}: {} has no cases", t.name);
            }
        }
    }
}

#[test]
fn the_catalog_matches_the_folders_in_course_order() {
    let cat = assignments::catalog();
    let labs: Vec<_> = list(&default_labs_dir()).into_iter().flatten().collect();
    let cat_ids: Vec<&str> = cat.iter().map(|l| l.id.as_str()).collect();
    let dir_ids: Vec<&str> = labs.iter().map(|l| l.manifest.id.as_str()).collect();
    assert_eq!(cat_ids, dir_ids);
    for l in &cat {
        assert!(l.statement_md.starts_with("# "), "{}: statement", l.id);
        assert!(!l.starter.trim().is_empty(), "{}: starter", l.id);
    }
}

#[test]
fn no_hidden_test_or_solution_is_compiled_into_the_crate() {
    let markers = secret_markers(&default_labs_dir()).expect("markers");
    assert!(markers.len() >= 10);
    for (file, text) in embedded_texts() {
        for m in &markers {
            assert!(
                !text.contains(m.as_str()),
                "{file} contains the secret {m:?}"
            );
        }
    }
}

#[test]
fn broken_lab_files_are_refused_with_the_file_and_the_reason() {
    use assignments::spec::TestFile;
    let e = TestFile::parse("x/tests/visible.toml", "[[test]]\nname = 3\n").expect_err("bad name");
    assert!(e.starts_with("x/tests/visible.toml: "), "{e}");
    let e = TestFile::parse("t.toml", "[[test]]\nname = \"a\"\nregs = { eaz = 1 }\n")
        .expect_err("bad register");
    assert!(e.contains("unknown register \"eaz\""), "{e}");
    let e = TestFile::parse(
        "t.toml",
        "[[test]]\nname = \"a\"\n[[test.mem]]\naddr = 0\nhex = \"abc\"\n",
    )
    .expect_err("odd hex");
    assert!(e.contains("odd number of hex digits"), "{e}");
    let e = TestFile::parse("t.toml", "[[test]]\nname = \"a\"\nmode = \"warp\"\n")
        .expect_err("bad mode");
    assert!(e.contains("warp"), "{e}");
    let e = assignments::LabManifest::parse(
        "id = \"a b\"\ntitle = \"t\"\norder = 1\nkind = \"guest\"\n",
    )
    .expect_err("bad id");
    assert!(e.contains("letters, digits and '-'"), "{e}");
    let e = assignments::LabManifest::parse(
        "id = \"c\"\ntitle = \"t\"\norder = 1\nkind = \"component\"\n",
    )
    .expect_err("no component");
    assert!(e.contains("component"), "{e}");
}
