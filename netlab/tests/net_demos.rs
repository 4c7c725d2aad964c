//! Every network demo played step by step with the machines running: each claim holds, and a wrong claim is caught.

use vmlab_demos::manifest::kind_host::Claim;
use vmlab_netlab::demo;

#[test]
fn every_network_demo_step_holds_its_claims() {
    let demos = demo::all();
    let ids: Vec<&str> = demos.iter().map(|d| d.id).collect();
    assert_eq!(ids, ["two-vms-ping", "vxlan-overlay", "flow-rule"]);
    for d in demos {
        let mut lab = demo::start(d).unwrap_or_else(|e| panic!("{}: {e}", d.id));
        for (i, s) in d.steps().iter().enumerate() {
            let n = s.net.as_ref().expect("a net step");
            demo::step(&mut lab, n).unwrap_or_else(|e| panic!("{} step {i}: {e}", d.id));
            for c in demo::check(&lab, n) {
                assert!(
                    c.holds,
                    "{} step {i} ({}): {} reads {:?} at tick {}",
                    d.id,
                    s.title,
                    c.figure,
                    c.shown,
                    lab.now()
                );
            }
        }
    }
}

#[test]
fn a_wrong_claim_or_an_unknown_figure_fails() {
    let d = demo::find("flow-rule").expect("the demo");
    let mut lab = demo::start(d).expect("starts");
    let mut step = d.steps()[0].net.clone().expect("a net step");
    demo::step(&mut lab, &step).expect("runs");
    step.expect.clear();
    step.expect
        .insert("flow.sw0.count".into(), Claim::Is("1".into()));
    step.expect
        .insert("mac.nosuch.count".into(), Claim::Is("0".into()));
    let checked = demo::check(&lab, &step);
    assert!(checked.iter().all(|c| !c.holds), "{checked:?}");
    step.to_event = Some("no frame says this".into());
    let e = demo::step(&mut lab, &step).unwrap_err();
    assert!(e.contains("did not happen by tick 400"), "{e}");
    let (lab, checked) = demo::play(d, 2).expect("plays");
    assert_eq!(
        lab.now(),
        107,
        "to the first echo reply, 3 ticks, 100 ticks"
    );
    assert!(
        checked.iter().all(|c| c.holds) && checked.len() == 4,
        "{checked:?}"
    );
    assert!(lab.image("a").is_some_and(|i| !i.is_empty()) && lab.image("z").is_none());
}

#[test]
fn the_lab_pcap_of_a_port_holds_the_frames_it_summarises() {
    let d = demo::find("vxlan-overlay").expect("the demo");
    let mut lab = demo::start(d).expect("starts");
    lab.step(50).expect("runs");
    let bytes = lab.pcap("vtep1:1").expect("every port is captured");
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    let frames = vmlab_net::pcap::read(bytes).expect("reads back");
    assert_eq!(frames.len(), 20, "ten datagrams each way");
    let last = lab.last_frames("vtep1:1", 3);
    assert_eq!(last.len(), 3);
    assert!(
        last.iter().all(|(_, s)| s.contains(".4789 UDP")),
        "{last:?}"
    );
    assert_eq!(lab.pcap("nosuch:0"), None);
    if std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok()
    {
        let file = std::env::temp_dir().join(format!("netlab-{}.pcap", std::process::id()));
        std::fs::write(&file, bytes).expect("writes");
        let out = std::process::Command::new("tcpdump")
            .args(["-nn", "-r"])
            .arg(&file)
            .output()
            .expect("tcpdump runs");
        let _ = std::fs::remove_file(&file);
        let text = String::from_utf8_lossy(&out.stdout);
        let vxlan = text
            .lines()
            .filter(|l| l.contains("VXLAN, flags [I] (0x08), vni 42"));
        assert_eq!(vxlan.count(), 20, "{text}");
        assert!(text.contains("ICMP echo request"), "{text}");
    }
}
