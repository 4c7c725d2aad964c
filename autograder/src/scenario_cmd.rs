//! What the scenario commands (`vmlab net`, `vmlab host`) share: reading the scenario file and refusing bad input as text or JSON.

use std::path::Path;
use std::process::ExitCode;

/// Exit status of a scenario file that does not load, or an option that is wrong.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Reports bad input for command `cmd` (`net`, `host`) and returns its exit status.
pub fn fail(cmd: &str, json: bool, message: &str) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::json!({ "ok": false, "error": { "kind": "bad-input", "message": message } })
        );
    } else {
        eprintln!("vmlab {cmd}: {message}");
    }
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Reads the scenario file at `path` with `parse` (given its name and text): its
/// name as given and the scenario, or a message that names the file.
pub fn load<T, E: std::fmt::Display>(
    path: &Path,
    parse: impl Fn(&str, &str) -> Result<T, E>,
) -> Result<(String, T), String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let scenario = parse(&name, &text).map_err(|e| e.to_string())?;
    Ok((name, scenario))
}
