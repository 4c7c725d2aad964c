//! vmlab's own demos, labs and guest includes, fetched from `builtin.json` beside the page
//! and installed before the lab starts (the page and the worker each load it).
//!
//! Natively they are compiled into `vmlab-demos` and `assignments`; the Wasm module
//! leaves their text out to stay small. `cargo xtask build-web` writes the file.

use serde::Deserialize;

pub use vmlab_demos::served::{FILE_NAME, FORMAT};

/// The file's contents.
#[derive(Deserialize, Debug)]
struct Builtin {
    format: String,
    demos: vmlab_demos::served::Files,
    labs: assignments::served::Files,
}

/// Reads the file's text (`url` names it in messages).
fn parse(url: &str, text: &str) -> Result<Builtin, String> {
    let b: Builtin = serde_json::from_str(text).map_err(|e| format!("{url}: {e}"))?;
    if b.format != FORMAT {
        return Err(format!(
            "{url}: format: {:?}, expected {FORMAT:?}",
            b.format
        ));
    }
    Ok(b)
}

/// Fetches the file at `dir` + [`FILE_NAME`] (`""` from the page, `"../"` from the
/// worker, whose script is in `pkg/`) and installs its demos and labs.
pub async fn load(dir: &str) -> Result<(), String> {
    let url = format!("{dir}{FILE_NAME}");
    let text = crate::packs::fetch_text(&url)
        .await?
        .ok_or_else(|| format!("{url}: not found"))?;
    let b = parse(&url, &text)?;
    vmlab_demos::served::install(b.demos)?;
    assignments::served::install(b.labs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_names_its_format_and_carries_demos_and_labs() {
        let text = format!(
            r#"{{"format": "{FORMAT}", "demos": {{"includes": [{{"name": "a.inc", "text": "nop"}}], "demos": []}}, "labs": {{"labs": []}}}}"#
        );
        let b = parse("builtin.json", &text).expect("parses");
        assert_eq!(b.demos.includes[0].name, "a.inc");
        assert!(b.labs.labs.is_empty());
        let e = parse("x/builtin.json", &text.replace(FORMAT, "other")).unwrap_err();
        assert!(e.starts_with("x/builtin.json: format:"), "{e}");
        let e = parse("x/builtin.json", "{").unwrap_err();
        assert!(e.starts_with("x/builtin.json: "), "{e}");
    }
}
