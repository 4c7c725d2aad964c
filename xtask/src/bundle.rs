//! The web bundle's secrecy check: no hidden test or reference solution reaches `target/site`.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

use crate::check::Tally;

/// Scans every file of the built site for the labs' secret markers (each hidden test's
/// name and each reference solution's marker line); one test in the tally.
pub fn check(site: &Path) -> Result<Tally> {
    let markers = assignments::native::secret_markers(&assignments::native::default_labs_dir())
        .map_err(anyhow::Error::msg)
        .context("reading the labs' hidden tests")?;
    let mut files = Vec::new();
    files_under(site, &mut files)?;
    anyhow::ensure!(
        !files.is_empty(),
        "{} holds no files: build the site first",
        site.display()
    );
    let mut leaks = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        // Lossy text keeps every ASCII run intact; the markers are ASCII.
        let text = String::from_utf8_lossy(&bytes);
        leaks.extend(
            markers
                .iter()
                .filter(|m| text.contains(m.as_str()))
                .map(|m| format!("{} contains {m:?}", f.display())),
        );
    }
    println!(
        "scanned {} files for {} hidden-test and solution markers",
        files.len(),
        markers.len()
    );
    let mut tally = Tally::default();
    if leaks.is_empty() {
        println!("ok: no hidden test or reference solution in the bundle");
        tally.passed = 1;
    } else {
        for l in &leaks {
            println!("LEAK: {l}");
        }
        tally.failed = 1;
        tally.failures.push("web bundle secrecy".into());
    }
    Ok(tally)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_with(name: &str, content: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vmlab-bundle-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pkg")).expect("temp site");
        std::fs::write(dir.join("index.html"), "<html></html>").expect("write");
        std::fs::write(dir.join("pkg/lab.js"), content).expect("write");
        dir
    }

    #[test]
    fn a_clean_site_passes_and_a_leaked_hidden_test_fails() {
        let clean = site_with("clean", "nothing secret here");
        let t = check(&clean).expect("check runs");
        assert_eq!((t.passed, t.failed), (1, 0));

        let markers = assignments::native::secret_markers(&assignments::native::default_labs_dir())
            .expect("markers");
        let leaked = site_with("leaked", &format!("var x = {:?};", markers[0]));
        let t = check(&leaked).expect("check runs");
        assert_eq!((t.passed, t.failed), (0, 1));

        let empty = std::env::temp_dir().join(format!("vmlab-bundle-{}-empty", std::process::id()));
        std::fs::create_dir_all(&empty).expect("dir");
        assert!(check(&empty).is_err(), "an empty site must not pass");
        for d in [clean, leaked, empty] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
