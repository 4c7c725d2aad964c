//! The CPU on a shared host: proportional shares by weight, caps, steal time, and what each time policy does to a descheduled guest's clock.

use vmlab_host::guest::Workload;
use vmlab_host::host::{HostConfig, CYCLES_PER_MS};
use vmlab_host::time::{tick_cycles, TimePolicy};
use vmlab_host::{Host, VmSpec};

fn busy(name: &str, weight: u32, cap: u32, tick_div: u32) -> VmSpec {
    let mut s = VmSpec::new(name, 4);
    s.weight = weight;
    s.cap = cap;
    s.workload = Workload {
        shared_pages: 8,
        private_pages: 8,
        dirty_pages: 0,
        work: 2000,
        tick_div,
    };
    s
}

#[test]
fn weights_two_to_one_give_two_to_one_cpu() {
    let mut host = Host::new(HostConfig {
        scan_per_slice: 0,
        ..HostConfig::default()
    });
    host.create(busy("heavy", 512, 0, 0)).unwrap();
    host.create(busy("light", 256, 0, 0)).unwrap();
    host.run_until(150 * CYCLES_PER_MS);
    let (h, l) = (&host.vms[0], &host.vms[1]);
    let ratio = h.cpu.run as f64 / l.cpu.run as f64;
    assert!((1.8..=2.2).contains(&ratio), "run ratio {ratio}");
    let work = f64::from(h.read_u32(h.image.work)) / f64::from(l.read_u32(l.image.work));
    assert!((1.8..=2.2).contains(&work), "work ratio {work}");
    assert_eq!(h.cpu.run + l.cpu.run, host.now, "the CPU never idled");
    assert_eq!(
        l.cpu.steal, h.cpu.run,
        "light's steal time is heavy's run time"
    );
}

#[test]
fn a_cap_holds_a_vm_below_its_share_and_the_cpu_idles() {
    let mut host = Host::new(HostConfig {
        scan_per_slice: 0,
        ..HostConfig::default()
    });
    host.create(busy("capped", 256, 25, 0)).unwrap();
    host.run_until(90 * CYCLES_PER_MS);
    let share = host.vms[0].cpu.run as f64 / host.now as f64;
    assert!((0.24..=0.26).contains(&share), "share {share}");
    assert!(host.idle > 0);
}

/// Three VMs with a 1 kHz guest clock and 5 ms slices under `policy`, for 120 ms.
fn clocks(policy: TimePolicy) -> Host {
    let mut host = Host::new(HostConfig {
        scan_per_slice: 0,
        time: policy,
        ..HostConfig::default()
    });
    host.config.sched.slice = 5 * CYCLES_PER_MS;
    for n in ["a", "b", "c"] {
        host.create(busy(n, 256, 0, 1193)).unwrap();
    }
    host.run_until(120 * CYCLES_PER_MS);
    host
}

#[test]
fn lost_ticks_make_the_guest_clock_drift() {
    let host = clocks(TimePolicy::LostTicks);
    let tick = tick_cycles(1193);
    for vm in &host.vms {
        let should = vm.tsc() / tick;
        let seen = u64::from(vm.guest_ticks());
        assert!(vm.cpu.ticks_missed > 20);
        assert!(
            seen * 10 < should * 6,
            "{}: {seen} ticks of {should}",
            vm.spec.name
        );
    }
}

#[test]
fn frozen_time_keeps_the_clock_with_the_tsc_but_behind_the_host() {
    let host = clocks(TimePolicy::Frozen);
    let tick = tick_cycles(1193);
    for vm in &host.vms {
        let seen = u64::from(vm.guest_ticks());
        assert!(seen.abs_diff(vm.tsc() / tick) <= 1, "{}", vm.spec.name);
        assert!(
            vm.tsc() * 2 < host.now,
            "{}: virtual time froze",
            vm.spec.name
        );
    }
}

#[test]
fn catch_up_ends_with_the_guest_clock_within_a_tick_of_virtual_time() {
    let host = clocks(TimePolicy::CatchUp);
    let tick = tick_cycles(1193);
    for vm in &host.vms {
        let seen = u64::from(vm.guest_ticks());
        assert!(vm.cpu.tsc_offset > 0);
        assert!(
            seen.abs_diff(vm.tsc() / tick) <= 1,
            "{}: {seen} vs {}",
            vm.spec.name,
            vm.tsc() / tick
        );
        // it was caught up when its last slice ended: only the others' slices since
        assert!(
            host.now - vm.tsc() <= 2 * host.config.sched.slice,
            "{}",
            vm.spec.name
        );
    }
    let last = host.vms.iter().max_by_key(|v| v.last_ran).unwrap();
    assert!(u64::from(last.guest_ticks()).abs_diff(host.now / tick) <= 1);
}
