//! `cargo xtask dist`: the release site as a self-contained folder for any static host,
//! with content-hashed asset names and a service worker that keeps the lab working offline.

use crate::{bundle, site, step};
use anyhow::{bail, ensure, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// What `cargo xtask dist` writes.
#[derive(Debug)]
pub struct Options {
    /// The URL path the folder is served under, e.g. `/course/vmlab/`.
    pub base_path: String,
    /// The folder to write (default `target/dist`).
    pub out: Option<PathBuf>,
}

/// The assets whose names get a content hash, in the order their names are
/// rewritten: a file's hash covers the already-rewritten names it refers to.
const HASHED: &[&str] = &[
    site::PRINTER,
    "pkg/lab_ui_bg.wasm",
    "pkg/lab_ui.js",
    "style.css",
    "lab.css",
];

/// The wasm-bindgen glue the page and the worker import.
const GLUE: &str = "pkg/lab_ui.js";

/// The service worker's file name; not hashed, so a new deployment replaces it.
const SERVICE_WORKER: &str = "sw.js";

/// The default output folder.
pub fn default_out() -> PathBuf {
    crate::target_dir().join("dist")
}

/// Builds the release site and writes the folder; returns whether the secrecy check passed.
pub fn run(options: &Options) -> Result<bool> {
    let base = normalize_base(&options.base_path)?;
    let out = options.out.clone().unwrap_or_else(default_out);
    let toolchain = crate::wasm::Toolchain::ensure()?;
    let site = site::build(&toolchain, true)?;
    assemble(&site, &out, &base)?;
    step::heading("dist holds no hidden tests");
    let tally = bundle::check(&out)?;
    if tally.failed == 0 {
        println!("publish {} at {base} on any static host", out.display());
    }
    Ok(tally.failed == 0)
}

/// `course/vmlab` → `/course/vmlab/`; refuses paths a URL could not carry as-is.
pub fn normalize_base(base: &str) -> Result<String> {
    let trimmed = base.trim_matches('/');
    if let Some(bad) = trimmed
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~/".contains(*c)))
    {
        bail!("--base-path {base:?}: {bad:?} is not allowed (use letters, digits, - . _ ~ and /)");
    }
    ensure!(
        trimmed.is_empty()
            || !trimmed
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == ".."),
        "--base-path {base:?} has an empty, `.` or `..` segment"
    );
    Ok(if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    })
}

/// Writes the dist folder at `out` from the built site at `site`, for serving
/// under `base` (already normalized); returns the precached URLs.
pub fn assemble(site: &Path, out: &Path, base: &str) -> Result<Vec<String>> {
    step::heading(&format!("assemble {} for {base}", out.display()));
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    let files = relative_files(site)?;
    // Every file's bytes, by its path relative to the site; rewritten in place.
    let mut contents: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|rel| {
            let bytes = fs::read(site.join(&rel))
                .with_context(|| format!("reading {}", site.join(&rel).display()))?;
            Ok((rel, bytes))
        })
        .collect::<Result<_>>()?;
    let mut renamed: Vec<(String, String)> = Vec::new();
    for &asset in HASHED {
        let index = contents
            .iter()
            .position(|(rel, _)| rel == asset)
            .with_context(|| format!("the site has no {asset}"))?;
        let hashed = hashed_name(asset, &contents[index].1);
        rename_references(&mut contents, asset, &hashed);
        contents[index].0 = hashed.clone();
        renamed.push((asset.to_owned(), hashed));
    }
    let hashed_as = |asset: &str| {
        renamed
            .iter()
            .find(|(from, _)| from == asset)
            .map(|(_, to)| to.clone())
            .with_context(|| format!("{asset} was not hashed"))
    };
    let glue = hashed_as(GLUE)?;
    let printer = hashed_as(site::PRINTER)?;
    let index = contents
        .iter_mut()
        .find(|(rel, _)| rel == "index.html")
        .context("the site has no index.html")?;
    let html =
        String::from_utf8(std::mem::take(&mut index.1)).context("index.html is not UTF-8")?;
    index.1 = page(&html, base, &glue, &printer)?.into_bytes();

    let mut precache: Vec<String> = contents
        .iter()
        .map(|(rel, _)| format!("{base}{rel}"))
        .collect();
    precache.sort();
    let worker = service_worker(base, &precache);
    contents.push((SERVICE_WORKER.to_owned(), worker.into_bytes()));

    for (rel, bytes) in &contents {
        let dest = out.join(rel);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))?;
        println!("{:>10} bytes  {}", bytes.len(), dest.display());
    }
    Ok(precache)
}

/// `pkg/lab_ui.js` with content `bytes` → `pkg/lab_ui.0123456789.js`.
fn hashed_name(rel: &str, bytes: &[u8]) -> String {
    let hash = format!("{:016x}", fnv1a(bytes));
    match rel.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{}.{ext}", &hash[..10]),
        None => format!("{rel}.{}", &hash[..10]),
    }
}

/// FNV-1a, 64 bits: a content fingerprint for cache busting (not a security hash).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Rewrites references to `from` in the text files: a reference is the file's
/// name as written by a sibling (`lab_ui_bg.wasm`) or by the page (`pkg/lab_ui.js`).
fn rename_references(contents: &mut [(String, Vec<u8>)], from: &str, to: &str) {
    let from_name = file_name(from);
    let to_name = file_name(to);
    for (rel, bytes) in contents.iter_mut() {
        if !is_text(rel) || rel == from {
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        let same_dir = parent(rel) == parent(from);
        let rewritten = if same_dir {
            text.replace(from_name, to_name)
        } else {
            text.replace(from, to)
        };
        *bytes = rewritten.into_bytes();
    }
}

fn file_name(rel: &str) -> &str {
    rel.rsplit_once('/').map_or(rel, |(_, name)| name)
}

fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn is_text(rel: &str) -> bool {
    [".html", ".js", ".css"]
        .iter()
        .any(|ext| rel.ends_with(ext))
}

/// The dist's index.html: every local reference absolute under `base`, the
/// glue named for the worker, the region modules' printer named for the lab, and the
/// service worker registered for `base`.
fn page(html: &str, base: &str, glue: &str, printer: &str) -> Result<String> {
    let mut page = html.to_owned();
    for attr in ["href=\"", "src=\"", "from \""] {
        page = absolute_references(&page, attr, base);
    }
    let head = format!(
        "  <meta name=\"vmlab-glue\" content=\"{base}{glue}\">\n  \
         <meta name=\"vmlab-region-text\" content=\"{base}{printer}\">\n</head>",
    );
    let register = format!(
        "  <script>\n    if (\"serviceWorker\" in navigator) {{\n      \
         navigator.serviceWorker.register(\"{base}{SERVICE_WORKER}\", {{ scope: \"{base}\" }})\n        \
         .catch((error) => console.warn(\"offline use is unavailable:\", error));\n    }}\n  \
         </script>\n</body>"
    );
    ensure!(
        page.contains("</head>") && page.contains("</body>"),
        "index.html has no </head> or </body>"
    );
    ensure!(
        page.contains(&format!("{base}{glue}")),
        "index.html does not import the glue {glue}"
    );
    Ok(page
        .replacen("</head>", &head, 1)
        .replacen("</body>", &register, 1))
}

/// Puts `base` in front of every relative reference that follows `attr` (`href="`,
/// `src="`, `from "`); absolute paths, fragments and URLs with a scheme stay.
fn absolute_references(html: &str, attr: &str, base: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(attr) {
        let (before, value) = rest.split_at(at + attr.len());
        out.push_str(before);
        let target = value.split('"').next().unwrap_or_default();
        let relative =
            !(target.starts_with('/') || target.starts_with('#') || target.contains(':'));
        if relative {
            out.push_str(base);
            rest = value.strip_prefix("./").unwrap_or(value);
        } else {
            rest = value;
        }
    }
    out.push_str(rest);
    out
}

/// The service worker: precaches `precache` on install, drops older vmlab caches
/// on activation, answers hashed assets from the cache and pages from the network
/// with the cached page as the offline fallback.
fn service_worker(base: &str, precache: &[String]) -> String {
    let list = precache.join("\n");
    let version = format!("{:016x}", fnv1a(list.as_bytes()));
    let assets = precache
        .iter()
        .map(|u| format!("  {u:?},"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        r#"// vmlab's service worker: the lab keeps working offline after the first visit.
const CACHE = "vmlab-{version}";
const PAGE = "{base}index.html";
// A page request that gets no answer this soon is served from the cache.
const NETWORK_WAIT_MS = 4000;
const ASSETS = [
{assets}
];

self.addEventListener("install", (event) => {{
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()),
  );
}});

self.addEventListener("activate", (event) => {{
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys.filter((k) => k.startsWith("vmlab-") && k !== CACHE).map((k) => caches.delete(k)),
        ),
      )
      .then(() => self.clients.claim()),
  );
}});

self.addEventListener("fetch", (event) => {{
  const request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {{
    event.respondWith(
      Promise.race([
        fetch(request),
        new Promise((_, reject) => setTimeout(() => reject(new Error("no answer")), NETWORK_WAIT_MS)),
      ]).catch(() =>
        caches.match(PAGE, {{ cacheName: CACHE }}).then((page) => page || Response.error()),
      ),
    );
    return;
  }}
  event.respondWith(
    caches.match(request, {{ cacheName: CACHE, ignoreSearch: true }}).then((hit) => hit || fetch(request)),
  );
}});
"#
    )
}

/// The paths of every file under `root`, relative to it, with `/` separators.
fn relative_files(root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    bundle::files_under(root, &mut files)?;
    files
        .iter()
        .map(|path| {
            let rel = path.strip_prefix(root).context("a file outside the site")?;
            let rel = rel
                .to_str()
                .with_context(|| format!("{} is not UTF-8", path.display()))?;
            Ok(rel.replace('\\', "/"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_site(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vmlab-dist-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("pkg")).expect("temp site");
        let www = crate::workspace_root().join("www/index.html");
        fs::copy(www, dir.join("index.html")).expect("index.html");
        fs::write(dir.join("style.css"), "body { color: black }").expect("write");
        fs::write(dir.join("lab.css"), ".lab { display: grid }").expect("write");
        fs::write(dir.join("favicon.svg"), "<svg/>").expect("write");
        fs::write(
            dir.join("pkg/lab_ui.js"),
            "module_or_path = new URL('lab_ui_bg.wasm', import.meta.url);",
        )
        .expect("write");
        fs::write(dir.join("pkg/lab_ui_bg.wasm"), b"\0asm\x01\0\0\0").expect("write");
        fs::write(dir.join(site::PRINTER), b"\0asm\x01\0\0\0\0").expect("write");
        dir
    }

    #[test]
    fn base_paths_are_normalized_and_bad_ones_refused() {
        assert_eq!(normalize_base("/course/vmlab/").unwrap(), "/course/vmlab/");
        assert_eq!(normalize_base("vmlab").unwrap(), "/vmlab/");
        assert_eq!(normalize_base("/").unwrap(), "/");
        assert!(normalize_base("/a/../b/").is_err());
        assert!(normalize_base("/a b/").is_err());
        assert!(normalize_base("/a\"/").is_err());
    }

    #[test]
    fn assets_are_hashed_and_every_reference_follows() {
        let site = fake_site("site");
        let out = site.with_file_name(format!("vmlab-dist-{}-out", std::process::id()));
        let precache = assemble(&site, &out, "/course/vmlab/").expect("assemble");
        let mut names = relative_files(&out).expect("list");
        names.sort();
        let hashed = |prefix: &str, ext: &str| {
            names
                .iter()
                .find(|n| {
                    n.starts_with(prefix)
                        && n.ends_with(ext)
                        && n.len() == prefix.len() + 11 + ext.len()
                })
                .cloned()
                .unwrap_or_else(|| panic!("no hashed {prefix}*{ext} in {names:?}"))
        };
        let wasm = hashed("pkg/lab_ui_bg.", "wasm");
        let glue = hashed("pkg/lab_ui.", "js");
        let style = hashed("style.", "css");
        let lab = hashed("lab.", "css");
        let printer = hashed("pkg/region_text.", "wasm");
        for plain in [
            site::PRINTER,
            "pkg/lab_ui.js",
            "pkg/lab_ui_bg.wasm",
            "style.css",
            "lab.css",
        ] {
            assert!(!names.contains(&plain.to_owned()), "{plain} kept its name");
        }
        let glue_text = fs::read_to_string(out.join(&glue)).expect("glue");
        assert!(glue_text.contains(file_name(&wasm)), "{glue_text}");
        let html = fs::read_to_string(out.join("index.html")).expect("page");
        for asset in [&glue, &style, &lab] {
            assert!(
                html.contains(&format!("\"/course/vmlab/{asset}\"")),
                "{asset} in {html}"
            );
        }
        assert!(html.contains("\"/course/vmlab/favicon.svg\""), "{html}");
        assert!(html.contains(&format!(
            "name=\"vmlab-glue\" content=\"/course/vmlab/{glue}\""
        )));
        assert!(html.contains(&format!(
            "name=\"vmlab-region-text\" content=\"/course/vmlab/{printer}\""
        )));
        assert!(html.contains("register(\"/course/vmlab/sw.js\", { scope: \"/course/vmlab/\" })"));
        let sw = fs::read_to_string(out.join("sw.js")).expect("sw.js");
        for asset in [
            &wasm,
            &glue,
            &style,
            &lab,
            &printer,
            &"index.html".to_owned(),
        ] {
            let url = format!("/course/vmlab/{asset}");
            assert!(
                precache.contains(&url) && sw.contains(&format!("{url:?}")),
                "{url} precached"
            );
        }
        // The same input gives the same names; a changed asset gets a new one.
        let again = assemble(&site, &out, "/course/vmlab/").expect("again");
        assert_eq!(again, precache);
        fs::write(site.join("lab.css"), ".lab { display: flex }").expect("write");
        let changed = assemble(&site, &out, "/course/vmlab/").expect("changed");
        assert!(!changed.contains(&format!("/course/vmlab/{lab}")));
        assert_ne!(
            fs::read_to_string(out.join("sw.js")).expect("sw"),
            sw,
            "a new cache version"
        );
        for d in [site, out] {
            let _ = fs::remove_dir_all(d);
        }
    }
}
