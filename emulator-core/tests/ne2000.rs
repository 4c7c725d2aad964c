//! The NE2000 guest (`guests/net/ne2000.asm`) against a `vmlab-net` endpoint stub,
//! bare and under trap-and-emulate, with a snapshot taken between the ARP reply and the
//! ping restored into a fresh machine that finishes the same way.

mod common;

use emulator_core::{ExecMode, Machine, MachineConfig, StopReason};
use vmlab_net::endpoint::respond;
use vmlab_net::{Ipv4Addr, MacAddr};

const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const STUB_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

fn machine(mode: ExecMode) -> Machine {
    let guest = common::assemble("guests/net/ne2000.asm", &[]);
    let mut m = common::flat32(
        MachineConfig {
            mode,
            ..MachineConfig::default()
        },
        &guest,
    );
    m.attach_ne2000(GUEST_MAC).expect("an NE2000");
    m
}

/// Runs `m` in slices with the stub answering, until it stops or `until` says so.
fn run(m: &mut Machine, until: impl Fn(&Machine) -> bool) -> StopReason {
    for _ in 0..400 {
        let stop = m.run(10_000);
        for frame in m.take_sent_frames() {
            if let Some(reply) = respond(MacAddr(STUB_MAC), Ipv4Addr([10, 0, 0, 1]), &frame) {
                m.deliver_frame(&reply);
            }
        }
        if stop != StopReason::BudgetExhausted || until(m) {
            return stop;
        }
    }
    StopReason::BudgetExhausted
}

fn console(m: &Machine) -> String {
    String::from_utf8_lossy(&m.serial_output()).to_string()
}

#[test]
fn a_snapshot_between_arp_and_ping_finishes_the_same_in_a_fresh_machine() {
    for mode in [ExecMode::Bare, ExecMode::TRAP_EMULATE] {
        let mut m = machine(mode);
        run(&mut m, |m| console(m).contains("ARP reply"));
        assert!(!console(&m).contains("ping reply"), "{}", console(&m));
        let snap = m.snapshot();
        let mut fresh = machine(mode);
        fresh.restore(&snap).expect("restores");
        assert_eq!(fresh.platform().ne2000(), m.platform().ne2000());
        let (a, b) = (run(&mut m, |_| false), run(&mut fresh, |_| false));
        assert_eq!((a, b), (StopReason::DebugExit(0), StopReason::DebugExit(0)));
        assert!(console(&m).ends_with("NE2000 OK\n"), "{}", console(&m));
        assert_eq!(console(&m), console(&fresh));
        let n = fresh.platform().ne2000().expect("the card");
        assert_eq!((n.sent, n.received, n.dropped), (2, 2, 0), "{mode:?}");
    }
}
