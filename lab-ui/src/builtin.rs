//! vmlab's own demos, labs and guest includes, fetched from `builtin.json` beside the page
//! and installed before the lab starts (the page sends the worker the same text).
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

thread_local! {
    /// The page's copy of the file's text, until the worker is sent it.
    static TEXT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs the demos and labs of the file's `text` (`url` names it in messages).
pub fn install(url: &str, text: &str) -> Result<(), String> {
    let b = parse(url, text)?;
    vmlab_demos::served::install(b.demos)?;
    assignments::served::install(b.labs)
}

/// The page fetches [`FILE_NAME`] beside it and installs its demos and labs; it keeps
/// the text for the worker (whose script is a blob, so it cannot fetch by a relative URL).
pub async fn load() -> Result<(), String> {
    let text = crate::packs::fetch_text(FILE_NAME)
        .await?
        .ok_or_else(|| format!("{FILE_NAME}: not found"))?;
    install(FILE_NAME, &text)?;
    TEXT.with(|t| *t.borrow_mut() = Some(text));
    Ok(())
}

/// The text the page loaded, once: the worker's [`crate::protocol::Command::InstallBuiltin`].
pub fn take_text() -> Option<String> {
    TEXT.with(|t| t.borrow_mut().take())
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
