//! The region modules' text on the page: the printer (crate `region-text`, served as
//! `pkg/region_text.wasm`, outside the lab's bundle) is fetched and instantiated the
//! first time a region is shown, once per page, and prints each module through its raw
//! exports (`region-text/src/exports.rs`).

use std::cell::OnceCell;

use js_sys::{Function, Object, Promise, Reflect, Uint8Array, WebAssembly};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// Where the printer is, unless the page names it in `<meta name="vmlab-region-text">`
/// (the hashed name in a dist build).
const PRINTER_URL: &str = "pkg/region_text.wasm";

thread_local! {
    /// The printer's instance, or why it could not be had: fetched once per page.
    static PRINTER: OnceCell<Promise> = const { OnceCell::new() };
}

fn url() -> String {
    crate::app::page_meta("vmlab-region-text").unwrap_or_else(|| PRINTER_URL.to_owned())
}

/// A JavaScript error's message.
fn message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Fetches and instantiates the printer.
async fn load(url: String) -> Result<WebAssembly::Instance, String> {
    let window = web_sys::window().ok_or("the printer is loaded on the page only")?;
    let response = JsFuture::from(window.fetch_with_str(&url))
        .await
        .map_err(|e| format!("{url} could not be fetched: {}", message(&e)))?;
    let response: web_sys::Response = response
        .dyn_into()
        .map_err(|_| format!("{url}: no response"))?;
    if !response.ok() {
        return Err(format!(
            "{url} could not be fetched: HTTP {}",
            response.status()
        ));
    }
    let body = response
        .array_buffer()
        .map_err(|e| format!("{url}: unreadable body: {}", message(&e)))?;
    let body = JsFuture::from(body)
        .await
        .map_err(|e| format!("{url}: unreadable body: {}", message(&e)))?;
    let bytes = Uint8Array::new(&body).to_vec();
    let made = JsFuture::from(WebAssembly::instantiate_buffer(&bytes, &Object::new()))
        .await
        .map_err(|e| format!("{url} could not be instantiated: {}", message(&e)))?;
    Reflect::get(&made, &JsValue::from_str("instance"))
        .ok()
        .and_then(|i| i.dyn_into().ok())
        .ok_or_else(|| format!("{url} could not be instantiated: no instance"))
}

/// The printer's instance, fetched the first time it is asked for.
async fn printer() -> Result<WebAssembly::Instance, String> {
    let promise = PRINTER.with(|p| {
        p.get_or_init(|| {
            future_to_promise(async {
                load(url())
                    .await
                    .map(JsValue::from)
                    .map_err(|e| JsValue::from_str(&e))
            })
        })
        .clone()
    });
    JsFuture::from(promise)
        .await
        .map_err(|e| message(&e))?
        .dyn_into()
        .map_err(|_| "the printer is no Wasm instance".to_string())
}

/// `len` bytes at `at` in the printer's memory, taken after each call as the memory may
/// have grown.
fn view(memory: &WebAssembly::Memory, at: u32, len: u32) -> Result<Uint8Array, String> {
    let buffer: js_sys::ArrayBuffer = memory.buffer().unchecked_into();
    if u64::from(at) + u64::from(len) > u64::from(buffer.byte_length()) {
        return Err(format!(
            "the printer named {len} bytes at {at:#x}, outside its memory"
        ));
    }
    Ok(Uint8Array::new_with_byte_offset_and_length(
        &buffer, at, len,
    ))
}

/// `module` in the WebAssembly text format, a line an entry (one `;;` line when the
/// printer cannot print it), or why the printer could not be used.
pub async fn print(module: &[u8]) -> Result<Vec<String>, String> {
    let instance = printer().await?;
    let exports = instance.exports();
    let export = |name: &str| {
        Reflect::get(&exports, &JsValue::from_str(name))
            .map_err(|e| message(&e))
            .and_then(|v| {
                if v.is_undefined() {
                    Err(format!("the printer exports no {name}"))
                } else {
                    Ok(v)
                }
            })
    };
    let function = |name: &str| -> Result<Function, String> {
        export(name)?
            .dyn_into()
            .map_err(|_| format!("the printer's {name} is no function"))
    };
    // Calls `name` with `args`; its i32 result.
    let call = |name: &str, args: &[u32]| -> Result<u32, String> {
        let f = function(name)?;
        let result = match args {
            [] => f.call0(&JsValue::NULL),
            [a] => f.call1(&JsValue::NULL, &JsValue::from(*a)),
            _ => return Err(format!("{name}: too many arguments")),
        };
        let value = result.map_err(|e| format!("the printer's {name} failed: {}", message(&e)))?;
        value
            .as_f64()
            .map(|n| n as i32 as u32)
            .ok_or_else(|| format!("the printer's {name} returned no number"))
    };
    let memory: WebAssembly::Memory = export("memory")?
        .dyn_into()
        .map_err(|_| "the printer exports no memory".to_string())?;
    let len = u32::try_from(module.len()).map_err(|_| "the region module is too large")?;
    let input = call("region_text_alloc", &[len])?;
    view(&memory, input, len)?.copy_from(module);
    let text_len = call("region_text_print", &[len])?;
    let text = call("region_text_output", &[])?;
    let bytes = view(&memory, text, text_len)?.to_vec();
    let text = String::from_utf8(bytes).map_err(|e| format!("the printer's text: {e}"))?;
    Ok(text.lines().map(str::to_string).collect())
}
