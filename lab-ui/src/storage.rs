//! The browser's local storage (kept programs, the current text, a draft per lab)
//! and file downloads.

use wasm_bindgen::JsCast;

const PROGRAMS_KEY: &str = "vmlab.programs";
const CURRENT_KEY: &str = "vmlab.current";
const DRAFT_PREFIX: &str = "vmlab.draft.";

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn programs() -> Vec<(String, String)> {
    local()
        .and_then(|s| s.get_item(PROGRAMS_KEY).ok()?)
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// The names of the programs kept in this browser.
pub fn program_names() -> Vec<String> {
    programs().into_iter().map(|(n, _)| n).collect()
}

/// A kept program's source.
pub fn load_program(name: &str) -> Option<String> {
    programs()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
}

/// Keeps a program under `name` (replacing one of the same name).
pub fn save_program(name: &str, source: &str) -> Result<(), String> {
    let mut all = programs();
    all.retain(|(n, _)| n != name);
    all.push((name.to_string(), source.to_string()));
    let json = serde_json::to_string(&all).map_err(|e| e.to_string())?;
    local()
        .ok_or("this browser has no local storage")?
        .set_item(PROGRAMS_KEY, &json)
        .map_err(|_| "local storage is full or disabled".to_string())
}

/// Remembers the editor's text across reloads (best effort).
pub fn save_current(source: &str) {
    if let Some(s) = local() {
        let _ = s.set_item(CURRENT_KEY, source);
    }
}

/// The editor's text from the last visit.
pub fn load_current() -> Option<String> {
    local()?.get_item(CURRENT_KEY).ok()?
}

/// Keeps the editor's text as the draft of lab `lab` (best effort).
pub fn save_draft(lab: &str, source: &str) {
    if let Some(s) = local() {
        let _ = s.set_item(&format!("{DRAFT_PREFIX}{lab}"), source);
    }
}

/// The draft of lab `lab` from an earlier visit.
pub fn load_draft(lab: &str) -> Option<String> {
    local()?.get_item(&format!("{DRAFT_PREFIX}{lab}")).ok()?
}

/// Keeps the editor's text: as the open lab's draft, or as the current program.
pub fn save_text(lab: Option<&str>, source: &str) {
    match lab {
        Some(lab) => save_draft(lab, source),
        None => save_current(source),
    }
}

/// The file picked in a file input's `change` event; the input is cleared so that
/// the same file can be picked again.
pub fn picked_file(e: &yew::Event) -> Option<web_sys::File> {
    let input = e.target()?.dyn_into::<web_sys::HtmlInputElement>().ok()?;
    let file = input.files()?.get(0)?;
    input.set_value("");
    Some(file)
}

/// Offers `text` as a file download.
pub fn download(filename: &str, text: &str) -> Result<(), String> {
    download_as(filename, "text/plain", text.as_bytes())
}

/// Offers `bytes` as a file download of MIME type `mime`.
pub fn download_as(filename: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let fail = |what: &str| format!("could not save {filename}: {what}");
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)
        .map_err(|_| fail("no Blob"))?;
    let url =
        web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| fail("no object URL"))?;
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| fail("no document"))?;
    let a = doc
        .create_element("a")
        .map_err(|_| fail("no link"))?
        .dyn_into::<web_sys::HtmlAnchorElement>()
        .map_err(|_| fail("no link"))?;
    a.set_href(&url);
    a.set_download(filename);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}
