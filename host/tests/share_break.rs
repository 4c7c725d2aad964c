//! Page sharing through the P2M: merged frames of four identical guests point at one machine frame, write-protected; one guest's store to it takes exactly one share-break exit and moves only its own entry, under nested paging and under shadow paging.

use emulator_core::events::EventKind;
use emulator_core::vmm::p2m::flags;
use emulator_core::vmm::ExitReason;
use emulator_core::{ExecMode, GuestPaging};
use vmlab_host::guest::{self, Workload};
use vmlab_host::host::{HostConfig, CYCLES_PER_MS};
use vmlab_host::{Host, Vm, VmSpec};

/// The page the test guest writes (the sixth page of its shared cache).
const WRITE_AT: u32 = guest::REGION_START + 5 * 4096;

/// The framework guest with a balloon step of its own: every round it reads the
/// word at `WRITE_AT`; once the host sets a balloon target it adds 1 to it, once.
const SOURCE: &str = r#"
%include "balloon_guest.inc"
WRITE_AT equ REGION_START + 5 * 4096
DONE     equ 0x8000

balloon_step:
    mov eax, [WRITE_AT]
    cmp dword [DONE], 0
    jne .done
    mov eax, HC_BALLOON_TARGET
    vmcall
    test eax, eax
    jz .done
    add dword [WRITE_AT], 1
    mov dword [DONE], 1
.done:
    ret
"#;

fn four(mode: ExecMode) -> Host {
    let mut host = Host::new(HostConfig {
        scan_per_slice: 2048,
        ..HostConfig::default()
    });
    let w = Workload {
        shared_pages: 64,
        private_pages: 16,
        dirty_pages: 0,
        work: 500,
        tick_div: 0,
    };
    for i in 0..4 {
        let mut spec = VmSpec::new(&format!("vm{i}"), 4);
        spec.mode = mode;
        spec.workload = w.clone();
        let image =
            guest::assemble_source("share.asm", SOURCE, &w, host.next_id(), 4, false).unwrap();
        host.create_with_image(spec, image).unwrap();
    }
    host
}

fn breaks(vm: &Vm) -> u64 {
    vm.machine
        .vmm()
        .map_or(0, |v| v.exits.count(ExitReason::ShareBreak))
}

/// The fill value of the first word of cache page `gfn` (balloon_guest.inc).
fn filled(gfn: u32) -> u32 {
    gfn.wrapping_mul(0x9e37_79b1) | 1
}

fn one_write_breaks_one_share(mode: ExecMode) {
    let mut host = four(mode);
    host.run_until(60 * CYCLES_PER_MS);
    let gfn = WRITE_AT >> 12;
    let mut guest_pages = 0;
    let mut shared = 0;
    for vm in &host.vms {
        assert_eq!(
            vm.guest_filled_pages(),
            80,
            "{mode:?}: {} filled",
            vm.spec.name
        );
        let c = vm.mem_counters();
        guest_pages += c.private + c.shared;
        shared += c.shared;
    }
    assert!(
        2 * shared > guest_pages,
        "{mode:?}: more than half of the pages are shared ({shared} of {guest_pages})"
    );
    let entry = |host: &Host, i: usize| host.vms[i].machine.vmm().unwrap().p2m().entry(gfn);
    let s = entry(&host, 0);
    assert_eq!(s.flags, flags::SHARED | flags::WRITE_PROTECT, "{mode:?}");
    for i in 1..4 {
        assert_eq!(
            entry(&host, i),
            s,
            "{mode:?}: vm{i} holds the same machine frame"
        );
    }
    let homes: Vec<u32> = (0..4)
        .map(|i| host.vms[i].machine.vmm().unwrap().p2m().home(gfn))
        .collect();
    assert!(
        homes.windows(2).all(|w| w[0] != w[1]) && !homes.contains(&s.machine),
        "{mode:?}: each VM's own frames differ, and from the shared one: {homes:x?} {:#x}",
        s.machine
    );
    // no more merging: what breaks now stays broken
    host.config.scan_per_slice = 0;
    host.run_until(70 * CYCLES_PER_MS);
    let before: Vec<u64> = host.vms.iter().map(breaks).collect();
    host.run_until(80 * CYCLES_PER_MS);
    let reads: Vec<u64> = host.vms.iter().map(breaks).collect();
    assert_eq!(
        reads, before,
        "{mode:?}: reading the shared page takes no exit"
    );
    assert_eq!(entry(&host, 0), s, "{mode:?}: still shared after reads");
    // vm0 alone writes the page, in a run of its own
    host.balloon("vm0", 1).unwrap();
    let seen = host.vms[0].machine.events().total();
    for _ in 0..100 {
        if breaks(&host.vms[0]) > before[0] {
            break;
        }
        host.vms[0].machine.run(1000);
    }
    let vm0 = &host.vms[0];
    assert_eq!(breaks(vm0), before[0] + 1, "{mode:?}: one share-break exit");
    let logged: Vec<String> = vm0
        .machine
        .events()
        .since(seen)
        .filter_map(|e| match &e.kind {
            EventKind::VmExit {
                reason: ExitReason::ShareBreak,
                action,
                ..
            } => Some(action.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(logged.len(), 1, "{mode:?}: {logged:?}");
    assert!(
        logged[0].contains(&format!("guest frame {gfn:#x}")),
        "{mode:?}: {logged:?}"
    );
    host.run_until(90 * CYCLES_PER_MS);
    assert_eq!(
        breaks(&host.vms[0]),
        before[0] + 1,
        "{mode:?}: later writes to the page are the VM's own"
    );
    let mine = entry(&host, 0);
    assert_eq!(mine.flags, 0, "{mode:?}");
    assert_eq!(mine.machine, homes[0], "{mode:?}: back in vm0's own frame");
    for (i, &was) in before.iter().enumerate().skip(1) {
        assert_eq!(entry(&host, i), s, "{mode:?}: vm{i} still shares");
        assert_eq!(breaks(&host.vms[i]), was, "{mode:?}: vm{i} took no break");
        assert_eq!(host.vms[i].read_u32(WRITE_AT), filled(gfn), "{mode:?}");
        assert_eq!(
            host.vms[i].machine.host_physical(WRITE_AT),
            Some(s.machine << 12),
            "{mode:?}: vm{i}'s translation is the shared frame"
        );
    }
    assert_eq!(host.vms[0].read_u32(WRITE_AT), filled(gfn) + 1, "{mode:?}");
    assert_eq!(
        host.vms[0].machine.host_physical(WRITE_AT),
        Some(homes[0] << 12),
        "{mode:?}"
    );
    assert_eq!(host.vms[0].mem.share_breaks, breaks(&host.vms[0]));
}

#[test]
fn a_write_under_nested_paging_breaks_one_share_by_exit() {
    one_write_breaks_one_share(ExecMode::HW_ASSIST);
}

#[test]
fn a_write_under_shadow_paging_breaks_one_share_by_exit() {
    one_write_breaks_one_share(ExecMode::TRAP_EMULATE);
    one_write_breaks_one_share(ExecMode::HwAssist {
        paging: GuestPaging::Shadow,
    });
}
