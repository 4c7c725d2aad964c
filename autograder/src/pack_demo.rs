//! The demo folders of a course pack: read and checked as the built-in demos are
//! (`demo.toml` and its guest), then written under `demos/ID/`.

use std::path::Path;

/// One demo folder, read and checked.
pub struct DemoOnDisk {
    /// The folder's name: the demo's id.
    pub id: String,
    /// `demo.toml`'s text.
    pub manifest: String,
    /// The guest's file name (the manifest's `guest`).
    pub guest: String,
    /// The guest's source.
    pub source: String,
}

/// Whether `dir` is a demo folder (it has a `demo.toml`).
pub fn is_demo(dir: &Path) -> bool {
    dir.join("demo.toml").is_file()
}

/// Reads and checks the demo folder `dir`; the error names the file and key.
pub fn read(dir: &Path) -> Result<DemoOnDisk, String> {
    let id = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a demo folder", dir.display()))?;
    let from = dir.display().to_string();
    if !vmlab_demos::pack::is_id(id) {
        return Err(format!(
            "{from}: {id:?} is not a demo id (letters, digits, - and _)"
        ));
    }
    let toml_path = dir.join("demo.toml");
    let manifest =
        std::fs::read_to_string(&toml_path).map_err(|e| format!("{}: {e}", toml_path.display()))?;
    let guest = vmlab_demos::pack::guest_of(&from, &manifest)?;
    let guest_path = dir.join(&guest);
    let source = std::fs::read_to_string(&guest_path)
        .map_err(|e| format!("{from}/demo.toml: guest: {}: {e}", guest_path.display()))?;
    vmlab_demos::pack::check(&from, &manifest, &source)?;
    if vmlab_demos::all().iter().any(|d| d.id == id) {
        return Err(format!(
            "{from}: {id:?} is already one of vmlab's own demos; rename the folder"
        ));
    }
    Ok(DemoOnDisk {
        id: id.to_string(),
        manifest,
        guest,
        source,
    })
}

/// Writes a checked demo under `out/demos/ID/`.
pub fn write(demo: &DemoOnDisk, out: &Path) -> Result<(), String> {
    let dest = out.join("demos").join(&demo.id);
    std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    for (name, text) in [
        ("demo.toml", &demo.manifest),
        (demo.guest.as_str(), &demo.source),
    ] {
        let to = dest.join(name);
        std::fs::write(&to, text).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    Ok(())
}
