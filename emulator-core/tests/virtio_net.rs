//! The virtio-net guest (`guests/net/virtio_net.asm`) against a `vmlab-net` endpoint
//! stub (10.0.0.1): it ARPs for the stub and pings it, bare and under trap-and-emulate;
//! the frames both ways go to a pcap file that `tcpdump -r` reads back.

mod common;

use std::process::Command;

use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};
use vmlab_net::endpoint::respond;
use vmlab_net::pcap::PcapWriter;
use vmlab_net::{Ipv4Addr, MacAddr};

const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const STUB_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

/// Runs the guest with the stub answering its frames: (stop, console, capture).
fn ping(mode: ExecMode) -> (StopReason, String, PcapWriter) {
    let guest = common::assemble("guests/net/virtio_net.asm", &[]);
    let mut m = common::flat32(
        MachineConfig {
            mode,
            ..MachineConfig::default()
        },
        &guest,
    );
    m.attach_virtio_net(GUEST_MAC).expect("a NIC");
    let mut pcap = PcapWriter::new();
    let mut stop = StopReason::BudgetExhausted;
    for slice in 0..2000u64 {
        stop = m.run(10_000);
        for frame in m.take_sent_frames() {
            pcap.record(slice * 100, &frame);
            if let Some(reply) = respond(MacAddr(STUB_MAC), Ipv4Addr([10, 0, 0, 1]), &frame) {
                pcap.record(slice * 100 + 50, &reply);
                m.deliver_frame(&reply);
            }
        }
        if stop != StopReason::BudgetExhausted {
            break;
        }
    }
    let console = String::from_utf8_lossy(&m.serial_output()).to_string();
    let v = m.platform().virtio_net().expect("the NIC");
    assert_eq!((v.sent, v.received, v.dropped), (2, 2, 0), "{console}");
    assert_eq!(v.transport.error, None);
    (stop, console, pcap)
}

#[test]
fn the_guest_pings_the_stub_and_tcpdump_reads_the_capture() {
    for mode in [ExecMode::Bare, ExecMode::TRAP_EMULATE] {
        let (stop, console, pcap) = ping(mode);
        assert_eq!(stop, StopReason::DebugExit(0), "{mode:?}:\n{console}");
        for line in [
            "MAC 525400123456",
            "ARP reply: 10.0.0.1 is at 020000000001",
            "ping reply from 10.0.0.1",
            "virtio-net OK",
        ] {
            assert!(console.contains(line), "{mode:?}: {line}\n{console}");
        }
        assert_eq!(pcap.records(), 4);
        let dir = std::env::temp_dir().join(format!("vmlab-virtio-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("guest.pcap");
        std::fs::write(&path, pcap.bytes()).expect("write pcap");
        let out = Command::new("tcpdump")
            .arg("-r")
            .arg(&path)
            .args(["-nn", "-e"])
            .output()
            .expect("tcpdump must be installed (cargo xtask test installs it)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        for (line, want) in lines.iter().zip([
            "52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.0.0.1 tell 10.0.0.2",
            "02:00:00:00:00:01 > 52:54:00:12:34:56, ethertype ARP (0x0806), length 42: Reply 10.0.0.1 is-at 02:00:00:00:00:01",
            "52:54:00:12:34:56 > 02:00:00:00:00:01, ethertype IPv4 (0x0800), length 50: 10.0.0.2 > 10.0.0.1: ICMP echo request, id 4660, seq 1, length 16",
            "02:00:00:00:00:01 > 52:54:00:12:34:56, ethertype IPv4 (0x0800), length 50: 10.0.0.1 > 10.0.0.2: ICMP echo reply, id 4660, seq 1, length 16",
        ]) {
            assert!(line.contains(want), "{mode:?}: {line}\nwanted {want}");
        }
    }
}

#[test]
fn a_hostile_transmit_chain_stops_the_device_and_frames_wait_for_buffers() {
    let mut m = Machine::new(MachineConfig::default()).expect("a machine");
    m.attach_virtio_net(GUEST_MAC).expect("a NIC");
    // No receive buffers: a delivered frame waits, nothing is written.
    m.deliver_frame(&[0u8; 60]);
    let v = m.platform().virtio_net().expect("the NIC");
    assert_eq!((v.to_guest.len(), v.received), (1, 0));
    // The guest sets the transmit queue at 0x32000 with a chain that loops (0 → 0).
    let mut ring = vec![0u8; 0x2000];
    ring[0..4].copy_from_slice(&0x40000u32.to_le_bytes());
    ring[8..12].copy_from_slice(&64u32.to_le_bytes());
    ring[12..14].copy_from_slice(&1u16.to_le_bytes());
    ring[1024 + 2..1024 + 4].copy_from_slice(&1u16.to_le_bytes());
    m.write_phys(0x32000, &ring).expect("ring");
    let src = "bits 32\norg 0x10000\n\
         mov eax, 0x80002004\nmov dx, 0xcf8\nout dx, eax\nmov dx, 0xcfc\nmov eax, 5\nout dx, eax\n\
         mov dx, 0xc092\nmov al, 3\nout dx, al\n\
         mov dx, 0xc08e\nmov ax, 1\nout dx, ax\nmov dx, 0xc088\nmov eax, 0x32\nout dx, eax\n\
         mov dx, 0xc092\nmov al, 7\nout dx, al\nmov dx, 0xc090\nmov ax, 1\nout dx, ax\n\
         mov dx, 0xf4\nmov al, 0\nout dx, al\nhlt\n";
    let code = vmlab_asm::assemble("t.asm", src, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes;
    m.load_flat(0x10000, &code, FlatEntry::Protected32)
        .expect("loads");
    assert_eq!(m.run(1_000_000), StopReason::DebugExit(0));
    let v = m.platform().virtio_net().expect("the NIC");
    let e = v.transport.error.clone().unwrap_or_default();
    assert!(e.contains("queue 1") && e.contains("loop"), "{e}");
    assert_eq!((v.sent, v.to_host.len()), (0, 0));
}

#[test]
fn random_rings_never_panic_or_hang() {
    // Sets both queues up (receive at 0x30000, transmit at 0x32000), then forever
    // fills both ring areas with random bytes and notifies both queues, until the
    // device reports NEEDS_RESET.
    let guest = |seed: u32| -> Vec<u8> {
        let src = format!(
            "bits 32\norg 0x10000\n\
             mov eax, 0x80002004\nmov dx, 0xcf8\nout dx, eax\nmov dx, 0xcfc\nmov eax, 5\nout dx, eax\n\
             mov dx, 0xc092\nmov al, 3\nout dx, al\n\
             mov dx, 0xc08e\nmov ax, 0\nout dx, ax\nmov dx, 0xc088\nmov eax, 0x30\nout dx, eax\n\
             mov dx, 0xc08e\nmov ax, 1\nout dx, ax\nmov dx, 0xc088\nmov eax, 0x32\nout dx, eax\n\
             mov dx, 0xc092\nmov al, 7\nout dx, al\n\
             mov ebx, {seed}\n\
             round:\nmov edi, 0x30000\nmov ecx, 0x4000\n\
             fill:\nimul ebx, ebx, 1103515245\nadd ebx, 12345\nmov eax, ebx\nshr eax, 16\nmov [edi], al\ninc edi\nloop fill\n\
             mov dx, 0xc090\nxor eax, eax\nout dx, ax\ninc eax\nout dx, ax\n\
             mov dx, 0xc092\nin al, dx\ntest al, 0x40\njz round\n\
             mov dx, 0xf4\nmov al, 0\nout dx, al\nhlt\n"
        );
        vmlab_asm::assemble("hostile.asm", &src, &vmlab_asm::Options::default())
            .expect("assembles")
            .bytes
    };
    let mut rng = common::Rng(0x7e7);
    let mut stopped = 0;
    for _ in 0..16 {
        let mut m = Machine::new(MachineConfig::default()).expect("a machine");
        m.attach_virtio_net(GUEST_MAC).expect("a NIC");
        let seed = rng.next() as u32;
        m.load_flat(0x10000, &guest(seed), FlatEntry::Protected32)
            .expect("loads");
        let mut stop = StopReason::BudgetExhausted;
        for _ in 0..40 {
            m.deliver_frame(&[0x5a; 60]);
            stop = m.run(500_000);
            m.take_sent_frames();
            if stop != StopReason::BudgetExhausted {
                break;
            }
        }
        let v = m.platform().virtio_net().expect("the NIC");
        assert!(v.to_guest.len() <= 64, "frames held are bounded");
        if stop == StopReason::DebugExit(0) {
            stopped += 1;
            assert!(v.transport.error.is_some(), "seed {seed}");
        } else {
            assert_eq!(stop, StopReason::BudgetExhausted, "seed {seed}");
        }
    }
    assert!(
        stopped > 8,
        "random rings are mostly refused: {stopped} of 16"
    );
}
