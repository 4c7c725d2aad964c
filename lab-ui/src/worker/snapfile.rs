//! The machine file the lab saves and loads: the loaded program, its mode and the
//! core's [`Snapshot`], as zlib-compressed JSON behind a one-line header.

use emulator_core::{ExecMode, Snapshot};
use serde::{Deserialize, Serialize};

use super::session::Loaded;

/// The file's first line: names the format and its version.
pub const MAGIC: &[u8] = b"vmlab-snapshot 1\n";
/// The name the lab offers for a saved machine.
pub const FILE_NAME: &str = "machine.vmlab-snapshot";
/// The largest JSON a file may inflate to (a 4 MiB machine is about 10 MiB of it).
const MAX_JSON: usize = 64 << 20;

/// What a machine file holds.
#[derive(Serialize, Deserialize, Debug)]
pub struct MachineFile {
    /// The program, so that reset and mode switches still work after a load.
    pub program: Loaded,
    /// The mode the machine runs in.
    pub mode: ExecMode,
    /// The machine's whole state.
    pub machine: Snapshot,
}

/// The file's bytes.
pub fn encode(file: &MachineFile) -> Result<Vec<u8>, String> {
    let json =
        serde_json::to_vec(file).map_err(|e| format!("could not write the snapshot: {e}"))?;
    let mut out = MAGIC.to_vec();
    out.extend(miniz_oxide::deflate::compress_to_vec_zlib(&json, 6));
    Ok(out)
}

/// Reads a machine file; the error says what is wrong with it.
pub fn decode(bytes: &[u8]) -> Result<MachineFile, String> {
    let packed = bytes.strip_prefix(MAGIC).ok_or_else(|| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(20)]).into_owned();
        format!(
            "not a vmlab machine snapshot: it should start with `vmlab-snapshot 1`, it starts with {shown:?}"
        )
    })?;
    let json = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(packed, MAX_JSON).map_err(
        |e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                format!("the snapshot is larger than {} MiB", MAX_JSON >> 20)
            }
            _ => format!(
                "the snapshot is truncated or damaged: its compressed data (zlib, checksummed) breaks after {} bytes",
                e.output.len()
            ),
        },
    )?;
    serde_json::from_slice(&json).map_err(|e| {
        format!(
            "the snapshot's contents are not a vmlab machine (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::assemble;
    use crate::protocol::{Until, ADVANCE_BUDGET};
    use crate::worker::session::Session;
    use emulator_core::FlatEntry;

    fn session(demo: &str, mode: ExecMode) -> Session {
        let d = crate::demos::find(demo).expect("demo exists");
        let p = assemble("demo.asm", d.source).expect("demo assembles");
        let program = Loaded {
            image: p.image.clone(),
            origin: p.origin,
            entry: p.entry.unwrap_or(FlatEntry::Protected32),
            setup: None,
            rom: false,
        };
        Session::new(program, mode).expect("loads")
    }

    /// A file saved mid-run loads into a machine in the same state, which then runs
    /// on exactly as the original does.
    fn round_trip(demo: &str, mode: ExecMode) {
        let mut s = session(demo, mode);
        for _ in 0..3 {
            s.step();
        }
        if mode != ExecMode::Bare {
            // Under a VMM: save with the VMM's records of a first exit in the machine.
            assert_eq!(
                s.advance(Until::Trap, ADVANCE_BUDGET),
                emulator_core::StopReason::Trap
            );
        }
        assert!(s.machine().icount() >= 3);
        let bytes = s.to_file().expect("saves");
        assert!(bytes.starts_with(MAGIC));
        let mut back = Session::from_file(&bytes).expect("loads");
        assert_eq!(back.mode(), mode);
        assert_eq!(back.machine().cpu(), s.machine().cpu());
        assert_eq!(back.machine().icount(), s.machine().icount());
        assert_eq!(back.machine().snapshot(), s.machine().snapshot());
        s.advance(Until::Stop, ADVANCE_BUDGET);
        back.advance(Until::Stop, ADVANCE_BUDGET);
        assert_eq!(back.machine().snapshot(), s.machine().snapshot());
        assert!(back.machine().icount() > 0);
    }

    #[test]
    fn a_saved_machine_loads_and_runs_on_the_same_bare_and_under_a_vmm() {
        round_trip("fetch-decode-execute", ExecMode::Bare);
        round_trip("trap-emulate", ExecMode::TRAP_EMULATE);
    }

    #[test]
    fn bad_files_are_refused_with_what_is_wrong() {
        let good = session("fetch-decode-execute", ExecMode::Bare)
            .to_file()
            .expect("saves");
        let err = |bytes: &[u8]| Session::from_file(bytes).expect_err("refused");
        assert!(err(b"").contains("not a vmlab machine snapshot"));
        assert!(err(b"{\"cpu\": 1}").contains("not a vmlab machine snapshot"));
        for cut in [MAGIC.len(), MAGIC.len() + 1, good.len() / 2, good.len() - 1] {
            let e = err(&good[..cut]);
            assert!(e.contains("truncated or damaged"), "cut at {cut}: {e}");
        }
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0xff;
        assert!(Session::from_file(&flipped).is_err());
        let mut not_a_machine = MAGIC.to_vec();
        not_a_machine.extend(miniz_oxide::deflate::compress_to_vec_zlib(
            b"{\"mode\": 3}",
            6,
        ));
        assert!(err(&not_a_machine).contains("not a vmlab machine (line 1"));
        // A machine of another size: the core refuses it.
        let file = decode(&good).expect("reads");
        let mut json = serde_json::to_value(&file).expect("json");
        json["machine"]["config"]["ram_mib"] = serde_json::json!(1);
        let mut small = MAGIC.to_vec();
        small.extend(miniz_oxide::deflate::compress_to_vec_zlib(
            json.to_string().as_bytes(),
            6,
        ));
        assert!(err(&small).contains("does not fit"), "{}", err(&small));
    }
}
