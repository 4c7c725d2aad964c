//! The built-in demos and guest includes as data: compiled in natively, fetched by the browser lab.
//!
//! The native build embeds every demo folder and shared include ([`files`] lists
//! them). The Wasm build leaves the text out of its module: the site carries it in
//! [`FILE_NAME`] beside the page, and the lab [`install`]s it before it starts.

use serde::{Deserialize, Serialize};

#[cfg(any(test, target_arch = "wasm32"))]
use crate::EmbeddedDemo;

/// The site file that holds the built-in demos and labs (written by `cargo xtask build-web`).
pub const FILE_NAME: &str = "builtin.json";

/// The `format` that file names.
pub const FORMAT: &str = "vmlab-builtin 1";

/// One shared guest include (`guests/include/NAME`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Include {
    /// Its file name.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// One demo folder: its id, `demo.toml` and guest source.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DemoFiles {
    /// The folder's name.
    pub id: String,
    /// `demo.toml`.
    pub manifest: String,
    /// The guest's source.
    pub source: String,
}

/// Every built-in demo and shared include, in name order.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Files {
    /// The shared guest includes.
    pub includes: Vec<Include>,
    /// The demo folders.
    pub demos: Vec<DemoFiles>,
    /// The other guests the lab's panels run, named by their path under `guests/`.
    #[serde(default)]
    pub guests: Vec<Include>,
}

/// The files compiled into this build (none in the Wasm build).
pub fn files() -> Files {
    Files {
        includes: crate::includes()
            .iter()
            .map(|(name, text)| Include {
                name: name.to_string(),
                text: text.to_string(),
            })
            .collect(),
        demos: crate::embedded()
            .iter()
            .map(|e| DemoFiles {
                id: e.id.to_string(),
                manifest: e.manifest.to_string(),
                source: e.source.to_string(),
            })
            .collect(),
        guests: crate::guests()
            .iter()
            .map(|(name, text)| Include {
                name: name.to_string(),
                text: text.to_string(),
            })
            .collect(),
    }
}

/// The tables the crate reads, made from `files` (their text lives as long as the page).
#[cfg(any(test, target_arch = "wasm32"))]
type Tables = (Named, Vec<EmbeddedDemo>, Named);

/// Texts by name.
#[cfg(any(test, target_arch = "wasm32"))]
type Named = Vec<(&'static str, &'static str)>;

#[cfg(any(test, target_arch = "wasm32"))]
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[cfg(any(test, target_arch = "wasm32"))]
fn tables(files: Files) -> Tables {
    let named = |list: Vec<Include>| -> Named {
        list.into_iter()
            .map(|i| (leak(i.name), leak(i.text)))
            .collect()
    };
    let includes = named(files.includes);
    let guests = named(files.guests);
    let demos = files
        .demos
        .into_iter()
        .map(|d| EmbeddedDemo {
            id: leak(d.id),
            manifest: leak(d.manifest),
            source: leak(d.source),
        })
        .collect();
    (includes, demos, guests)
}

#[cfg(target_arch = "wasm32")]
static INSTALLED: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();

/// Makes `files` the built-in demos and includes of the Wasm build; call it once,
/// before anything reads a demo. Natively the files are compiled in and this does nothing.
pub fn install(files: Files) -> Result<(), String> {
    #[cfg(target_arch = "wasm32")]
    {
        INSTALLED
            .set(tables(files))
            .map_err(|_| "the built-in demos were already installed".to_string())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = files;
        Ok(())
    }
}

/// The installed includes (none before [`install`]).
#[cfg(target_arch = "wasm32")]
pub(crate) fn installed_includes() -> &'static [(&'static str, &'static str)] {
    INSTALLED.get().map_or(&[], |t| &t.0)
}

/// The installed guests of the lab's panels (none before [`install`]).
#[cfg(target_arch = "wasm32")]
pub(crate) fn installed_guests() -> &'static [(&'static str, &'static str)] {
    INSTALLED.get().map_or(&[], |t| &t.2)
}

/// The installed demo folders (none before [`install`]).
#[cfg(target_arch = "wasm32")]
pub(crate) fn installed_demos() -> &'static [EmbeddedDemo] {
    INSTALLED.get().map_or(&[], |t| &t.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_files_rebuild_the_compiled_in_tables() {
        let files = files();
        assert_eq!(files.demos.len(), crate::EMBEDDED.len());
        assert!(files.includes.iter().any(|i| i.name == "pc.inc"));
        let (includes, demos, guests) = tables(files.clone());
        assert_eq!(includes, crate::INCLUDES);
        assert_eq!(guests, crate::GUESTS);
        assert!(crate::guest("net/peer.asm").is_some_and(|t| t.contains("bits")));
        assert_eq!(crate::guest("net/none.asm"), None);
        for (built, served) in crate::EMBEDDED.iter().zip(&demos) {
            assert_eq!(
                (built.id, built.manifest, built.source),
                (served.id, served.manifest, served.source)
            );
        }
        assert_eq!(demos.len(), crate::EMBEDDED.len());
    }
}
