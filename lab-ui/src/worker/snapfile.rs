//! The machine file the lab saves and loads: the loaded program, its mode and the
//! core's [`Snapshot`], as zlib-compressed bincode behind a one-line header.
//!
//! bincode is the worker's message encoding (gloo-worker's codec), so the file reuses the
//! decoders the lab already carries instead of adding a JSON reader for every state type.

use emulator_core::{ExecMode, Snapshot};
use serde::{Deserialize, Serialize};

use super::session::Loaded;

/// The file's first line: names the format and its version.
pub const MAGIC: &[u8] = b"vmlab-snapshot 2\n";
/// The name the lab offers for a saved machine.
pub const FILE_NAME: &str = "machine.vmlab-snapshot";
/// The most a file may inflate to (a 16 MiB machine is a little over 16 MiB of it).
const MAX_STATE: usize = 64 << 20;

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
    let state =
        bincode::serialize(file).map_err(|e| format!("could not write the snapshot: {e}"))?;
    let mut out = MAGIC.to_vec();
    out.extend(miniz_oxide::deflate::compress_to_vec_zlib(&state, 6));
    Ok(out)
}

/// Reads a machine file; the error says what is wrong with it.
pub fn decode(bytes: &[u8]) -> Result<MachineFile, String> {
    let packed = bytes.strip_prefix(MAGIC).ok_or_else(|| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(20)]).into_owned();
        format!(
            "not a vmlab machine snapshot: it should start with `vmlab-snapshot 2`, it starts with {shown:?}"
        )
    })?;
    let state = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(packed, MAX_STATE).map_err(
        |e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                format!("the snapshot is larger than {} MiB", MAX_STATE >> 20)
            }
            _ => format!(
                "the snapshot is truncated or damaged: its compressed data (zlib, checksummed) breaks after {} bytes",
                e.output.len()
            ),
        },
    )?;
    read(&state)
}

/// Reads a machine from the inflated contents.
fn read(state: &[u8]) -> Result<MachineFile, String> {
    let file: MachineFile = bincode::deserialize(state)
        .map_err(|e| format!("the snapshot's contents are not a vmlab machine: {e}"))?;
    // The encoding is positional: bytes past the machine mean a file of another layout.
    let used = bincode::serialized_size(&file).unwrap_or(0);
    if used != state.len() as u64 {
        return Err(format!(
            "the snapshot's contents are not a vmlab machine: {} bytes follow the machine",
            state.len() as u64 - used.min(state.len() as u64)
        ));
    }
    Ok(file)
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
        assert!(err(&not_a_machine).contains("not a vmlab machine"));
        // The machine, then more: refused rather than read half-way.
        let mut state = bincode::serialize(&decode(&good).expect("reads")).expect("encodes");
        state.extend([0; 3]);
        let mut longer = MAGIC.to_vec();
        longer.extend(miniz_oxide::deflate::compress_to_vec_zlib(&state, 6));
        assert!(
            err(&longer).contains("3 bytes follow the machine"),
            "{}",
            err(&longer)
        );
        // The older JSON format is named as another format.
        let mut old = b"vmlab-snapshot 1\n".to_vec();
        old.extend_from_slice(&good[MAGIC.len()..]);
        assert!(err(&old).contains("vmlab-snapshot 2"), "{}", err(&old));
        // A machine of another size: the core refuses it.
        let mut file = decode(&good).expect("reads");
        file.machine = one_mib_machine();
        let small = encode(&file).expect("saves");
        assert!(err(&small).contains("does not fit"), "{}", err(&small));
    }

    /// The snapshot of a fresh 1 MiB machine (the lab's machines have 16 MiB).
    fn one_mib_machine() -> Snapshot {
        emulator_core::Machine::new(emulator_core::MachineConfig {
            ram_mib: 1,
            ..Default::default()
        })
        .expect("a 1 MiB machine")
        .snapshot()
    }

    /// Damaged contents (a byte changed, lengths and tags included) are read or
    /// refused, never a panic; what reads is then restored or refused by the core.
    #[test]
    fn damaged_contents_are_read_or_refused_without_a_panic() {
        let good = session("fetch-decode-execute", ExecMode::Bare)
            .to_file()
            .expect("saves");
        // A 1 MiB machine keeps the contents small (the lab's refuses it on restore).
        let mut file = decode(&good).expect("reads");
        file.machine = one_mib_machine();
        let state = bincode::serialize(&file).expect("encodes");
        let (mut refused, mut restored, mut x) = (0, 0, 0x2545_f491_u32);
        // The first bytes hold the program, the mode, the configuration and the CPU.
        let places = (0..320).chain((320..state.len()).step_by(state.len() / 24));
        for at in places {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut bad = state.clone();
            bad[at] ^= (x as u8) | 1;
            match read(&bad) {
                Err(e) => {
                    assert!(e.starts_with("the snapshot's contents"), "{e}");
                    refused += 1;
                }
                // A sample of what reads goes on to the core.
                Ok(file) if restored < 8 => {
                    restored += 1;
                    let _ = Session::from_file(&encode(&file).expect("saves"));
                }
                Ok(_) => {}
            }
        }
        assert!(refused > 0, "some damage must be refused");
    }
}
