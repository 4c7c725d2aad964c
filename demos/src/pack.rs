//! Demos added at run time from a course pack: checked with the same manifest code
//! as the built-in ones, then offered after them by [`crate::menu`] and [`crate::find`].

use std::sync::Mutex;

use crate::manifest::{includes, Manifest};
use crate::Demo;

static ADDED: Mutex<Vec<&'static Demo>> = Mutex::new(Vec::new());

/// The demos added so far, in the order they were added.
pub fn added() -> Vec<&'static Demo> {
    ADDED.lock().map(|d| d.clone()).unwrap_or_default()
}

/// Whether `name` is a plain file name a pack may carry (no folders, no `..`).
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `id` is a demo id a pack may use: letters, digits, `-` and `_`.
pub fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The guest file `demo.toml` names, which must be a plain file name in the demo's
/// folder; `from` names the folder in messages. (Read it, then [`check`] the pair.)
pub fn guest_of(from: &str, manifest: &str) -> Result<String, String> {
    let file = format!("{from}/demo.toml");
    let guest = Manifest::parse(manifest)
        .map_err(|e| format!("{file}: {e}"))?
        .guest;
    if !is_plain_name(&guest) {
        return Err(format!(
            "{file}: guest: {guest:?} is not a file name in the demo's folder"
        ));
    }
    Ok(guest)
}

/// Checks a demo folder's `demo.toml` and guest source as the build checks the
/// built-in ones; `from` names the folder in messages (`FROM/demo.toml: KEY: …`).
pub fn check(from: &str, manifest: &str, source: &str) -> Result<Manifest, String> {
    let file = format!("{from}/demo.toml");
    guest_of(from, manifest)?;
    let m = Manifest::parse(manifest).map_err(|e| format!("{file}: {e}"))?;
    m.validate(&crate::manifest::with_includes(source, crate::include))
        .map_err(|e| format!("{file}: {e}"))?;
    if let Some(name) = includes(source)
        .into_iter()
        .find(|n| crate::include(n).is_none())
    {
        return Err(format!(
            "{file}: guest: {}: %include \"{name}\" is not one of vmlab's guest includes",
            m.guest
        ));
    }
    Ok(m)
}

/// Checks a pack demo and adds it under `id`; returns it. Adding the same demo
/// again changes nothing; another demo under a taken id is refused.
pub fn add(from: &str, id: &str, manifest: &str, source: &str) -> Result<&'static Demo, String> {
    if !is_id(id) {
        return Err(format!(
            "{from}: {id:?} is not a demo id (letters, digits, - and _)"
        ));
    }
    let m = check(from, manifest, source)?;
    if crate::all().iter().any(|d| d.id == id) {
        return Err(format!(
            "{from}/demo.toml: {id:?} is already one of vmlab's own demos"
        ));
    }
    let mut all = ADDED
        .lock()
        .map_err(|_| "the pack demo registry is unusable".to_string())?;
    if let Some(d) = all.iter().find(|d| d.id == id) {
        if d.manifest == m && d.source == source {
            return Ok(d);
        }
        return Err(format!(
            "{from}/demo.toml: another pack already has a demo {id:?}"
        ));
    }
    let demo: &'static Demo = Box::leak(Box::new(Demo {
        id: Box::leak(id.to_string().into_boxed_str()),
        source: Box::leak(source.to_string().into_boxed_str()),
        manifest: m,
    }));
    all.push(demo);
    Ok(demo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn popf() -> (&'static str, &'static str) {
        let d = crate::find("popf").expect("a built-in demo");
        let e = crate::EMBEDDED
            .iter()
            .find(|e| e.id == "popf")
            .expect("embedded");
        (e.manifest, d.source)
    }

    #[test]
    fn a_pack_demo_joins_the_menu_after_the_built_in_ones() {
        let (manifest, source) = popf();
        let d = add("pack/demos/my-popf", "my-popf", manifest, source).expect("adds");
        assert_eq!(d.id, "my-popf");
        assert_eq!(crate::find("my-popf"), Some(d));
        let menu = crate::menu();
        assert_eq!(menu.len(), crate::played().count() + added().len());
        assert_eq!(
            menu.last().map(|d| d.id),
            Some(added().last().expect("one").id)
        );
        // Again: the same one; different steps under that id: refused.
        assert!(std::ptr::eq(
            add("again", "my-popf", manifest, source).expect("same"),
            d
        ));
        let other = manifest.replacen("title = ", "title = \"Other\"\n#", 1);
        let e = add("p2/demos/my-popf", "my-popf", &other, source).unwrap_err();
        assert!(e.contains("another pack"), "{e}");
    }

    #[test]
    fn bad_pack_demos_name_the_file_and_key() {
        let (manifest, source) = popf();
        let e = add("p/demos/popf", "popf", manifest, source).unwrap_err();
        assert!(e.starts_with("p/demos/popf/demo.toml: "), "{e}");
        let e = add("p/demos/x", "../x", manifest, source).unwrap_err();
        assert!(e.starts_with("p/demos/x: "), "{e}");
        let e = check("p/demos/a", "title = 3\n", source).unwrap_err();
        assert!(
            e.starts_with("p/demos/a/demo.toml: ") && e.contains("title"),
            "{e}"
        );
        let bad = manifest.replacen("mode = ", "mode = \"warp\"\n#", 1);
        let e = check("p/demos/b", &bad, source).unwrap_err();
        assert!(e.starts_with("p/demos/b/demo.toml: mode:"), "{e}");
        let e = check("p/demos/c", manifest, "bits 32\nhlt\n").unwrap_err();
        assert!(e.starts_with("p/demos/c/demo.toml: step["), "{e}");
        let e = check(
            "p/demos/d",
            manifest,
            &format!("%include \"nope.inc\"\n{source}"),
        )
        .unwrap_err();
        assert!(e.contains("nope.inc"), "{e}");
        let escape = manifest.replacen("guest = ", "guest = \"../x.asm\"\n#", 1);
        let e = check("p/demos/e", &escape, source).unwrap_err();
        assert!(e.starts_with("p/demos/e/demo.toml: guest:"), "{e}");
    }
}
