//! The lab's TSC panel data: the TSC synchronization check under a host slice with
//! the drifting policy shows each vCPU's offset and the drift, and finds the warp; the
//! synchronized policy, chosen from the options, passes.

use emulator_core::smp::{HostSchedule, TscPolicy};
use emulator_core::ExecMode;
use lab_ui::protocol::{Until, ADVANCE_BUDGET};
use lab_ui::smp::Smp;
use lab_ui::worker::session::{Loaded, Session};

/// `guests/smp/tsc_sync.asm` with its SMP include written in (the lab resolves only
/// the shared `pc.inc`).
fn tsc_sync() -> Loaded {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/smp");
    let src = std::fs::read_to_string(dir.join("tsc_sync.asm")).expect("the guest");
    let inc = std::fs::read_to_string(dir.join("smp.inc")).expect("smp.inc");
    let src = src.replace("%include \"smp.inc\"", &inc);
    let p = lab_ui::assemble::assemble("tsc_sync.asm", &src).expect("assembles");
    Loaded {
        image: p.image,
        origin: p.origin,
        entry: p.entry.unwrap_or(emulator_core::FlatEntry::Protected32),
        setup: None,
        rom: false,
    }
}

#[test]
fn the_panel_shows_the_drift_and_the_guest_finds_the_warp() {
    let drift = Smp {
        cpus: 4,
        quantum: 20,
        host: HostSchedule {
            slice: 2000,
            ..HostSchedule::default()
        },
        tsc: TscPolicy::Drift,
    };
    let mut s = Session::with_smp(tsc_sync(), ExecMode::HW_ASSIST, drift).expect("loads");
    s.advance(Until::Stop, ADVANCE_BUDGET * 20);
    let v = s.view(false);
    assert_eq!(v.stop, "halted", "{}", v.serial_append);
    assert!(
        v.serial_append.contains("TSC unsynchronized, warp "),
        "{}",
        v.serial_append
    );
    assert_eq!(v.smp.options, drift, "the options show the machine's");
    let tscs: Vec<u64> = v.smp.cpus.iter().map(|c| c.tsc.tsc).collect();
    let spread = tscs.iter().max().unwrap() - tscs.iter().min().unwrap();
    assert!(spread > 0 && v.smp.tsc_drift == spread, "{tscs:?}");
    assert!(v.smp.cpus.iter().all(|c| c.tsc.offset < 0));

    // the synchronized policy reloads the program; the check passes
    let sync = Smp {
        tsc: TscPolicy::Sync,
        ..drift
    };
    s.set_smp(sync).expect("reloads");
    s.advance(Until::Stop, ADVANCE_BUDGET * 20);
    let v = s.view(false);
    assert!(
        v.serial_append.contains("TSC synchronized"),
        "{}",
        v.serial_append
    );
    assert_eq!((v.smp.options, v.smp.tsc_drift), (sync, 0));
    assert!(v.smp.cpus.iter().all(|c| c.tsc.offset == 0));
    // bare: one clock, whatever the options say
    s.reload(ExecMode::Bare).expect("reloads");
    let v = s.view(false);
    assert_eq!(
        (v.smp.options.tsc, v.smp.options.host.slice),
        (TscPolicy::Sync, 0)
    );
}
