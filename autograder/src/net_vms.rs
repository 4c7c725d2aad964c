//! The guests of a `vmlab net` scenario's `vm` nodes read from files: each assembled with its defines and includes, then booted by the lab's and the CLI's one implementation of the scenario's machines (`vmlab_netlab::GuestMachines`).

use std::path::{Path, PathBuf};

use vmlab_net::scenario::Scenario;
use vmlab_net::scenario_file::locate;
use vmlab_netlab::GuestMachines;

use crate::asm::assemble_file;

/// Assembles and boots every `vm` of `scenario`. Guest paths are relative to the
/// scenario file `file` (whose text is `text`), and `%include` files are found
/// beside the guest, then in `guests/include` of the tree the guest is in. An
/// error names the file, the line and the key.
pub fn boot(scenario: &Scenario, file: &Path, text: &str) -> Result<GuestMachines, String> {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let at = |key: String, msg: String| {
        format!("{}:{}: {key}: {msg}", file.display(), locate(text, &key))
    };
    let mut images = Vec::new();
    for (i, spec) in scenario.vms.iter().enumerate() {
        let guest = dir.join(&spec.guest);
        let includes: Vec<PathBuf> = guest
            .ancestors()
            .skip(1)
            .map(|a| a.join("include"))
            .filter(|d| d.is_dir())
            .take(1)
            .collect();
        let image = assemble_file(&guest, &spec.guest_defines(), &includes)
            .map_err(|e| at(format!("vm[{i}].guest"), e.to_string()))?;
        images.push(image.bytes);
    }
    GuestMachines::boot(scenario, &images)
        .map_err(|e| at(format!("vm[{}].{}", e.vm, e.key), e.message))
}
