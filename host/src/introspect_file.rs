//! Introspection profiles as TOML files (read with located errors, made from the teaching kernel's assembler symbols) and the process view as text and JSON.

use std::collections::BTreeMap;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use serde::Deserialize;

use crate::introspect::{Profile, View};

/// The teaching kernel's profile, as committed next to its source.
pub static KERNEL_PROFILE: &str = include_str!("../../guests/kernel/kernel.profile.toml");
pub use crate::guest::KERNEL_SOURCE;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    kernel: String,
    current: u32,
    table: u32,
    count: u32,
    entry_size: u32,
    user_lo: u32,
    user_hi: u32,
    fields: RawFields,
    states: BTreeMap<String, u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFields {
    kernel_esp: u32,
    cr3: u32,
    state: u32,
    name: u32,
    name_len: u32,
    saved_eip: u32,
}

/// Reads a profile from `text` (the contents of `file`); errors name the file and line.
pub fn parse(file: &str, text: &str) -> Result<Profile, String> {
    let raw: RawProfile = vmlab_net::toml_de::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start.min(text.len()));
        let line = text.get(..at).map_or(1, |t| t.matches('\n').count() + 1);
        format!("{file}:{line}: {}", e.message().trim())
    })?;
    if raw.count == 0 || raw.entry_size == 0 {
        return Err(format!("{file}: count and entry_size must be at least 1"));
    }
    if raw.user_lo >= raw.user_hi {
        return Err(format!("{file}: user_lo must be below user_hi"));
    }
    if raw.fields.name_len == 0 || raw.fields.name_len > 64 {
        return Err(format!("{file}: fields.name_len must be 1 to 64"));
    }
    let mut states: Vec<(u32, String)> = raw.states.into_iter().map(|(n, v)| (v, n)).collect();
    states.sort();
    Ok(Profile {
        kernel: raw.kernel,
        current: raw.current,
        table: raw.table,
        count: raw.count,
        entry_size: raw.entry_size,
        cr3: raw.fields.cr3,
        state: raw.fields.state,
        name: raw.fields.name,
        name_len: raw.fields.name_len,
        kernel_esp: raw.fields.kernel_esp,
        saved_eip: raw.fields.saved_eip,
        user_lo: raw.user_lo,
        user_hi: raw.user_hi,
        states,
    })
}

/// The teaching kernel's profile, parsed.
pub fn kernel_profile() -> Result<Profile, String> {
    parse("guests/kernel/kernel.profile.toml", KERNEL_PROFILE)
}

/// The symbols a teaching-kernel source defines for its process structures,
/// appended as `equ`s so the assembler evaluates them.
const PROBES: &[(&str, &str)] = &[
    ("current", "(current)"),
    ("table", "(pcb_esp)"),
    ("kernel_esp", "(pcb_esp) - (pcb_esp)"),
    ("cr3", "(pcb_cr3) - (pcb_esp)"),
    ("state", "(pcb_state) - (pcb_esp)"),
    ("name", "(pcb_name) - (pcb_esp)"),
    ("saved_eip", "4 + (F_EIP)"),
    ("user_lo", "(USER_LO)"),
    ("user_hi", "(USER_HI)"),
];

/// Makes the profile of a teaching-kernel source from its assembler symbols: the
/// kernel keeps its processes in parallel arrays of dwords (so entries are 4
/// bytes apart, and the distance from one array to the next is the count), the
/// saved EIP is the IRET frame's, above the return address and the registers
/// its handlers push, and the state values are its `pcb_state` encoding.
pub fn make_profile(file: &str, source: &str) -> Result<String, String> {
    let mut text = String::from(source);
    text.push('\n');
    for (k, expr) in PROBES {
        text.push_str(&format!("vmlab_profile_{k} equ {expr}\n"));
    }
    let out = crate::guest::assemble_kernel_text(file, &text)
        .map_err(|e| format!("{file} does not assemble with the profile's symbols: {e}"))?;
    let sym = |k: &str| crate::guest::symbol(&out, &format!("vmlab_profile_{k}"), file);
    let count = sym("cr3")? / 4;
    if count == 0 {
        return Err(format!("{file}: pcb_cr3 does not follow pcb_esp"));
    }
    let mut p = String::new();
    p.push_str(
        "# The teaching kernel's process structures, as the host's introspection reads them.\n",
    );
    p.push_str(
        "# Made from guests/kernel/kernel.asm's symbols by `vmlab introspect --make-profile`.\n",
    );
    p.push_str("kernel = \"vmlab teaching kernel\"\n");
    p.push_str(&format!(
        "current = 0x{:x}      # index of the running process\n",
        sym("current")?
    ));
    p.push_str(&format!(
        "table = 0x{:x}        # parallel arrays of dwords, one per process\n",
        sym("table")?
    ));
    p.push_str(&format!("count = {count}\n"));
    p.push_str("entry_size = 4\n");
    p.push_str(&format!("user_lo = 0x{:x}\n", sym("user_lo")?));
    p.push_str(&format!("user_hi = 0x{:x}\n", sym("user_hi")?));
    p.push_str("\n[fields]             # offsets from table\n");
    for k in ["kernel_esp", "cr3", "state", "name"] {
        p.push_str(&format!("{k} = 0x{:x}\n", sym(k)?));
    }
    p.push_str("name_len = 4\n");
    p.push_str(&format!(
        "saved_eip = {}        # the user EIP, in bytes above the saved kernel ESP\n",
        sym("saved_eip")?
    ));
    p.push_str("\n[states]\nexited = 0\nrunnable = 1\n");
    Ok(p)
}

/// The view as JSON: `current` and `processes` (pid, name, state, cr3, user_pages,
/// frames, eip, eip_source, current), and the raw `cpu_cr3` and `cpl`.
pub fn view_json(v: &View) -> serde_json::Value {
    let procs: Vec<serde_json::Value> = v
        .processes
        .iter()
        .map(|p| {
            serde_json::json!({
                "pid": p.pid,
                "name": p.name,
                "state": p.state,
                "cr3": format!("0x{:x}", p.cr3),
                "user_pages": p.pages.len(),
                "frames": p.pages.iter().map(|(l, f)| serde_json::json!({
                    "linear": format!("0x{l:x}"),
                    "frame": format!("0x{f:x}"),
                })).collect::<Vec<_>>(),
                "eip": p.eip.map(|e| format!("0x{e:x}")),
                "eip_source": match (p.eip, p.eip_live) {
                    (None, _) => "none",
                    (Some(_), true) => "cpu",
                    (Some(_), false) => "kernel stack",
                },
                "current": v.current == Some(p.pid),
            })
        })
        .collect();
    serde_json::json!({
        "current": v.current,
        "cpu_cr3": format!("0x{:x}", v.cpu_cr3),
        "cpl": v.cpl,
        "processes": procs,
    })
}

/// The view as a table, the running process marked with `*`.
pub fn view_text(v: &View) -> String {
    let mut s = format!("  cpu: CR3 0x{:x}, CPL {}\n", v.cpu_cr3, v.cpl);
    if v.processes.is_empty() {
        s.push_str("  no processes yet (paging is off)\n");
        return s;
    }
    s.push_str("    pid  name  state     cr3       user pages  eip\n");
    for p in &v.processes {
        let mark = if v.current == Some(p.pid) { '*' } else { ' ' };
        let eip = match (p.eip, p.eip_live) {
            (None, _) => "-".to_string(),
            (Some(e), true) => format!("0x{e:x} (cpu)"),
            (Some(e), false) => format!("0x{e:x} (saved)"),
        };
        s.push_str(&format!(
            "  {mark} {:<4} {:<5} {:<9} 0x{:<7x} {:<11} {eip}\n",
            p.pid,
            p.name,
            p.state,
            p.cr3,
            p.pages.len()
        ));
    }
    s
}
