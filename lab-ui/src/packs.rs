//! Course packs: labs and demos an instructor publishes next to the site
//! (`packs/index.json`) or at `?pack=URL`, fetched at start without a rebuild.

use assignments::pack::PackLab;
use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The `format` an `index.json` must have (what `vmlab pack` writes).
pub const FORMAT: &str = "vmlab-pack 1";

/// A pack's `index.json`.
#[derive(Deserialize, Debug)]
struct Index {
    format: String,
    #[serde(default)]
    labs: Vec<String>,
    #[serde(default)]
    demos: Vec<String>,
}

/// One pack demo's files, as `vmlab pack` writes them under `demos/ID/`.
#[derive(Debug, Clone)]
pub struct PackDemo {
    /// Its folder's URL (for messages).
    pub from: String,
    /// Its id.
    pub id: String,
    /// `demo.toml`.
    pub manifest: String,
    /// The guest source the manifest names.
    pub source: String,
}

/// What the page found: each lab's origin (for messages) and files, and each demo.
#[derive(Debug, Default)]
pub struct Found {
    /// `(where, files)` per lab.
    pub labs: Vec<(String, PackLab)>,
    /// The demos, in the index's order.
    pub demos: Vec<PackDemo>,
}

/// The pack folder's URL, ending in `/`: the page's `?pack=` parameter, or `packs/`.
/// The second value says whether the page asked for it (a missing default pack is no error).
fn base() -> (String, bool) {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let asked = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("pack="))
        .and_then(|v| js_sys::decode_uri_component(v).ok())
        .and_then(|v| v.as_string());
    match asked {
        Some(url) if url.ends_with('/') => (url, true),
        Some(url) => (format!("{url}/"), true),
        None => ("packs/".to_string(), false),
    }
}

/// The text at `url` (relative to the page, or in the worker to its script), or
/// `None` when the server says 404.
pub(crate) async fn fetch_text(url: &str) -> Result<Option<String>, String> {
    let global = js_sys::global();
    let request = match global.dyn_ref::<web_sys::Window>() {
        Some(window) => window.fetch_with_str(url),
        None => global
            .dyn_ref::<web_sys::WorkerGlobalScope>()
            .ok_or("neither a page nor a worker")?
            .fetch_with_str(url),
    };
    let resp = JsFuture::from(request)
        .await
        .map_err(|_| format!("{url}: could not be fetched"))?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| format!("{url}: no response"))?;
    if resp.status() == 404 {
        return Ok(None);
    }
    if !resp.ok() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let text = resp.text().map_err(|_| format!("{url}: unreadable body"))?;
    let text = JsFuture::from(text)
        .await
        .map_err(|_| format!("{url}: unreadable body"))?;
    Ok(text.as_string())
}

async fn required(url: &str) -> Result<String, String> {
    fetch_text(url)
        .await?
        .ok_or_else(|| format!("{url}: not found"))
}

/// Checks an index's text (`url` names it in messages).
fn parse_index(url: &str, text: &str) -> Result<Index, String> {
    let index: Index = serde_json::from_str(text).map_err(|e| format!("{url}: {e}"))?;
    if index.format != FORMAT {
        return Err(format!(
            "{url}: format: {:?}, expected {FORMAT:?}",
            index.format
        ));
    }
    let safe = |id: &String| {
        !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if let Some(bad) = index.labs.iter().find(|id| !safe(id)) {
        return Err(format!(
            "{url}: labs: {bad:?} is not a lab id (letters, digits, - and _)"
        ));
    }
    if let Some(bad) = index.demos.iter().find(|id| !safe(id)) {
        return Err(format!(
            "{url}: demos: {bad:?} is not a demo id (letters, digits, - and _)"
        ));
    }
    Ok(index)
}

/// Fetches the pack's index and its labs' files. No default pack is no error.
pub async fn fetch() -> Result<Found, String> {
    let (base, asked) = base();
    let index_url = format!("{base}index.json");
    let text = match fetch_text(&index_url).await {
        Ok(Some(text)) => text,
        // A site without a pack (or offline without one cached) just has none.
        Ok(None) | Err(_) if !asked => return Ok(Found::default()),
        Ok(None) => return Err(format!("{index_url}: not found")),
        Err(e) => return Err(e),
    };
    let index = parse_index(&index_url, &text)?;
    let mut found = Found::default();
    for id in index.labs {
        let dir = format!("{base}labs/{id}");
        let lab = PackLab {
            manifest: required(&format!("{dir}/lab.toml")).await?,
            statement: required(&format!("{dir}/statement.md")).await?,
            starter: required(&format!("{dir}/starter.asm")).await?,
            visible: required(&format!("{dir}/tests/visible.toml")).await?,
        };
        found.labs.push((dir, lab));
    }
    for id in index.demos {
        let from = format!("{base}demos/{id}");
        let manifest = required(&format!("{from}/demo.toml")).await?;
        let guest = vmlab_demos::pack::guest_of(&from, &manifest)?;
        let source = required(&format!("{from}/{guest}")).await?;
        found.demos.push(PackDemo {
            from,
            id,
            manifest,
            source,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_names_its_format_and_safe_lab_ids() {
        let ok = parse_index("i", r#"{"format": "vmlab-pack 1", "labs": ["a-1", "b_2"]}"#)
            .expect("valid");
        assert_eq!(ok.labs, ["a-1", "b_2"]);
        assert!(ok.demos.is_empty());
        let e = parse_index("p/index.json", r#"{"format": "other", "labs": []}"#).unwrap_err();
        assert!(e.starts_with("p/index.json: format:"), "{e}");
        let e = parse_index(
            "p/index.json",
            r#"{"format": "vmlab-pack 1", "labs": ["../x"]}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("p/index.json: labs:"), "{e}");
        let e = parse_index(
            "p/index.json",
            r#"{"format": "vmlab-pack 1", "demos": ["a/b"]}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("p/index.json: demos:"), "{e}");
        let e = parse_index("p/index.json", "{").unwrap_err();
        assert!(e.starts_with("p/index.json: "), "{e}");
    }
}
