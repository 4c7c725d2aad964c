//! Memory on a shared host: page sharing among identical guests, ballooning against host swapping.

use vmlab_host::guest::Workload;
use vmlab_host::host::{HostConfig, CYCLES_PER_MS};
use vmlab_host::{Host, VmSpec};

fn spec(name: &str, ram_mib: u32, shared: u32, private: u32) -> VmSpec {
    let mut s = VmSpec::new(name, ram_mib);
    s.workload = Workload {
        shared_pages: shared,
        private_pages: private,
        dirty_pages: 2,
        work: 500,
        tick_div: 0,
    };
    s
}

#[test]
fn four_identical_guests_share_more_than_half_their_memory() {
    let mut host = Host::new(HostConfig {
        scan_per_slice: 2048,
        ..HostConfig::default()
    });
    for i in 0..4 {
        host.create(spec(&format!("vm{i}"), 8, 1200, 64)).unwrap();
    }
    host.run_until(200 * CYCLES_PER_MS);
    let mut guest_pages = 0;
    let mut shared = 0;
    for vm in &host.vms {
        assert_eq!(
            vm.guest_filled_pages(),
            1264,
            "{} filled its cache",
            vm.spec.name
        );
        let c = vm.mem_counters();
        guest_pages += c.private + c.shared;
        shared += c.shared;
        assert!(
            vm.mem.share_breaks > 0,
            "the rewritten pages broke their shares"
        );
    }
    let in_use = vmlab_host::pool::frames_in_use(&host.vms);
    eprintln!("guest pages {guest_pages}, shared {shared}, host frames {in_use}");
    assert!(
        2 * shared > guest_pages,
        "more than half of the backed pages are shared"
    );
    assert!(
        2 * in_use < guest_pages,
        "the pool holds fewer than half as many frames"
    );
    // the guests still see their own contents: every shared page is the same bytes
    let a = host.vms[0].machine.snapshot();
    let b = host.vms[1].machine.snapshot();
    let page = 0x20_0000 + 5 * 4096;
    assert_eq!(a.ram()[page..page + 4096], b.ram()[page..page + 4096]);
    let private = 0x20_0000 + 1210 * 4096;
    assert_ne!(
        a.ram()[private..private + 4096],
        b.ram()[private..private + 4096]
    );
}

/// Two 8 MiB VMs on an 8 MiB pool: `a` fills its cache first, then `b` starts and
/// grows. Returns the host after 150 ms, with `a` ballooned to 4 MiB at 40 ms or not.
fn grow_beside(balloon: bool) -> Host {
    let mut host = Host::new(HostConfig {
        pool_mib: 8,
        scan_per_slice: 0,
        ..HostConfig::default()
    });
    host.create(spec("a", 8, 0, 1200)).unwrap();
    host.create(spec("b", 8, 0, 1200)).unwrap();
    host.pause("b").unwrap();
    host.run_until(40 * CYCLES_PER_MS);
    assert_eq!(
        host.vms[0].guest_filled_pages(),
        1200,
        "a filled its cache alone"
    );
    if balloon {
        host.balloon("a", 4).unwrap();
    }
    host.run_until(45 * CYCLES_PER_MS);
    host.resume("b").unwrap();
    host.run_until(150 * CYCLES_PER_MS);
    assert_eq!(
        host.vms[1].guest_filled_pages(),
        1200,
        "b grew to its full cache"
    );
    host
}

#[test]
fn ballooning_one_vm_lets_another_grow_without_host_swapping() {
    let host = grow_beside(true);
    let a = &host.vms[0];
    assert_eq!(a.guest_balloon(), 1024, "a's driver holds the 4 MiB target");
    assert!(a.mem_counters().ballooned >= 1000);
    assert!(
        a.guest_filled_pages() < 300,
        "a gave up the top of its cache"
    );
    for vm in &host.vms {
        assert_eq!(vm.mem.swap_outs, 0, "{} was never swapped", vm.spec.name);
    }
    assert!(host.peak_frames <= host.pool_frames());
}

#[test]
fn without_the_balloon_the_host_swaps() {
    let host = grow_beside(false);
    let swapped: u64 = host.vms.iter().map(|v| v.mem.swap_outs).sum();
    let back: u64 = host.vms.iter().map(|v| v.mem.swap_ins).sum();
    assert!(swapped > 100, "the host swapped {swapped} pages");
    assert!(back > 0, "and read them back before the VM ran again");
    assert_eq!(
        host.vms[0].guest_filled_pages(),
        1200,
        "a kept its cache, in swap"
    );
}

#[test]
fn pause_snapshot_and_destroy_through_the_life_cycle() {
    let mut host = Host::new(HostConfig::default());
    host.create(spec("a", 4, 64, 64)).unwrap();
    host.create(spec("b", 4, 64, 64)).unwrap();
    assert!(host.create(spec("a", 4, 1, 1)).is_err(), "names are unique");
    host.run_until(10 * CYCLES_PER_MS);
    host.pause("a").unwrap();
    let frozen = host.vms[0].machine.icount();
    let (steal, b_ran) = (host.vms[0].cpu.steal, host.vms[1].cpu.run);
    host.run_until(15 * CYCLES_PER_MS);
    assert_eq!(
        host.vms[0].machine.icount(),
        frozen,
        "a paused VM does not run"
    );
    assert_eq!(host.vms[0].cpu.steal, steal, "nor does it wait for the CPU");
    assert_eq!(
        host.vms[1].cpu.run - b_ran,
        5 * CYCLES_PER_MS,
        "b had the CPU"
    );
    let bytes = host.snapshot("a").unwrap();
    assert_eq!(bytes, 4 << 20);
    let snap = host.vms[0].snapshots[0].clone();
    host.resume("a").unwrap();
    host.run_until(20 * CYCLES_PER_MS);
    assert!(host.vms[0].machine.icount() > frozen);
    host.vms[0].machine.restore(&snap).unwrap();
    assert_eq!(host.vms[0].machine.icount(), frozen, "back to the snapshot");
    let before = vmlab_host::pool::frames_in_use(&host.vms);
    host.destroy("b").unwrap();
    let after = vmlab_host::pool::frames_in_use(&host.vms);
    assert!(
        after + 100 < before,
        "b's frames went back: {before} -> {after}"
    );
    assert!(host.pause("b").is_err(), "a destroyed VM is gone");
    let b_ran = host.vms[1].cpu.run;
    host.run_until(25 * CYCLES_PER_MS);
    assert_eq!(host.vms[1].cpu.run, b_ran, "a destroyed VM does not run");
    assert_eq!(host.vms[0].cpu.run + b_ran, host.now, "a had the CPU");
}
